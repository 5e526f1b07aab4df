"""Lifecycle of the local tenant as a real background process."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from local_tenant_helpers import (
    ASSERTION_TYPE,
    HTTP_TIMEOUT,
    RegisteredClient,
    public_jwk,
    rsa_key,
)

from qlik_tutorial.errors import JWKError, TenantUnreachableError
from qlik_tutorial.local_tenant import (
    Settings,
    admin_key,
    ensure_local_tenant,
    local_tenant_status,
    register_client,
    start_local_tenant,
    stop_local_tenant,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="reads process state from /proc"
)

WAIT_SECONDS = 15.0
CLI = [sys.executable, "-m", "qlik_tutorial.local_tenant"]


def pid_alive(pid: int) -> bool:
    """Return whether ``pid`` runs; a zombie (exited, not reaped) counts as ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def read_line(process: subprocess.Popen[str], timeout: float = WAIT_SECONDS) -> str:
    """Return the next stdout line of ``process``, or "" after ``timeout`` seconds."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if readable else ""


def recorded_pid(workspace: Path) -> int:
    record = json.loads((workspace / "local-tenant" / "server.json").read_text())
    return int(record["pid"])


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """A workspace whose local tenant is stopped, and checked gone, after the test."""
    path = tmp_path / "workspace"
    started: list[int] = []
    try:
        yield path
    finally:
        record = path / "local-tenant" / "server.json"
        if record.exists():
            started.append(recorded_pid(path))
            stop_local_tenant(path)
    for pid in started:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"local tenant pid {pid} was still running after the test")


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.trust_env = False
        yield http


def register(workspace: Path, url: str) -> RegisteredClient:
    key = rsa_key()
    jwk = public_jwk(key, "RS256")
    client_id = register_client(workspace, jwk, name="lifecycle test")
    return RegisteredClient(client_id, key, "RS256", jwk["kid"], url + "/oauth/token")


def fetch_token(session: requests.Session, client: RegisteredClient) -> str:
    response = session.post(
        client.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client.assertion(),
        },
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def listening_addresses(pid: int) -> list[str]:
    """Return ``ip:port`` of every listening TCP socket of ``pid``, from /proc."""
    inodes = set()
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(entry)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    addresses = []
    for table, size in (("tcp", 4), ("tcp6", 16)):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A is LISTEN
                continue
            address_hex, port_hex = local.split(":")
            raw = bytes.fromhex(address_hex)
            if size == 4:
                address = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                address = socket.inet_ntop(socket.AF_INET6, words)
            addresses.append(f"{address}:{int(port_hex, 16)}")
    return addresses


def test_start_returns_loopback_url(workspace: Path) -> None:
    url = ensure_local_tenant(workspace)
    assert url.startswith("http://127.0.0.1:")


def test_start_twice_reuses(workspace: Path) -> None:
    first = start_local_tenant(workspace)
    second = start_local_tenant(workspace)
    assert second.reused
    assert second.pid == first.pid
    assert second.url == first.url


def test_status_reports_running(workspace: Path) -> None:
    url = ensure_local_tenant(workspace)
    status = local_tenant_status(workspace)
    assert status is not None
    assert status["url"] == url
    assert status["healthy"] is True


def test_status_none_when_stopped(workspace: Path) -> None:
    assert local_tenant_status(workspace) is None
    assert not (workspace / "local-tenant").exists()


def test_stop_ends_process(workspace: Path) -> None:
    ensure_local_tenant(workspace)
    pid = recorded_pid(workspace)
    assert stop_local_tenant(workspace) is True
    assert not pid_alive(pid)
    assert local_tenant_status(workspace) is None


def test_stop_when_stopped(workspace: Path) -> None:
    assert stop_local_tenant(workspace) is False


def test_copied_workspace_not_shared(workspace: Path, tmp_path: Path) -> None:
    ensure_local_tenant(workspace)
    pid = recorded_pid(workspace)
    copy = tmp_path / "copy"
    shutil.copytree(workspace, copy)
    assert local_tenant_status(copy) is None
    assert stop_local_tenant(copy) is False
    assert pid_alive(pid)


def test_listens_on_loopback_only(workspace: Path) -> None:
    url = ensure_local_tenant(workspace)
    addresses = listening_addresses(recorded_pid(workspace))
    assert addresses == [url.removeprefix("http://")]


def test_no_inherited_fds(workspace: Path) -> None:
    ensure_local_tenant(workspace)
    pid = recorded_pid(workspace)
    state = str(workspace.resolve() / "local-tenant")
    targets = {
        int(entry.name): os.readlink(entry)
        for entry in Path(f"/proc/{pid}/fd").iterdir()
    }
    assert targets[0] == "/dev/null"
    assert targets[1] == state + "/local-tenant.log"
    assert targets[2] == state + "/local-tenant.log"
    others = [
        t for t in targets.values() if not t.startswith((state, "socket:", "/dev/null"))
    ]
    assert others == []


def test_not_a_child_of_caller(workspace: Path) -> None:
    ensure_local_tenant(workspace)
    stat = Path(f"/proc/{recorded_pid(workspace)}/stat").read_text()
    parent = int(stat.rpartition(")")[2].split()[1])
    assert parent != os.getpid()


def test_restart_keeps_url_clients_tokens(
    workspace: Path, session: requests.Session
) -> None:
    url = ensure_local_tenant(workspace)
    client = register(workspace, url)
    token = fetch_token(session, client)
    assert stop_local_tenant(workspace)
    assert ensure_local_tenant(workspace) == url
    headers = {"Authorization": f"Bearer {token}"}
    me = session.get(url + "/api/v1/users/me", headers=headers, timeout=HTTP_TIMEOUT)
    assert me.status_code == 200
    key = {"Authorization": f"Bearer {admin_key(workspace)}"}
    listed = session.get(url + "/api/v1/oauth-clients", headers=key, timeout=10)
    assert [c["clientId"] for c in listed.json()["data"]] == [client.client_id]
    assert fetch_token(session, client)


def test_restart_moves_when_port_taken(workspace: Path) -> None:
    first = start_local_tenant(workspace)
    stop_local_tenant(workspace)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", first.port))
        blocker.listen()
        second = start_local_tenant(workspace)
    assert second.port != first.port
    assert second.previous_port == first.port


def test_ensure_warns_when_port_moves(
    workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = start_local_tenant(workspace)
    stop_local_tenant(workspace)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", first.port))
        blocker.listen()
        url = ensure_local_tenant(workspace)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert f"port {first.port} of the last run is taken" in warnings[0]
    assert url in warnings[0]


def test_explicit_taken_port_fails(workspace: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        with pytest.raises(TenantUnreachableError, match="did not start"):
            start_local_tenant(workspace, port=taken)


def test_exits_when_workspace_deleted(workspace: Path) -> None:
    ensure_local_tenant(workspace)
    pid = recorded_pid(workspace)
    shutil.rmtree(workspace)
    assert wait_until(lambda: not pid_alive(pid))


def test_exits_after_idle_time(workspace: Path) -> None:
    ensure_local_tenant(workspace, settings=Settings(idle_timeout=0.5))
    pid = recorded_pid(workspace)
    assert wait_until(lambda: not pid_alive(pid))
    record = json.loads((workspace / "local-tenant" / "server.json").read_text())
    assert record["stopReason"] == "idle for 0.5 s"


def test_settings_reach_process(workspace: Path, session: requests.Session) -> None:
    url = ensure_local_tenant(workspace, settings=Settings(token_lifetime=7))
    client = register(workspace, url)
    response = session.post(
        client.token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client.assertion(),
        },
        timeout=HTTP_TIMEOUT,
    )
    assert response.json()["expires_in"] == 7


def test_log_lines_without_secrets(workspace: Path, session: requests.Session) -> None:
    url = ensure_local_tenant(workspace)
    client = register(workspace, url)
    token = fetch_token(session, client)
    assertion = client.assertion()
    session.post(client.token_url, data={"client_assertion": assertion}, timeout=10)
    stop_local_tenant(workspace)
    log = (workspace / "local-tenant" / "local-tenant.log").read_text()
    token_lines = [line for line in log.splitlines() if "/oauth/token" in line]
    assert len(token_lines) == 2
    assert f"POST /oauth/token 200 client={client.client_id} error=-" in log
    assert "POST /oauth/token 400 client=- error=OAUTH-1" in log
    assert token not in log
    assert assertion.split(".")[1] not in log
    assert admin_key(workspace) not in log


def test_register_rejects_private_jwk(workspace: Path) -> None:
    jwk = public_jwk(rsa_key(), "RS256")
    jwk["d"] = "AQAB"
    with pytest.raises(JWKError, match="private member 'd'"):
        register_client(workspace, jwk)


def test_register_accepts_jwks(workspace: Path) -> None:
    jwks = {"keys": [public_jwk(rsa_key(), "RS256"), public_jwk(rsa_key(), "RS512")]}
    client_id = register_client(workspace, jwks)
    assert len(client_id) == 32


# Command line


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=False,
    )


def test_cli_start_prints_url(workspace: Path) -> None:
    result = run_cli("start", "--workspace", str(workspace))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ensure_local_tenant(workspace)


def test_cli_status_exit_codes(workspace: Path) -> None:
    assert run_cli("status", "--workspace", str(workspace)).returncode == 3
    ensure_local_tenant(workspace)
    assert run_cli("status", "--workspace", str(workspace)).returncode == 0


def test_cli_stop(workspace: Path) -> None:
    ensure_local_tenant(workspace)
    pid = recorded_pid(workspace)
    result = run_cli("stop", "--workspace", str(workspace))
    assert result.returncode == 0
    assert not pid_alive(pid)


def test_cli_register_prints_client_id(workspace: Path, tmp_path: Path) -> None:
    jwk_file = tmp_path / "public_jwk.json"
    jwk_file.write_text(json.dumps(public_jwk(rsa_key(), "RS256")))
    result = run_cli("register", "--workspace", str(workspace), "--jwk", str(jwk_file))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert len(result.stdout.strip()) == 32


def test_cli_rejects_bad_setting(workspace: Path) -> None:
    result = run_cli("start", "--workspace", str(workspace), "--rate-limit", "lots")
    assert result.returncode == 1
    assert "--rate-limit" in result.stderr


def test_cli_serve_foreground(workspace: Path) -> None:
    process = subprocess.Popen(
        [*CLI, "serve", "--workspace", str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = read_line(process)
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found is not None, line
        url = found.group(0)
        assert ensure_local_tenant(workspace) == url
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_SECONDS)
        if process.stdout is not None:
            process.stdout.close()


def test_cli_serve_refuses_second(workspace: Path) -> None:
    url = ensure_local_tenant(workspace)
    result = run_cli("serve", "--workspace", str(workspace))
    assert result.returncode == 1
    assert url in result.stderr


def test_stop_ends_foreground_serve(workspace: Path, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*CLI, "serve", "--workspace", "workspace"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert "listening on" in read_line(process)
        assert stop_local_tenant(workspace) is True
        assert process.wait(timeout=WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_SECONDS)
        if process.stdout is not None:
            process.stdout.close()
