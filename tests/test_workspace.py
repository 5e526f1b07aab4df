"""The workspace folder: its location, files and modes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from qlik_tutorial.errors import TenantURLError, WorkspaceError
from qlik_tutorial.token_endpoint import AccessToken
from qlik_tutorial.workspace import (
    WORKSPACE_ENV,
    ClientConfig,
    Workspace,
    default_workspace,
    find_repository_root,
)

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_800_000_000.0
CONFIG = ClientConfig("acme.eu.qlikcloud.com/", "client-1", "RS256", "kid-1")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def space(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def test_default_from_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKSPACE_ENV, raising=False)
    monkeypatch.chdir(ROOT)
    assert default_workspace() == ROOT / "workspace"


def test_default_from_notebooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKSPACE_ENV, raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    assert default_workspace() == ROOT / "workspace"


def test_default_outside_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The package is installed editable from ROOT, so ROOT is still found.
    monkeypatch.delenv(WORKSPACE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_workspace() == ROOT / "workspace"


def test_default_from_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "chosen"))
    assert default_workspace() == tmp_path / "chosen"


def test_root_ignores_other_projects(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert find_repository_root(tmp_path) is None


def test_root_finds_nearest_parent(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "qlik-private-key-jwt"\n'
    )
    (tmp_path / "notebooks").mkdir()
    assert find_repository_root(tmp_path / "notebooks") == tmp_path


def test_paths(space: Workspace) -> None:
    names = [
        space.private_key.name,
        space.public_key.name,
        space.public_jwk.name,
        space.client_json.name,
        space.assertion.name,
        space.token_json.name,
        space.local_tenant_dir.name,
    ]
    assert names == [
        "private_key.pem",
        "public_key.pem",
        "public_jwk.json",
        "client.json",
        "assertion.jwt",
        "token.json",
        "local-tenant",
    ]


def test_ensure_creates_private_folder(space: Workspace) -> None:
    space.ensure()
    assert mode(space.root) == 0o700


def test_ensure_rejects_file(space: Workspace) -> None:
    space.root.write_text("")
    with pytest.raises(WorkspaceError, match="not a folder"):
        space.ensure()


def test_client_round_trip(space: Workspace) -> None:
    space.save_client(CONFIG)
    loaded = space.load_client()
    assert loaded == ClientConfig(
        "https://acme.eu.qlikcloud.com", "client-1", "RS256", "kid-1"
    )


def test_client_file_is_public(space: Workspace) -> None:
    space.save_client(CONFIG)
    assert mode(space.client_json) == 0o644


def test_client_missing(space: Workspace) -> None:
    assert space.load_client() is None


def test_client_invalid_json(space: Workspace) -> None:
    space.ensure()
    space.client_json.write_text("{not json")
    with pytest.raises(WorkspaceError, match="not valid JSON"):
        space.load_client()


def test_client_incomplete(space: Workspace) -> None:
    space.ensure()
    space.client_json.write_text(json.dumps({"tenant": "acme.qlikcloud.com"}))
    with pytest.raises(WorkspaceError, match="lacks client_id, alg, kid"):
        space.load_client()


def test_client_not_object(space: Workspace) -> None:
    space.ensure()
    space.client_json.write_text("[]")
    with pytest.raises(WorkspaceError, match="JSON list"):
        space.load_client()


def test_client_bad_tenant() -> None:
    with pytest.raises(TenantURLError):
        ClientConfig("ftp://acme", "client-1", "RS256", "kid-1")


def test_assertion_round_trip(space: Workspace) -> None:
    space.save_assertion("aaa.bbb.ccc")
    assert space.load_assertion() == "aaa.bbb.ccc"


def test_assertion_is_secret(space: Workspace) -> None:
    space.save_assertion("aaa.bbb.ccc")
    assert mode(space.assertion) == 0o600


def test_assertion_missing(space: Workspace) -> None:
    assert space.load_assertion() is None


def test_token_round_trip(space: Workspace) -> None:
    response = {
        "access_token": "opaque-token-value",
        "token_type": "Bearer",
        "expires_in": 60,
        "scope": "user_default",
    }
    token = AccessToken.from_response(response, now=lambda: NOW)
    space.save_token(token)
    loaded = space.load_token()
    assert loaded is not None
    assert loaded.access_token == "opaque-token-value"
    assert loaded.expires_at == NOW + 60
    assert loaded.response["expires_in"] == 60


def test_token_is_secret(space: Workspace) -> None:
    token = AccessToken("opaque", "Bearer", NOW, "user_default", {"x": 1})
    space.save_token(token)
    assert mode(space.token_json) == 0o600


def test_token_missing(space: Workspace) -> None:
    assert space.load_token() is None


def test_token_file_invalid(space: Workspace) -> None:
    space.ensure()
    space.token_json.write_text(json.dumps({"token_type": "Bearer"}))
    with pytest.raises(WorkspaceError, match="not a token response"):
        space.load_token()


def test_token_reload_equal(space: Workspace) -> None:
    response = {"access_token": "opaque", "token_type": "Bearer", "expires_in": 60}
    token = AccessToken.from_response(response, now=lambda: NOW)
    space.save_token(token)
    assert space.load_token() == token


def write_client(space: Workspace, **members: str) -> None:
    data = {"tenant": "acme.qlikcloud.com", "client_id": "c-1", "alg": "RS256"}
    data.update(kid="kid-1", **members)
    space.ensure()
    space.client_json.write_text(json.dumps(data))


def test_client_file_bad_tenant(space: Workspace) -> None:
    write_client(space, tenant="ftp://user:hunter2pw@acme.qlikcloud.com")
    with pytest.raises(WorkspaceError, match=r"client\.json") as caught:
        space.load_client()
    assert "unsupported scheme" in str(caught.value)
    assert "hunter2pw" not in str(caught.value)


def test_client_file_bad_alg(space: Workspace) -> None:
    write_client(space, alg="HS256")
    with pytest.raises(WorkspaceError, match="alg 'HS256'"):
        space.load_client()


def test_client_file_empty_client_id(space: Workspace) -> None:
    write_client(space, client_id=" ")
    with pytest.raises(WorkspaceError, match="client_id"):
        space.load_client()


def test_client_file_with_byte_order_mark(space: Workspace) -> None:
    space.save_client(CONFIG)
    text = space.client_json.read_text()
    space.client_json.write_text("\ufeff" + text, encoding="utf-8")
    assert space.load_client() == ClientConfig(
        "https://acme.eu.qlikcloud.com", "client-1", "RS256", "kid-1"
    )


def test_token_file_null(space: Workspace) -> None:
    space.ensure()
    space.token_json.write_text("null")
    with pytest.raises(WorkspaceError, match="JSON null"):
        space.load_token()


def test_ensure_below_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(WorkspaceError, match="is a file"):
        Workspace(tmp_path / "file" / "ws").ensure()
