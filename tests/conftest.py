"""Shared fixtures. Key generation is slow, so keys are made once per session."""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from http_fixtures import ScriptedServer, closed_port, silent_socket

import qlik_tutorial.local_tenant as local_tenant_package
from qlik_tutorial.keys import SigningKey
from qlik_tutorial.workspace import WORKSPACE_ENV

# The local tenant helpers define the clock and tenant fixtures that the
# server's tests share. A module's own fixture of the same name overrides them.
pytest_plugins = ["local_tenant_helpers"]


@pytest.fixture(scope="session")
def rsa_private_key() -> rsa.RSAPrivateKey:
    """An RSA 2048-bit private key shared by the whole session."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_private_key() -> ec.EllipticCurvePrivateKey:
    """A P-384 private key shared by the whole session."""
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="session")
def rs256_key(rsa_private_key: rsa.RSAPrivateKey) -> SigningKey:
    return SigningKey.from_private_key(rsa_private_key, "RS256")


@pytest.fixture(scope="session")
def rs512_key(rsa_private_key: rsa.RSAPrivateKey) -> SigningKey:
    return SigningKey.from_private_key(rsa_private_key, "RS512")


@pytest.fixture(scope="session")
def es384_key(ec_private_key: ec.EllipticCurvePrivateKey) -> SigningKey:
    return SigningKey.from_private_key(ec_private_key, "ES384")


def _key_material(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> list[str]:
    """Return strings that would reveal ``key`` if they showed up in a message."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    # Any 16-character run of the PEM body counts as leaked key material.
    fragments = [body[start : start + 16] for start in range(0, len(body) - 16, 8)]
    numbers = key.private_numbers()
    secrets = (
        [numbers.private_value]
        if isinstance(numbers, ec.EllipticCurvePrivateNumbers)
        else [
            numbers.d,
            numbers.p,
            numbers.q,
            numbers.public_numbers.n,
        ]
    )
    for value in secrets:
        raw = value.to_bytes((value.bit_length() + 7) // 8)
        encoded = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        fragments += [encoded[:16], str(value)[:24], format(value, "x")[:24]]
    return ["-----BEGIN", "-----END", *fragments]


@pytest.fixture(scope="session")
def assert_no_key_material() -> Callable[[str, object], None]:
    """Return a check that a message shows none of a private key's material."""

    def check(message: str, key: object) -> None:
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        leaked = [fragment for fragment in _key_material(key) if fragment in message]
        assert leaked == [], f"message contains key material: {message}"

    return check


@pytest.fixture
def scripted_server() -> Iterator[Callable[[], ScriptedServer]]:
    """Return a factory of started `ScriptedServer`s, all stopped after the test."""
    servers: list[ScriptedServer] = []

    def start() -> ScriptedServer:
        server = ScriptedServer().start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def silent_tenant() -> Iterator[str]:
    """The URL of a socket on 127.0.0.1 that accepts and never responds."""
    with silent_socket() as url:
        yield url


@pytest.fixture
def refused_tenant() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{closed_port()}"


# --- local tenants left running ---------------------------------------------------

_LOCAL_TENANT_COMMANDS = {
    ("-m", local_tenant_package.__name__),
    ("local-tenant", "serve"),
}


def _local_tenant_workspace(pid: int) -> Path | None:
    """Return the workspace folder of local tenant process ``pid``.

    A local tenant runs as ``python -m qlik_tutorial.local_tenant ...`` (the
    background form) or ``qlik-tutorial local-tenant serve``. None when
    ``pid`` runs something else, has ended, belongs to another user or uses
    the default workspace. The workspace is ``--workspace`` or
    ``$QLIK_TUTORIAL_WORKSPACE``, relative to the process's own folder.
    """
    folder = Path("/proc", str(pid))
    try:
        arguments = (folder / "cmdline").read_bytes().decode("utf-8", "replace")
        words = arguments.split("\0")
        if not any(
            pair in _LOCAL_TENANT_COMMANDS for pair in itertools.pairwise(words)
        ):
            return None
        current = Path(os.readlink(folder / "cwd"))
        environment = (folder / "environ").read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    chosen = None
    for name, value in itertools.pairwise(words):
        if name == "--workspace":
            chosen = value
        elif name.startswith("--workspace="):
            chosen = name.partition("=")[2]
    if chosen is None:
        prefix = WORKSPACE_ENV + "="
        variables = environment.split("\0")
        chosen = next((v[len(prefix) :] for v in variables if v.startswith(prefix)), "")
    if not chosen.strip():
        return None
    return (current / Path(chosen).expanduser()).resolve()


def local_tenants_under(folder: Path) -> dict[int, Path]:
    """Return ``{pid: workspace}`` of local tenants with a workspace in ``folder``.

    Empty on a system without /proc.
    """
    folder = folder.resolve()
    found: dict[int, Path] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        workspace = _local_tenant_workspace(int(entry.name))
        if workspace is not None and workspace.is_relative_to(folder):
            found[int(entry.name)] = workspace
    return found


@pytest.fixture(scope="session", autouse=True)
def no_local_tenant_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the run when a local tenant of a test workspace outlives the tests.

    A background local tenant is nobody's child, so it is found by its command
    line in /proc. Only workspaces in this run's base temporary folder count:
    other pytest runs and the developer's own workspace are left alone. Each
    leftover is killed, then named in the failure.
    """
    yield
    leftovers = local_tenants_under(tmp_path_factory.getbasetemp())
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if leftovers:
        named = ", ".join(f"pid {pid} ({path})" for pid, path in leftovers.items())
        pytest.fail(
            f"local tenants still running after the tests, now killed: {named}; "
            "stop each one a test starts, e.g. stop_local_tenant() in a finally "
            "block",
            pytrace=False,
        )
