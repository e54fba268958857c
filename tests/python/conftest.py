"""pytest fixtures for the Python client tests: generated stubs, a running gouji-validation
binary (started on a free port, stopped with SIGTERM) and a channel/stub to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gouji_support import (
    SEED_S0,
    VALIDATION_SERVICE,
    Credentials,
    ServiceStartError,
    generate_stubs,
    make_credentials,
    require_binary,
    seeds_dir,
    start_service,
)


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """Python modules generated from proto/ (messages and gRPC stubs), see gouji_support.generate_stubs."""
    pytest.importorskip("grpc_tools", reason="grpcio-tools not installed (pip install -r tests/python/requirements.txt)")
    return generate_stubs(tmp_path_factory.mktemp("stubs"))


@pytest.fixture(scope="session")
def service_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def credentials(tmp_path_factory) -> Credentials:
    """A CA, a service certificate for 127.0.0.1 and a token key pair, made for this session (never in the repo)."""
    require_binary("gouji")
    return make_credentials(tmp_path_factory.mktemp("credentials"))


@pytest.fixture(scope="session")
def validation_server(service_logs, credentials):
    """gouji-validation listening on 127.0.0.1:<free port>, SERVING; SIGTERM at the end of the session."""
    require_binary("gouji-validation")
    server, error = None, None
    try:
        server = start_service(
            "gouji-validation", grpc_service=VALIDATION_SERVICE, log_dir=service_logs, credentials=credentials
        )
    except ServiceStartError as err:
        error = str(err)
    if server is None:
        pytest.fail(error, pytrace=False)
    yield server
    code = server.stop()
    assert code == 0, f"gouji-validation exited with {code} after SIGTERM\n{server.stderr_tail()}"


@pytest.fixture(scope="session")
def validation_channel(validation_server, credentials):
    """TLS, with the bearer token of a validation platform (role `validator`)."""
    with credentials.channel(validation_server.address, credentials.token("validator")) as channel:
        yield channel


@pytest.fixture(scope="session")
def operator_channel(validation_server, credentials):
    """TLS, with an `operator` token: reflection is for operators only."""
    with credentials.channel(validation_server.address, credentials.token("operator")) as channel:
        yield channel


@pytest.fixture(scope="session")
def validation_stub(pb, validation_channel):
    return pb.validation_grpc.ValidationServiceStub(validation_channel)


@pytest.fixture(scope="session")
def seed_s0() -> Path:
    """Seed S0 (a 2024 unit 决算 disclosure whose 劳务费 differs between table and narrative)."""
    path = seeds_dir() / SEED_S0
    if not path.is_file():
        pytest.skip(f"seed document {path} not found (set GOUJI_SEEDS to the seeds directory)")
    return path
