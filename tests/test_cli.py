"""The qlik-tutorial command line, end to end against scripted servers."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from http_fixtures import Reply, ScriptedServer

from qlik_tutorial.cli import main
from qlik_tutorial.keys import SigningKey, write_key_files
from qlik_tutorial.local_tenant import stop_local_tenant
from qlik_tutorial.workspace import WORKSPACE_ENV, ClientConfig, Workspace

pytestmark = pytest.mark.timeout(60)

CLIENT_ID = "client-for-cli-tests"
ACCESS_TOKEN = "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJjbGkifQ." + "k" * 70
TOKEN_BODY = {
    "access_token": ACCESS_TOKEN,
    "token_type": "Bearer",
    "expires_in": 21600,
    "scope": "user_default",
}
USER = {"id": "u-1", "name": "Tutorial client", "subject": "client:1"}
ENVIRONMENT = ("QLIK_TENANT", "QLIK_CLIENT_ID", "QLIK_PRIVATE_KEY", WORKSPACE_ENV)

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's variables and workspace out of every test."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "default-workspace"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Return a function running main() that returns (exit code, stdout, stderr)."""

    def invoke(*argv: str | Path) -> tuple[int, str, str]:
        code = main([str(argument) for argument in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


@pytest.fixture
def tenant(scripted_server: Callable[[], ScriptedServer]) -> ScriptedServer:
    """A tenant that issues tokens and redirects /users/me like Qlik Cloud."""
    server = scripted_server()
    server.route("POST", "/oauth/token", Reply(200, TOKEN_BODY))
    server.route(
        "GET", "/api/v1/users/me", Reply(301, b"", {"Location": "/api/v1/users/u-1"})
    )
    server.route("GET", "/api/v1/users/u-1", Reply(200, USER))
    return server


@pytest.fixture
def space(tmp_path: Path, rs256_key: SigningKey, tenant: ScriptedServer) -> Workspace:
    """A workspace with an RS256 key and a client registered on ``tenant``."""
    workspace = Workspace(tmp_path / "ws").ensure()
    write_key_files(workspace.root, rs256_key)
    workspace.save_client(
        ClientConfig(tenant.url, CLIENT_ID, rs256_key.alg, rs256_key.kid)
    )
    return workspace


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sent_assertion(server: ScriptedServer) -> str:
    return server.requests[0].form["client_assertion"][0]


def test_keygen_writes_files(run: Run, tmp_path: Path) -> None:
    code, out, err = run("keygen", "--alg", "ES384", "--out", tmp_path / "keys")
    assert code == 0
    assert mode(tmp_path / "keys" / "private_key.pem") == 0o600
    assert "alg:         ES384" in out
    assert "BEGIN" not in out
    assert err == ""


def test_keygen_prints_paths_and_kid(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("keygen", "--workspace", tmp_path / "ws")
    jwk = json.loads((tmp_path / "ws" / "public_jwk.json").read_text())
    assert code == 0
    assert str(tmp_path / "ws" / "private_key.pem") in out
    assert f"kid:         {jwk['kid']}" in out
    assert jwk["alg"] == "RS256"


def test_keygen_default_workspace(run: Run, tmp_path: Path) -> None:
    code, _, _ = run("keygen")
    assert code == 0
    assert (tmp_path / "default-workspace" / "private_key.pem").exists()


def test_keygen_refuses_overwrite(run: Run, space: Workspace) -> None:
    before = space.private_key.read_bytes()
    code, _, err = run("keygen", "--workspace", space.root)
    assert code == 1
    assert "already exists" in err
    assert "Traceback" not in err
    assert space.private_key.read_bytes() == before


def test_keygen_refusal_names_option(run: Run, space: Workspace) -> None:
    _, _, err = run("keygen", "--workspace", space.root)
    assert "keygen --force" in err
    assert "force=True" not in err


def test_keygen_force_backs_up(run: Run, space: Workspace) -> None:
    code, out, _ = run("keygen", "--workspace", space.root, "--force")
    backups = list(space.root.glob("private_key.*.pem.bak"))
    assert code == 0
    assert len(backups) == 1
    assert f"backup:      {backups[0]}" in out


def test_keygen_bits_for_ec_is_usage(run: Run, tmp_path: Path) -> None:
    code, _, err = run("keygen", "--alg", "ES384", "--bits", "4096", "--out", tmp_path)
    assert code == 2
    assert "--bits applies to RSA keys" in err


def test_keygen_small_rsa_is_usage(run: Run, tmp_path: Path) -> None:
    code, _, err = run("keygen", "--bits", "1024", "--out", tmp_path / "k")
    assert code == 2
    assert "'1024'" in err
    assert "from 2048 to 16384" in err
    assert not (tmp_path / "k").exists()


def test_keygen_huge_rsa_is_usage(run: Run, tmp_path: Path) -> None:
    code, _, err = run("keygen", "--bits", "32768", "--out", tmp_path / "k")
    assert code == 2
    assert "'32768'" in err
    assert "from 2048 to 16384" in err


def test_keygen_bits_not_number_is_usage(run: Run, tmp_path: Path) -> None:
    code, _, err = run("keygen", "--bits", "big", "--out", tmp_path / "k")
    assert code == 2
    assert "'big'" in err


def test_keygen_unknown_alg_is_usage(run: Run) -> None:
    code, _, err = run("keygen", "--alg", "HS256")
    assert code == 2
    assert "invalid choice: 'HS256'" in err


def test_jwk_from_workspace(run: Run, space: Workspace, rs256_key: SigningKey) -> None:
    code, out, _ = run("jwk", "--workspace", space.root)
    assert code == 0
    assert json.loads(out) == rs256_key.public_jwk


def test_jwk_follows_recorded_alg(run: Run, tmp_path: Path) -> None:
    run("keygen", "--alg", "RS512", "--out", tmp_path / "ws")
    code, out, _ = run("jwk", "--workspace", tmp_path / "ws")
    assert code == 0
    assert json.loads(out)["alg"] == "RS512"


def test_jwk_alg_follows_ec_key(
    run: Run, tmp_path: Path, es384_key: SigningKey
) -> None:
    key_file = tmp_path / "ec.pem"
    key_file.write_bytes(es384_key.private_pem())
    code, out, _ = run("jwk", "--key", key_file)
    assert code == 0
    assert json.loads(out)["alg"] == "ES384"


def test_jwk_alg_not_fitting_key(run: Run, space: Workspace) -> None:
    code, _, err = run("jwk", "--workspace", space.root, "--alg", "ES384")
    assert code == 1
    assert "ES384" in err


def test_jwk_from_environment(
    run: Run, monkeypatch: pytest.MonkeyPatch, es384_key: SigningKey
) -> None:
    monkeypatch.setenv("QLIK_PRIVATE_KEY", es384_key.private_pem().decode())
    code, out, _ = run("jwk")
    assert code == 0
    assert json.loads(out)["kid"] == es384_key.kid


def test_jwk_missing_key_is_usage(run: Run, tmp_path: Path) -> None:
    code, _, err = run("jwk", "--workspace", tmp_path / "empty")
    assert code == 2
    assert "no private key" in err


def test_jwk_missing_file(run: Run, tmp_path: Path) -> None:
    code, _, err = run("jwk", "--key", tmp_path / "missing.pem")
    assert code == 1
    assert "missing.pem" in err


def test_assertion_prints_jwt(
    run: Run, space: Workspace, tenant: ScriptedServer, rs256_key: SigningKey
) -> None:
    code, out, _ = run("assertion", "--workspace", space.root, "--lifetime", "60")
    claims = pyjwt.decode(
        out.strip(),
        rs256_key.public_key,
        algorithms=["RS256"],
        audience=f"{tenant.url}/oauth/token",
    )
    assert code == 0
    assert claims["iss"] == CLIENT_ID
    assert claims["exp"] - claims["iat"] == 60


def test_assertion_saved_in_workspace(run: Run, space: Workspace) -> None:
    _, out, _ = run("assertion", "--workspace", space.root)
    assert space.load_assertion() == out.strip()
    assert mode(space.assertion) == 0o600


def test_assertion_flags_override(run: Run, space: Workspace) -> None:
    code, out, _ = run(
        "assertion",
        "--workspace",
        space.root,
        "--tenant",
        "acme.eu.qlikcloud.com",
        "--client-id",
        "other-client",
    )
    claims = pyjwt.decode(out.strip(), options={"verify_signature": False})
    assert code == 0
    assert claims["aud"] == "https://acme.eu.qlikcloud.com/oauth/token"
    assert claims["sub"] == "other-client"


def test_assertion_lifetime_too_long(run: Run, space: Workspace) -> None:
    code, out, err = run("assertion", "--workspace", space.root, "--lifetime", "301")
    assert code == 2
    assert out == ""
    assert "301" in err


def test_token_prints_response(
    run: Run, space: Workspace, tenant: ScriptedServer
) -> None:
    code, out, err = run("token", "--workspace", space.root)
    assert code == 0
    assert json.loads(out) == TOKEN_BODY
    assert err == ""
    assert tenant.requests[0].form["client_id"] == [CLIENT_ID]


def test_token_saved_in_workspace(run: Run, space: Workspace) -> None:
    run("token", "--workspace", space.root)
    saved = space.load_token()
    assert saved is not None
    assert saved.access_token == ACCESS_TOKEN
    assert mode(space.token_json) == 0o600


def test_token_from_environment(
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    tenant: ScriptedServer,
    es384_key: SigningKey,
) -> None:
    monkeypatch.setenv("QLIK_TENANT", tenant.url)
    monkeypatch.setenv("QLIK_CLIENT_ID", "env-client")
    monkeypatch.setenv("QLIK_PRIVATE_KEY", es384_key.private_pem().decode())
    code, _, _ = run("token")
    header = pyjwt.get_unverified_header(sent_assertion(tenant))
    assert code == 0
    assert tenant.requests[0].form["client_id"] == ["env-client"]
    assert header["alg"] == "ES384"


def test_token_scope(run: Run, space: Workspace, tenant: ScriptedServer) -> None:
    run("token", "--workspace", space.root, "--scope", "admin_classic")
    assert tenant.requests[0].form["scope"] == ["admin_classic"]


def test_token_rejected_exit_1(
    run: Run,
    space: Workspace,
    tenant: ScriptedServer,
    rsa_private_key: Any,
    assert_no_key_material: Callable[[str, object], None],
) -> None:
    body = {
        "errors": [
            {
                "code": "OAUTH-24",
                "title": "Signature validation failed",
                "detail": "the signature does not verify",
                "status": "401",
            }
        ],
        "traceId": "t-1",
    }
    tenant.route("POST", "/oauth/token", Reply(401, body))
    code, out, err = run("token", "--workspace", space.root)
    assert code == 1
    assert out == ""
    assert err.startswith("qlik-tutorial: error: Token request failed: Signature")
    assert "Fix: sign with the alg of the registered key" in err
    assert "Traceback" not in err
    assert sent_assertion(tenant) not in err
    assert_no_key_material(err, rsa_private_key)


def test_token_timeout(run: Run, space: Workspace, silent_tenant: str) -> None:
    code, _, err = run(
        "token",
        "--workspace",
        space.root,
        "--tenant",
        silent_tenant,
        "--timeout",
        "0.3",
    )
    assert code == 1
    assert "timed out" in err
    assert f"curl {silent_tenant}" in err


def test_token_refused(run: Run, space: Workspace, refused_tenant: str) -> None:
    code, _, err = run("token", "--workspace", space.root, "--tenant", refused_tenant)
    assert code == 1
    assert "refused" in err.lower()


def test_token_missing_tenant_is_usage(
    run: Run, tmp_path: Path, rs256_key: SigningKey
) -> None:
    write_key_files(tmp_path / "keys", rs256_key)
    code, _, err = run("token", "--workspace", tmp_path / "keys", "--client-id", "c")
    assert code == 2
    assert "no tenant" in err


def test_token_missing_client_is_usage(run: Run, tmp_path: Path) -> None:
    code, _, err = run("token", "--workspace", tmp_path, "--tenant", "acme.com")
    assert code == 2
    assert "no client ID" in err


def test_token_bad_timeout_is_usage(run: Run, space: Workspace) -> None:
    code, _, err = run("token", "--workspace", space.root, "--timeout", "-1")
    assert code == 2
    assert "--timeout" in err


def test_verbose_hides_secrets(
    run: Run, space: Workspace, tenant: ScriptedServer
) -> None:
    code, _, err = run("call", "--workspace", space.root, "--verbose")
    assert code == 0
    assert "DEBUG qlik_tutorial.token_endpoint: POST" in err
    assert ACCESS_TOKEN not in err
    assert sent_assertion(tenant) not in err


def test_call_prints_user(run: Run, space: Workspace, tenant: ScriptedServer) -> None:
    code, out, _ = run("call", "--workspace", space.root)
    assert code == 0
    assert json.loads(out) == USER
    assert tenant.requests[-1].headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_call_hides_token(run: Run, space: Workspace) -> None:
    _, out, err = run("call", "--workspace", space.root)
    assert ACCESS_TOKEN not in out
    assert ACCESS_TOKEN not in err


def test_call_path(run: Run, space: Workspace, tenant: ScriptedServer) -> None:
    tenant.route("GET", "/api/v1/spaces", Reply(200, {"data": []}))
    code, out, _ = run("call", "--workspace", space.root, "/api/v1/spaces")
    assert code == 0
    assert json.loads(out) == {"data": []}


def test_call_api_error(run: Run, space: Workspace, tenant: ScriptedServer) -> None:
    tenant.route("GET", "/api/v1/nothing", Reply(404, "<h1>Not Found</h1>"))
    code, _, err = run("call", "--workspace", space.root, "/api/v1/nothing")
    assert code == 1
    assert "API call GET /api/v1/nothing failed: API path not found" in err


def test_local_tenant_end_to_end(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    try:
        keygen_code, _, _ = run("keygen", "--workspace", root, "--alg", "ES384")
        register_code, out, _ = run(
            "local-tenant",
            "register",
            "--workspace",
            root,
            "--jwk",
            root / "public_jwk.json",
        )
        client_id = out.strip()
        code, out, err = run(
            "call", "--workspace", root, "--tenant", "local", "--client-id", client_id
        )
    finally:
        stop_local_tenant(root)
    assert keygen_code == 0
    assert register_code == 0
    assert code == 0
    assert json.loads(out)["subject"].endswith(client_id)
    assert err == ""


def test_no_command_is_usage(run: Run) -> None:
    code, _, err = run()
    assert code == 2
    assert "choose a command" in err


def test_unknown_command_is_usage(run: Run) -> None:
    code, _, _ = run("sign")
    assert code == 2


def test_help_exits_0(run: Run) -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "keygen" in out


def subprocess_environment(tmp_path: Path) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if name not in ENVIRONMENT
    }
    environment[WORKSPACE_ENV] = str(tmp_path / "default-workspace")
    return environment


def test_module_reads_key_from_stdin(tmp_path: Path, es384_key: SigningKey) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qlik_tutorial", "jwk", "--key", "-"],
        input=es384_key.private_pem(),
        capture_output=True,
        env=subprocess_environment(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["kid"] == es384_key.kid


def test_console_error_has_no_traceback(tmp_path: Path, refused_tenant: str) -> None:
    script = Path(sys.executable).with_name("qlik-tutorial")
    result = subprocess.run(
        [script, "token", "--tenant", refused_tenant, "--client-id", "c", "--key", "-"],
        input=b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
        capture_output=True,
        env=subprocess_environment(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    assert b"not a key" not in result.stderr


def test_local_tenant_moved_port_said_once(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    command = [
        Path(sys.executable).with_name("qlik-tutorial"),
        "local-tenant",
        "start",
        "--workspace",
        root,
    ]

    def start() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=subprocess_environment(tmp_path),
            timeout=60,
            check=False,
        )

    try:
        old_port = start().stdout.strip().rpartition(":")[2]
        stop_local_tenant(root)
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", int(old_port)))
            blocker.listen()
            moved = start()
    finally:
        stop_local_tenant(root)
    new_port = moved.stdout.strip().rpartition(":")[2]
    assert moved.returncode == 0, moved.stderr
    assert len(re.findall(rf"\b{old_port}\b", moved.stderr)) == 1, moved.stderr
    naming_new = [line for line in moved.stderr.splitlines() if new_port in line]
    assert len(naming_new) == 1, moved.stderr


@pytest.mark.parametrize("name", ["LOCAL", " local "])
def test_local_tenant_name_any_case(run: Run, tmp_path: Path, name: str) -> None:
    root = tmp_path / "ws"
    try:
        run("keygen", "--workspace", root)
        code, out, _ = run(
            "assertion", "--workspace", root, "--tenant", name, "--client-id", "c"
        )
    finally:
        stop_local_tenant(root)
    assert code == 0
    assert pyjwt.decode(out.strip(), options={"verify_signature": False})[
        "aud"
    ].startswith("http://127.0.0.1:")


@pytest.mark.parametrize("option", ["--key", "--tenant", "--client-id"])
def test_empty_option_is_usage(run: Run, space: Workspace, option: str) -> None:
    code, _, err = run("assertion", "--workspace", space.root, option, "")
    assert code == 2
    assert f"{option} is empty" in err


def test_key_from_empty_stdin(
    run: Run, space: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code, _, err = run("jwk", "--workspace", space.root, "--key", "-")
    assert code == 1
    assert "standard input" in err


def test_environment_key_text_not_echoed(
    run: Run, space: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QLIK_PRIVATE_KEY", "hunter2-not-a-key")
    code, _, err = run("jwk", "--workspace", space.root)
    assert code == 1
    assert "QLIK_PRIVATE_KEY" in err
    assert "hunter2" not in err


def test_environment_key_path(
    run: Run, space: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QLIK_PRIVATE_KEY", str(space.private_key))
    code, out, _ = run("jwk", "--workspace", tmp_path / "empty")
    assert code == 0
    assert json.loads(out)["kid"] == json.loads(space.public_jwk.read_text())["kid"]


def test_keygen_refuses_before_generating(run: Run, space: Workspace) -> None:
    code, _, err = run("-v", "keygen", "--workspace", space.root, "--bits", "4096")
    assert code == 1
    assert "already exists" in err
    assert "Generating" not in err


def test_keygen_into_file_path(run: Run, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = run("keygen", "--out", tmp_path / "file" / "keys")
    assert code == 1
    assert "is a file" in err
    assert "unexpected" not in err


@pytest.mark.parametrize(
    "command", ["keygen", "jwk", "assertion", "token", "call", "doctor"]
)
def test_command_help_exits_0(run: Run, command: str) -> None:
    code, out, err = run(command, "--help")
    assert code == 0
    assert "--workspace" in out
    assert err == ""


@pytest.mark.parametrize(
    "argv",
    [
        ("keygen", "--workspace", ""),
        ("keygen", "--out", " "),
        ("jwk", "--workspace", ""),
    ],
)
def test_empty_folder_is_usage(run: Run, tmp_path: Path, argv: tuple[str, ...]) -> None:
    code, _, err = run(*argv)
    assert code == 2
    assert "empty" in err
    assert list(tmp_path.iterdir()) == []


def test_environment_key_escaped_newlines(
    run: Run, monkeypatch: pytest.MonkeyPatch, es384_key: SigningKey
) -> None:
    one_line = es384_key.private_pem().decode().strip().replace("\n", "\\n")
    monkeypatch.setenv("QLIK_PRIVATE_KEY", one_line)
    code, out, _ = run("jwk")
    assert code == 0
    assert json.loads(out)["alg"] == "ES384"


def test_workspace_option_beats_environment(
    run: Run, space: Workspace, rs256_key: SigningKey
) -> None:
    # The autouse fixture points $QLIK_TUTORIAL_WORKSPACE at an empty folder.
    code, out, _ = run("jwk", "--workspace", space.root)
    assert code == 0
    assert json.loads(out)["kid"] == rs256_key.kid


def test_assertion_saved_with_mode_0600_under_umask(run: Run, space: Workspace) -> None:
    previous = os.umask(0)
    try:
        code, _, _ = run("assertion", "--workspace", space.root)
    finally:
        os.umask(previous)
    assert code == 0
    assert mode(space.assertion) == 0o600


@pytest.mark.parametrize("command", ["assertion", "token", "call"])
def test_missing_key_starts_no_tenant(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    root = tmp_path / "new-folder"
    monkeypatch.setenv("QLIK_TENANT", "local")
    try:
        code, _, err = run(command, "--workspace", root, "--client-id", "c")
    finally:
        stop_local_tenant(root)
    assert code == 2
    assert "no private key" in err
    assert not (root / "local-tenant").exists()


def run_on_new_local_tenant(
    run: Run, tmp_path: Path, key: SigningKey, command: str, *args: str
) -> tuple[int, str, Path]:
    """Run ``command`` with a key file for a new workspace on the local tenant.

    Return the exit code, the error text and the workspace folder; a tenant
    the command started is stopped before returning.
    """
    root = tmp_path / "new-folder"
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key.private_pem())
    try:
        code, _, err = run(
            command, "--workspace", root, "--tenant", "local", "--key", key_file, *args
        )
    finally:
        stop_local_tenant(root)
    return code, err, root


@pytest.mark.parametrize("command", ["assertion", "token", "call"])
def test_missing_client_id_starts_no_tenant(
    run: Run, tmp_path: Path, rs256_key: SigningKey, command: str
) -> None:
    code, err, root = run_on_new_local_tenant(run, tmp_path, rs256_key, command)
    assert code == 2
    assert "no client ID" in err
    assert not (root / "local-tenant").exists()


def test_call_bad_path_starts_no_tenant(
    run: Run, tmp_path: Path, rs256_key: SigningKey
) -> None:
    code, err, root = run_on_new_local_tenant(
        run, tmp_path, rs256_key, "call", "--client-id", "c",
        "https://elsewhere.example.com/api/v1/users/me",
    )  # fmt: skip
    assert code == 1
    assert "not on the tenant" in err
    assert not (root / "local-tenant").exists()


def test_assertion_bad_lifetime_starts_no_tenant(
    run: Run, tmp_path: Path, rs256_key: SigningKey
) -> None:
    code, _, root = run_on_new_local_tenant(
        run, tmp_path, rs256_key, "assertion", "--client-id", "c", "--lifetime", "301"
    )
    assert code == 2
    assert not (root / "local-tenant").exists()
