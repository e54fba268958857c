"""Helpers shared by the Python tests: repository paths, Python stub generation from proto/,
and starting a Gouji service binary on a free port (`--listen 127.0.0.1:0`)."""

from __future__ import annotations

import importlib
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATION_SERVICE = "gouji.validation.v1.ValidationService"
SEED_S0 = "000_e600a360417d5f58.txt"
PROTO_ROOT = REPO_ROOT / "proto"

# Seconds to wait for a binary's "listening on" line and for health SERVING.
START_TIMEOUT = float(os.environ.get("GOUJI_START_TIMEOUT", "60"))
# Seconds a binary gets to exit after SIGTERM.
STOP_TIMEOUT = float(os.environ.get("GOUJI_STOP_TIMEOUT", "20"))

# Client channel options: never route loopback traffic through an HTTP proxy from the environment,
# and accept large responses (a parsed report plus findings).
CHANNEL_OPTIONS = [
    ("grpc.enable_http_proxy", 0),
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
]


def bin_dir() -> Path:
    """Directory with the cargo-built binaries (env GOUJI_BIN_DIR, default <repo>/target/debug)."""
    return Path(os.environ.get("GOUJI_BIN_DIR", REPO_ROOT / "target" / "debug"))


def require_binary(name: str) -> Path:
    """bin_dir()/name, or skip the calling test when it has not been built."""
    import pytest

    path = bin_dir() / name
    if not path.is_file():
        pytest.skip(f"{path} is missing: build it first (cargo build) or point GOUJI_BIN_DIR at the binaries")
    return path


def seeds_dir() -> Path:
    """Directory with the seed disclosure documents (env GOUJI_SEEDS, default <repo>/../shared/seeds)."""
    return Path(os.environ.get("GOUJI_SEEDS", REPO_ROOT.parent / "shared" / "seeds"))


def find_tool(name: str) -> str | None:
    """A console script installed next to this interpreter (the venv), else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def generate_stubs(out_dir: Path, proto_root: Path = PROTO_ROOT) -> SimpleNamespace:
    """Compile every .proto under proto_root to Python (messages + gRPC stubs) in out_dir and import them."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    if not protos:
        raise FileNotFoundError(f"no .proto files under {proto_root}")
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{proto_root}", f"-I{well_known}",
        f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", f"--pyi_out={out_dir}",
        *protos,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"grpc_tools.protoc failed ({proc.returncode}):\n{proc.stderr}")
    if str(out_dir) not in sys.path:
        sys.path.insert(0, str(out_dir))
    importlib.invalidate_caches()

    def load(name: str):
        return importlib.import_module(name)

    return SimpleNamespace(
        report_pb2=load("gouji.report.v1.report_pb2"),
        validation_pb2=load("gouji.validation.v1.validation_service_pb2"),
        validation_grpc=load("gouji.validation.v1.validation_service_pb2_grpc"),
        ingestion_pb2=load("gouji.ingestion.v1.ingestion_service_pb2"),
        ingestion_grpc=load("gouji.ingestion.v1.ingestion_service_pb2_grpc"),
        aggregation_pb2=load("gouji.aggregation.v1.aggregation_service_pb2"),
        aggregation_grpc=load("gouji.aggregation.v1.aggregation_service_pb2_grpc"),
    )


@dataclass
class Credentials:
    """Development credentials made at run time by scripts/dev-certs.sh (a CA, one service certificate for
    127.0.0.1, the token key pair); tokens are signed by the real `gouji token issue` command."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    def server_env(self) -> dict[str, str]:
        """Environment of a service running with TLS, mutual TLS between services and bearer tokens."""
        return {
            "GOUJI_TLS_CERT": str(self.dir / "service.pem"),
            "GOUJI_TLS_KEY": str(self.dir / "service.key"),
            "GOUJI_TLS_CLIENT_CA": str(self.ca),
            "GOUJI_TLS_CA": str(self.ca),
            "GOUJI_TOKEN_PUBLIC_KEY": str(self.dir / "token.pub"),
        }

    def token(self, role: str, unit: str | None = None, ttl: int = 3600) -> str:
        cmd = [str(bin_dir() / "gouji"), "token", "issue", "--key", str(self.dir / "token.key"),
               "--role", role, "--subject", f"pytest-{role}", "--ttl", str(ttl)]
        if unit:
            cmd += ["--unit", unit]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()

    def channel(self, address: str, token: str | None):
        """A TLS channel trusting the CA that sends `authorization: Bearer <token>` on every call (none when
        `token` is None).

        The token is added by a client interceptor, not by `grpc.access_token_call_credentials`: grpcio's
        metadata-plugin credentials can deadlock the process between the GIL and the event engine when the
        channel is closed (grpc/grpc#42247, open; seen here as a test session that never ended)."""
        import grpc

        creds = grpc.ssl_channel_credentials(root_certificates=self.ca.read_bytes())
        channel = grpc.secure_channel(address, creds, options=CHANNEL_OPTIONS)
        if token is None:
            return channel
        return grpc.intercept_channel(channel, _BearerToken(token))


def _bearer_interceptor_base():
    import grpc

    return (
        grpc.UnaryUnaryClientInterceptor,
        grpc.UnaryStreamClientInterceptor,
        grpc.StreamUnaryClientInterceptor,
        grpc.StreamStreamClientInterceptor,
    )


class _ClientCallDetails:
    """A grpc.ClientCallDetails with other metadata (the interface is an abstract class of attributes)."""

    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class _BearerToken(*_bearer_interceptor_base()):
    """Adds `authorization: Bearer <token>` to every call, as a platform's client does."""

    def __init__(self, token: str):
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details):
        return _ClientCallDetails(details, [*(details.metadata or ()), self._header])

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


def make_credentials(out_dir: Path) -> Credentials:
    subprocess.run([str(REPO_ROOT / "scripts" / "dev-certs.sh"), str(out_dir)], check=True, capture_output=True)
    return Credentials(out_dir)


class ServiceStartError(RuntimeError):
    """The binary exited or never became ready; the message carries its stderr."""


@dataclass
class RunningService:
    """A service binary started by start_service()."""

    binary: str
    address: str
    process: subprocess.Popen
    stderr_path: Path
    stdout_lines: list[str] = field(default_factory=list)

    def stderr_tail(self, limit: int = 4000) -> str:
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-limit:]

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (graceful shutdown) and wait; SIGKILL and raise if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise ServiceStartError(
                    f"{self.binary} ignored SIGTERM for {timeout}s and was killed\n{self.stderr_tail()}"
                ) from None
        return self.process.returncode


def _pump(stream, lines: "queue.Queue[str | None]") -> None:
    for line in stream:
        lines.put(line.rstrip("\r\n"))
    lines.put(None)


def start_service(
    binary: str,
    args: list[str] | tuple[str, ...] = (),
    *,
    grpc_service: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = START_TIMEOUT,
    credentials: Credentials | None = None,
) -> RunningService:
    """Start bin_dir()/binary on 127.0.0.1:0, read `<binary> listening on HOST:PORT` from its stdout and
    wait until grpc.health.v1 reports SERVING for "" and for grpc_service."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    path = bin_dir() / binary
    if not path.is_file():
        raise FileNotFoundError(path)
    stderr_path = log_dir / f"{binary}.{os.getpid()}.{time.monotonic_ns()}.stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [str(path), "--listen", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            # TLS and bearer tokens with `credentials`, else development mode (loopback, no credentials).
            env={
                **({"GOUJI_DEV_INSECURE": "1"} if credentials is None else credentials.server_env()),
                **os.environ,
                **(env or {}),
            },
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    lines: queue.Queue[str | None] = queue.Queue()
    # Keep draining stdout for the process's lifetime so it can never block on a full pipe.
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    service = RunningService(binary, "", process, stderr_path)
    ready = re.compile(rf"^{re.escape(binary)} listening on (\S+):(\d+)\s*$")
    deadline = time.monotonic() + timeout

    def fail(why: str) -> ServiceStartError:
        if process.poll() is None:
            process.kill()
            process.wait()
        return ServiceStartError(
            f"{binary}: {why} (exit code {process.returncode}).\n"
            f"stdout: {service.stdout_lines!r}\nstderr tail:\n{service.stderr_tail()}"
        )

    while not service.address:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise fail(f"no 'listening on' line on stdout within {timeout}s") from None
        if line is None:
            process.wait(timeout=5)
            raise fail("stdout closed before the 'listening on' line")
        service.stdout_lines.append(line)
        if m := ready.match(line):
            service.address = f"{m.group(1)}:{m.group(2)}"

    last_error = "no health answer"
    probe = (
        credentials.channel(service.address, None)
        if credentials is not None
        else grpc.insecure_channel(service.address, options=CHANNEL_OPTIONS)
    )
    with probe as channel:
        health = health_pb2_grpc.HealthStub(channel)
        pending = ["", grpc_service]
        while pending:
            if process.poll() is not None:
                raise fail("exited while waiting for health SERVING")
            if time.monotonic() > deadline:
                raise fail(f"health of {pending[0]!r} not SERVING within {timeout}s: {last_error}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(service=pending[0]), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    pending.pop(0)
                    continue
                last_error = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError as err:
                last_error = f"{err.code().name}: {err.details()}"
            time.sleep(0.1)
    return service
