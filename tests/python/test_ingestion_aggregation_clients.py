"""Black-box tests of gouji-ingestion and gouji-aggregation through Python grpcio and grpcurl.

Starts the three real binaries (validation, ingestion on a SQLite file, aggregation) on loopback ports,
registers a unit, submits seed S0 and reads it back, and checks that malformed requests come back
INVALID_ARGUMENT with google.rpc.BadRequest field details.
"""

from __future__ import annotations

import json
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gouji_support import find_tool, require_binary, start_service
from test_validation_client import bad_amount_report, bad_request_fields, names_field

TIMEOUT = 120  # a whole document parsed and validated on a debug build
INGESTION_SERVICE = "gouji.ingestion.v1.IngestionService"
AGGREGATION_SERVICE = "gouji.aggregation.v1.AggregationService"


@pytest.fixture(scope="module")
def ingestion_server(validation_server, service_logs, tmp_path_factory, credentials):
    require_binary("gouji-ingestion")
    db = tmp_path_factory.mktemp("ingestion-db") / "gouji.db"
    server = start_service(
        "gouji-ingestion",
        ["--database-url", f"sqlite:{db}", "--validation-url", f"https://{validation_server.address}"],
        grpc_service=INGESTION_SERVICE,
        log_dir=service_logs,
        credentials=credentials,
    )
    yield server
    assert server.stop() == 0, server.stderr_tail()


@pytest.fixture(scope="module")
def aggregation_server(validation_server, ingestion_server, service_logs, credentials):
    require_binary("gouji-aggregation")
    server = start_service(
        "gouji-aggregation",
        [
            "--ingestion-url",
            f"https://{ingestion_server.address}",
            "--validation-url",
            f"https://{validation_server.address}",
        ],
        grpc_service=AGGREGATION_SERVICE,
        log_dir=service_logs,
        credentials=credentials,
    )
    yield server
    assert server.stop() == 0, server.stderr_tail()


@pytest.fixture(scope="module")
def ingestion_stub(pb, ingestion_server, credentials):
    """As the province (registers departments, submits and reads everything), over TLS."""
    with credentials.channel(ingestion_server.address, credentials.token("province")) as channel:
        yield pb.ingestion_grpc.IngestionServiceStub(channel)


@pytest.fixture(scope="module")
def registered(pb, ingestion_stub):
    """宁强县医疗保障局 (本级, 行政) with one 二级 unit (事业)."""
    Unit = pb.ingestion_pb2.Unit
    for unit in (
        Unit(code="610726", name="宁强县医疗保障局", unit_type=pb.report_pb2.UNIT_TYPE_ADMINISTRATIVE),
        Unit(
            code="610726002",
            name="宁强县医疗保险业务经办中心",
            unit_type=pb.report_pb2.UNIT_TYPE_INSTITUTION,
            parent_code="610726",
        ),
    ):
        ingestion_stub.RegisterUnit(pb.ingestion_pb2.RegisterUnitRequest(unit=unit), timeout=TIMEOUT)
    return "610726002"


def test_services_report_serving(ingestion_server, aggregation_server, credentials):
    for server, name in ((ingestion_server, INGESTION_SERVICE), (aggregation_server, AGGREGATION_SERVICE)):
        with credentials.channel(server.address, None) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_submit_seed_and_read_it_back(pb, ingestion_stub, registered, seed_s0):
    request = pb.ingestion_pb2.SubmitReportRequest(
        unit_code=registered,
        year=2024,
        kind=pb.report_pb2.REPORT_KIND_FINAL_ACCOUNTS,
        document=seed_s0.read_bytes(),
    )
    first = ingestion_stub.SubmitReport(request, timeout=TIMEOUT)
    assert first.revision == 1 and not first.replayed
    assert first.validation_state == pb.ingestion_pb2.VALIDATION_STATE_VALIDATED
    again = ingestion_stub.SubmitReport(request, timeout=TIMEOUT)
    assert again.replayed and again.revision == 1, "the same content is a replay, not a new revision"

    stored = ingestion_stub.GetReport(
        pb.ingestion_pb2.GetReportRequest(
            unit_code=registered, year=2024, kind=pb.report_pb2.REPORT_KIND_FINAL_ACCOUNTS
        ),
        timeout=TIMEOUT,
    )
    assert stored.report.subject == "柳林县医疗保险服务中心"
    labour = [f for f in stored.findings if f.rule_id == "NR-01" and f.actual == "19.92"]
    assert len(labour) == 1 and labour[0].expected == "19.52"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"unit_code": "999999", "year": 2024, "kind": 2, "document": b"x"}, "unit_code"),
        ({"unit_code": "610726002", "year": 1800, "kind": 2, "document": b"x"}, "year"),
        ({"unit_code": "610726002", "year": 2024, "kind": 2, "document": b""}, "document"),
    ],
    ids=["unknown-unit", "year-out-of-range", "empty-document"],
)
def test_bad_submissions_are_invalid_argument(pb, ingestion_stub, registered, kwargs, field):
    with pytest.raises(grpc.RpcError) as err:
        ingestion_stub.SubmitReport(pb.ingestion_pb2.SubmitReportRequest(**kwargs), timeout=TIMEOUT)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert names_field(bad_request_fields(err.value), field)


def test_a_structured_report_with_a_bad_amount_names_its_path(pb, ingestion_stub, registered):
    request = pb.ingestion_pb2.SubmitReportRequest(
        unit_code=registered, year=2024, kind=pb.report_pb2.REPORT_KIND_FINAL_ACCOUNTS,
        report=bad_amount_report(pb),
    )
    with pytest.raises(grpc.RpcError) as err:
        ingestion_stub.SubmitReport(request, timeout=TIMEOUT)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    fields = bad_request_fields(err.value)
    assert "report.facts[0].amount" in fields, fields


@pytest.mark.parametrize(
    ("service", "method", "streaming"),
    [
        (INGESTION_SERVICE, "RegisterUnit", False),
        (INGESTION_SERVICE, "ListUnits", False),
        (INGESTION_SERVICE, "SubmitReport", False),
        (INGESTION_SERVICE, "GetReport", False),
        (INGESTION_SERVICE, "ListReports", False),
        (INGESTION_SERVICE, "StreamReports", True),
        (INGESTION_SERVICE, "ListAuditEvents", False),
        (AGGREGATION_SERVICE, "AggregateDepartment", False),
    ],
)
def test_bytes_that_are_not_a_request_are_invalid_argument_on_every_rpc(
    ingestion_server, aggregation_server, credentials, service, method, streaming
):
    # Sent past the client's serializer: a truncated varint, then a wrong wire type. The caller's
    # bug, so INVALID_ARGUMENT naming the request (not INTERNAL, which says "retry, we are broken").
    server = ingestion_server if service == INGESTION_SERVICE else aggregation_server
    with credentials.channel(server.address, credentials.token("province")) as channel:
        path = f"/{service}/{method}"
        call = channel.unary_stream(path) if streaming else channel.unary_unary(path)
        for garbage in (b"\xff\xff\xff", b"\x0f\x01"):
            with pytest.raises(grpc.RpcError) as err:
                reply = call(garbage, timeout=TIMEOUT)
                if streaming:
                    list(reply)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
            fields = bad_request_fields(err.value)
            assert names_field(fields, "request"), fields
            assert method in err.value.details(), err.value.details()


def grpcurl_tls(credentials, role: str, unit: str | None = None) -> list[str]:
    """grpcurl over TLS as `role` on the RPCs, with the operator's token for reflection."""
    grpcurl = find_tool("grpcurl")
    if grpcurl is None:
        pytest.skip("grpcurl not installed")
    return [grpcurl, "-cacert", str(credentials.ca),
            "-rpc-header", f"authorization: Bearer {credentials.token(role, unit)}",
            "-reflect-header", f"authorization: Bearer {credentials.token('operator')}"]


def test_a_department_sees_only_its_subtree(pb, ingestion_server, registered, credentials):
    with credentials.channel(ingestion_server.address, credentials.token("department", "610726002")) as channel:
        stub = pb.ingestion_grpc.IngestionServiceStub(channel)
        units = stub.ListUnits(pb.ingestion_pb2.ListUnitsRequest(), timeout=TIMEOUT).units
        assert [u.code for u in units] == ["610726002"]
        with pytest.raises(grpc.RpcError) as err:
            stub.ListUnits(pb.ingestion_pb2.ListUnitsRequest(root_code="610726"), timeout=TIMEOUT)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert err.value.details() == "permission denied"


def test_grpcurl_lists_units_through_reflection(ingestion_server, registered, credentials):
    out = subprocess.run(
        [*grpcurl_tls(credentials, "province"), "-d", '{"root_code":"610726"}', ingestion_server.address,
         f"{INGESTION_SERVICE}/ListUnits"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    codes = sorted(u["code"] for u in json.loads(out)["units"])
    assert codes == ["610726", "610726002"]


def test_grpcurl_aggregate_unknown_department_names_the_field(aggregation_server, credentials):
    proc = subprocess.run(
        [*grpcurl_tls(credentials, "province"), "-d", '{"department_code":"nope","year":2024,"kind":"REPORT_KIND_FINAL_ACCOUNTS"}',
         aggregation_server.address, f"{AGGREGATION_SERVICE}/AggregateDepartment"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "InvalidArgument" in proc.stderr and "department_code" in proc.stderr, proc.stderr
