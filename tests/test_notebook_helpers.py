"""Parameter resolution and display helpers of the step notebooks."""

from __future__ import annotations

import html
import json
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ipywidgets as widgets
import pytest
import requests

from qlik_tutorial import local_tenant
from qlik_tutorial import notebook as nb
from qlik_tutorial.assertion import build_client_assertion, decode_assertion
from qlik_tutorial.errors import (
    AlgorithmError,
    ConfigurationError,
    TenantTimeoutError,
    TokenRequestError,
    WorkspaceError,
)
from qlik_tutorial.keys import SigningKey, write_key_files
from qlik_tutorial.local_tenant.registration import admin_request
from qlik_tutorial.notebook_display import CHECKLIST, ERROR_WIDTH
from qlik_tutorial.token_endpoint import AccessToken
from qlik_tutorial.workspace import WORKSPACE_ENV, ClientConfig, Workspace

REAL_TENANT = "https://acme.eu.qlikcloud.com"
ENVIRONMENT = (WORKSPACE_ENV, nb.TENANT_ENV, nb.CLIENT_ID_ENV, nb.PRIVATE_KEY_ENV)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def space(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws").ensure()


@pytest.fixture
def keyed_space(space: Workspace, es384_key: SigningKey) -> Workspace:
    write_key_files(space.root, es384_key)
    return space


@pytest.fixture
def real_client(keyed_space: Workspace, es384_key: SigningKey) -> ClientConfig:
    config = ClientConfig(REAL_TENANT, "client-1", "ES384", es384_key.kid)
    keyed_space.save_client(config)
    return config


@pytest.fixture
def local_space(keyed_space: Workspace) -> Iterator[Workspace]:
    """A keyed workspace whose local tenant is stopped after the test."""
    try:
        yield keyed_space
    finally:
        local_tenant.stop_local_tenant(keyed_space.root)
    assert local_tenant.local_tenant_status(keyed_space.root) is None


def _pem_file(folder: Path, key: SigningKey) -> Path:
    path = folder / "supplied.pem"
    path.write_bytes(key.private_pem())
    path.chmod(0o600)
    return path


def _clock(start: float) -> Callable[[], float]:
    return lambda: start


# --- workspace and alg ---------------------------------------------------------


def test_workspace_parameter_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "from-env"))
    space = nb.resolve_workspace(tmp_path / "from-parameter")
    assert space.root == (tmp_path / "from-parameter").resolve()


def test_workspace_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "from-env"))
    space = nb.resolve_workspace(None)
    assert space.root == (tmp_path / "from-env").resolve()


def test_workspace_default_under_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "qlik-private-key-jwt"\n'
    )
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    space = nb.resolve_workspace(None)
    assert space.root == (tmp_path / "workspace").resolve()


def test_workspace_created_private(tmp_path: Path) -> None:
    space = nb.resolve_workspace(tmp_path / "new")
    assert stat.S_IMODE(space.root.stat().st_mode) == 0o700


def test_workspace_alg_without_key(space: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="01_generate_keys"):
        nb.workspace_alg(space)


def test_workspace_alg_corrupt_jwk(keyed_space: Workspace) -> None:
    keyed_space.public_jwk.write_text("{not json")
    with pytest.raises(WorkspaceError, match="cannot be read"):
        nb.workspace_alg(keyed_space)


def test_check_alg_follows_workspace(keyed_space: Workspace) -> None:
    assert nb.check_alg(None, keyed_space) == "ES384"


def test_check_alg_ignores_case(keyed_space: Workspace) -> None:
    assert nb.check_alg("es384", keyed_space) == "ES384"


def test_check_alg_contradiction(keyed_space: Workspace) -> None:
    with pytest.raises(AlgorithmError) as caught:
        nb.check_alg("RS256", keyed_space)
    assert "ES384" in str(caught.value)
    assert "'RS256'" in str(caught.value)


# --- step 01: the key --------------------------------------------------------------


def test_prepare_key_generates(space: Workspace) -> None:
    key = nb.prepare_key(space, alg="ES384")
    assert json.loads(space.public_jwk.read_text())["kid"] == key.kid
    assert stat.S_IMODE(space.private_key.stat().st_mode) == 0o600


def test_prepare_key_default_alg(space: Workspace) -> None:
    assert nb.prepare_key(space).alg == "RS256"


def test_prepare_key_prints_kid(
    space: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    key = nb.prepare_key(space, alg="ES384")
    out = capsys.readouterr().out
    assert f"kid {key.kid}" in out
    assert "EC key on curve P-384" in out


def test_prepare_key_reuses_same_alg(
    keyed_space: Workspace, es384_key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    key = nb.prepare_key(keyed_space, alg="ES384")
    assert key.kid == es384_key.kid
    assert "reusing" in capsys.readouterr().out


def test_prepare_key_reuses_without_alg(
    keyed_space: Workspace, es384_key: SigningKey
) -> None:
    assert nb.prepare_key(keyed_space).kid == es384_key.kid


def test_prepare_key_other_alg_rejected(keyed_space: Workspace) -> None:
    before = keyed_space.private_key.read_bytes()
    with pytest.raises(AlgorithmError, match="fresh workspace"):
        nb.prepare_key(keyed_space, alg="RS512")
    assert keyed_space.private_key.read_bytes() == before


def test_prepare_key_supplied_path(
    space: Workspace, tmp_path: Path, rs256_key: SigningKey
) -> None:
    key = nb.prepare_key(space, private_key=_pem_file(tmp_path, rs256_key))
    assert key.kid == rs256_key.kid
    assert SigningKey.load(space.private_key).kid == rs256_key.kid


def test_prepare_key_supplied_alg(
    space: Workspace, tmp_path: Path, rs512_key: SigningKey
) -> None:
    key = nb.prepare_key(space, alg="RS512", private_key=_pem_file(tmp_path, rs512_key))
    assert json.loads(space.public_jwk.read_text())["alg"] == "RS512"
    assert key.alg == "RS512"


def test_prepare_key_supplied_environment(
    space: Workspace, es384_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(nb.PRIVATE_KEY_ENV, es384_key.private_pem().decode())
    assert nb.prepare_key(space).kid == es384_key.kid


def test_prepare_key_supplied_same_reused(
    keyed_space: Workspace, tmp_path: Path, es384_key: SigningKey
) -> None:
    key = nb.prepare_key(keyed_space, private_key=_pem_file(tmp_path, es384_key))
    assert key.kid == es384_key.kid


def test_prepare_key_supplied_other_rejected(
    keyed_space: Workspace, tmp_path: Path, rs256_key: SigningKey
) -> None:
    before = keyed_space.private_key.read_bytes()
    with pytest.raises(WorkspaceError, match="different private key"):
        nb.prepare_key(keyed_space, private_key=_pem_file(tmp_path, rs256_key))
    assert keyed_space.private_key.read_bytes() == before


def test_prepare_key_supplied_alg_mismatch(
    space: Workspace, tmp_path: Path, es384_key: SigningKey
) -> None:
    with pytest.raises(AlgorithmError) as caught:
        nb.prepare_key(space, alg="RS256", private_key=_pem_file(tmp_path, es384_key))
    assert caught.value.fix.startswith("leave alg unset (None)")
    assert "alg='ES384'" in caught.value.fix
    assert "keygen" not in caught.value.fix
    assert caught.value.case == "alg_key_mismatch"


def test_prepare_key_lowercase_alg(space: Workspace) -> None:
    assert nb.prepare_key(space, alg="es384").alg == "ES384"


def test_summarize_key_generated(
    space: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    key = nb.prepare_key(space, alg="ES384")
    capsys.readouterr()
    nb.summarize_key(key)
    assert f"'ES384 key pair, kid {key.kid}'" in capsys.readouterr().out


def test_summarize_key_supplied_path(
    space: Workspace,
    tmp_path: Path,
    es384_key: SigningKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _pem_file(tmp_path, es384_key)
    key = nb.prepare_key(space, private_key=path)
    capsys.readouterr()
    nb.summarize_key(key, private_key=path)
    assert f"'ES384 key supplied, kid {key.kid}'" in capsys.readouterr().out


def test_summarize_key_supplied_environment(
    space: Workspace,
    es384_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(nb.PRIVATE_KEY_ENV, es384_key.private_pem().decode())
    key = nb.prepare_key(space)
    capsys.readouterr()
    nb.summarize_key(key)
    assert f"'ES384 key supplied, kid {key.kid}'" in capsys.readouterr().out


# --- step 02: tenant and client -------------------------------------------------


def test_tenant_parameter_real(keyed_space: Workspace) -> None:
    tenant = nb.resolve_tenant("acme.eu.qlikcloud.com/", keyed_space)
    assert tenant == nb.Tenant(REAL_TENANT, local=False, source="parameter")


def test_tenant_from_environment(
    keyed_space: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(nb.TENANT_ENV, "acme.eu.qlikcloud.com")
    assert nb.resolve_tenant(None, keyed_space).source == nb.TENANT_ENV


def test_tenant_parameter_beats_environment(
    keyed_space: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(nb.TENANT_ENV, "other.us.qlikcloud.com")
    assert nb.resolve_tenant(REAL_TENANT, keyed_space).origin == REAL_TENANT


def test_tenant_from_workspace(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    tenant = nb.resolve_tenant(None, keyed_space)
    assert (tenant.origin, tenant.source) == (REAL_TENANT, "workspace")


def test_tenant_default_local(local_space: Workspace) -> None:
    tenant = nb.resolve_tenant(None, local_space)
    assert tenant.local
    assert requests.get(tenant.origin + "/", timeout=10).ok


def test_tenant_local_url_stable(local_space: Workspace) -> None:
    first = nb.resolve_tenant("local", local_space)
    assert nb.resolve_tenant("local", local_space).origin == first.origin


def test_tenant_workspace_local_restarted(local_space: Workspace) -> None:
    tenant = nb.resolve_tenant("local", local_space)
    nb.register_client(local_space, tenant, nb.load_public_jwk(local_space))
    local_tenant.stop_local_tenant(local_space.root)
    again = nb.resolve_tenant(None, local_space)
    assert (again.local, again.source) == (True, "workspace")
    assert requests.get(again.origin + "/", timeout=10).ok


def test_tenant_foreign_loopback_not_local(keyed_space: Workspace) -> None:
    tenant = nb.resolve_tenant("http://127.0.0.1:9", keyed_space)
    assert not tenant.local


def test_register_real_needs_client_id(keyed_space: Workspace) -> None:
    tenant = nb.resolve_tenant(REAL_TENANT, keyed_space)
    jwk = nb.load_public_jwk(keyed_space)
    with pytest.raises(ConfigurationError, match=nb.CLIENT_ID_ENV):
        nb.register_client(keyed_space, tenant, jwk)


def test_register_real_saves_client(keyed_space: Workspace) -> None:
    tenant = nb.resolve_tenant(REAL_TENANT, keyed_space)
    jwk = nb.load_public_jwk(keyed_space)
    nb.register_client(keyed_space, tenant, jwk, client_id="abc123")
    saved = keyed_space.load_client()
    assert saved == ClientConfig(REAL_TENANT, "abc123", "ES384", jwk["kid"])


def test_register_client_id_environment(
    keyed_space: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(nb.CLIENT_ID_ENV, "from-env")
    tenant = nb.resolve_tenant(REAL_TENANT, keyed_space)
    config = nb.register_client(keyed_space, tenant, nb.load_public_jwk(keyed_space))
    assert config.client_id == "from-env"


def test_register_reuses_workspace_client(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    tenant = nb.resolve_tenant(None, keyed_space)
    config = nb.register_client(keyed_space, tenant, nb.load_public_jwk(keyed_space))
    assert config.client_id == real_client.client_id


def test_register_local_through_api(local_space: Workspace) -> None:
    tenant = nb.resolve_tenant("local", local_space)
    config = nb.register_client(local_space, tenant, nb.load_public_jwk(local_space))
    answer = requests.get(
        f"{tenant.origin}/api/v1/oauth-clients/{config.client_id}",
        headers={"Authorization": f"Bearer {local_tenant.admin_key(local_space.root)}"},
        timeout=10,
    )
    kids = [jwk["kid"] for jwk in answer.json()["publicKeys"]]
    assert kids == [config.kid]


def test_register_local_known_client_id(
    local_space: Workspace, es384_key: SigningKey
) -> None:
    tenant = nb.resolve_tenant("local", local_space)
    client_id = local_tenant.register_client(local_space.root, es384_key.public_jwk)
    jwk = nb.load_public_jwk(local_space)
    config = nb.register_client(local_space, tenant, jwk, client_id=client_id)
    assert config.client_id == client_id


def test_register_local_unknown_client_id(local_space: Workspace) -> None:
    tenant = nb.resolve_tenant("local", local_space)
    jwk = nb.load_public_jwk(local_space)
    with pytest.raises(ConfigurationError, match=r"'not-registered'.*leave client_id"):
        nb.register_client(local_space, tenant, jwk, client_id="not-registered")
    assert local_space.load_client() is None


def test_register_local_unknown_environment(
    local_space: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(nb.CLIENT_ID_ENV, "not-registered")
    tenant = nb.resolve_tenant("local", local_space)
    jwk = nb.load_public_jwk(local_space)
    with pytest.raises(ConfigurationError, match=f"unset {nb.CLIENT_ID_ENV}"):
        nb.register_client(local_space, tenant, jwk)


def test_register_local_other_kid(local_space: Workspace) -> None:
    tenant = nb.resolve_tenant("local", local_space)
    other = SigningKey.generate("ES384")
    client_id = local_tenant.register_client(local_space.root, other.public_jwk)
    jwk = nb.load_public_jwk(local_space)
    with pytest.raises(ConfigurationError, match=f"'{client_id}'.*{jwk['kid']}"):
        nb.register_client(local_space, tenant, jwk, client_id=client_id)


def test_load_public_jwk_supplied_same(
    keyed_space: Workspace, es384_key: SigningKey, tmp_path: Path
) -> None:
    supplied = _pem_file(tmp_path, es384_key)
    jwk = nb.load_public_jwk(keyed_space, private_key=supplied)
    assert jwk["kid"] == es384_key.kid


def test_load_public_jwk_supplied_contradiction(
    keyed_space: Workspace, tmp_path: Path
) -> None:
    supplied = _pem_file(tmp_path, SigningKey.generate("ES384"))
    with pytest.raises(WorkspaceError, match="private key from parameter"):
        nb.load_public_jwk(keyed_space, private_key=supplied)


def test_load_public_jwk_supplied_environment(
    keyed_space: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = SigningKey.generate("ES384")
    monkeypatch.setenv(nb.PRIVATE_KEY_ENV, other.private_pem().decode())
    with pytest.raises(WorkspaceError, match=nb.PRIVATE_KEY_ENV):
        nb.load_public_jwk(keyed_space)


def test_require_local_tenant_real(keyed_space: Workspace) -> None:
    tenant = nb.resolve_tenant(REAL_TENANT, keyed_space)
    with pytest.raises(ConfigurationError, match="only against the local tenant"):
        nb.require_local_tenant(tenant, reason="it sends broken requests")


def test_require_local_tenant_local() -> None:
    tenant = nb.Tenant(origin="http://127.0.0.1:1", local=True, source="default")
    assert nb.require_local_tenant(tenant, reason="unused") is None


def _clock_offset(space: Workspace) -> float:
    url = local_tenant.ensure_local_tenant(space.root)
    key = local_tenant.admin_key(space.root)
    _, settings = admin_request(url, key, "GET", "/api/v1/local-tenant/settings")
    return float(settings["clockOffset"])


def test_shift_local_clock_ahead(local_space: Workspace) -> None:
    nb.shift_local_clock(local_space, 400)
    assert _clock_offset(local_space) == 400


def test_shift_local_clock_back(local_space: Workspace) -> None:
    nb.shift_local_clock(local_space, 400)
    nb.shift_local_clock(local_space, 0)
    assert _clock_offset(local_space) == 0


def test_load_public_jwk_alg_contradiction(keyed_space: Workspace) -> None:
    with pytest.raises(AlgorithmError):
        nb.load_public_jwk(keyed_space, alg="RS512")


# --- steps 03 to 05: the registered client ------------------------------------------


def test_load_client_missing(keyed_space: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="02_register_client"):
        nb.load_client(keyed_space)


def test_load_client_from_workspace(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    assert nb.load_client(keyed_space) == real_client


def test_load_client_same_tenant_accepted(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    config = nb.load_client(keyed_space, tenant="acme.eu.qlikcloud.com")
    assert config == real_client


def test_load_client_tenant_contradiction(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    with pytest.raises(WorkspaceError, match="contradicts"):
        nb.load_client(keyed_space, tenant="other.us.qlikcloud.com")


def test_load_client_local_contradiction(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    with pytest.raises(WorkspaceError, match="contradicts"):
        nb.load_client(keyed_space, tenant="local")


def test_load_client_environment_contradiction(
    keyed_space: Workspace, real_client: ClientConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(nb.TENANT_ENV, "other.us.qlikcloud.com")
    with pytest.raises(WorkspaceError, match=nb.TENANT_ENV):
        nb.load_client(keyed_space)


def test_load_client_id_contradiction(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    with pytest.raises(WorkspaceError, match="client ID"):
        nb.load_client(keyed_space, client_id="someone-else")


def test_load_client_alg_contradiction(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    with pytest.raises(AlgorithmError):
        nb.load_client(keyed_space, alg="RS256")


def test_load_key_registered(
    keyed_space: Workspace, real_client: ClientConfig, es384_key: SigningKey
) -> None:
    assert nb.load_key(keyed_space, real_client).kid == es384_key.kid


def test_load_key_unregistered_kid(keyed_space: Workspace) -> None:
    config = ClientConfig(REAL_TENANT, "client-1", "ES384", "another-kid")
    with pytest.raises(WorkspaceError, match="not the registered key"):
        nb.load_key(keyed_space, config)


def test_load_key_supplied_contradiction(
    keyed_space: Workspace,
    real_client: ClientConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = SigningKey.generate("ES384")
    monkeypatch.setenv(nb.PRIVATE_KEY_ENV, other.private_pem().decode())
    with pytest.raises(WorkspaceError, match=nb.PRIVATE_KEY_ENV):
        nb.load_key(keyed_space, real_client)


def test_assertion_reused_when_fresh(
    keyed_space: Workspace, real_client: ClientConfig, es384_key: SigningKey
) -> None:
    jwt = build_client_assertion(es384_key, "client-1", REAL_TENANT)
    keyed_space.save_assertion(jwt)
    assert nb.assertion_for_exchange(keyed_space, es384_key, real_client) == jwt


def test_assertion_signed_when_missing(
    keyed_space: Workspace, real_client: ClientConfig, es384_key: SigningKey
) -> None:
    jwt = nb.assertion_for_exchange(keyed_space, es384_key, real_client)
    assert keyed_space.load_assertion() == jwt


def test_assertion_replaced_when_expired(
    keyed_space: Workspace,
    real_client: ClientConfig,
    es384_key: SigningKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = float(int(time.time()))
    old = build_client_assertion(es384_key, "client-1", REAL_TENANT, now=_clock(start))
    keyed_space.save_assertion(old)
    later = _clock(start + 400)
    fresh = nb.assertion_for_exchange(keyed_space, es384_key, real_client, now=later)
    assert fresh != old
    assert decode_assertion(fresh).claims["iat"] == int(start + 400)
    assert "expired 1 min 40 s ago" in capsys.readouterr().out


def test_assertion_replaced_near_expiry(
    keyed_space: Workspace, real_client: ClientConfig, es384_key: SigningKey
) -> None:
    start = time.time()
    old = build_client_assertion(es384_key, "client-1", REAL_TENANT, now=_clock(start))
    keyed_space.save_assertion(old)
    later = _clock(start + 295)
    assert (
        nb.assertion_for_exchange(keyed_space, es384_key, real_client, now=later) != old
    )


def test_assertion_replaced_after_use(
    keyed_space: Workspace, real_client: ClientConfig, es384_key: SigningKey
) -> None:
    old = build_client_assertion(es384_key, "client-1", REAL_TENANT)
    keyed_space.save_assertion(old)
    keyed_space.save_token(_token(time.time() + 3600))
    assert nb.assertion_for_exchange(keyed_space, es384_key, real_client) != old


def test_assertion_replaced_other_tenant(
    keyed_space: Workspace, real_client: ClientConfig, es384_key: SigningKey
) -> None:
    old = build_client_assertion(es384_key, "client-1", "other.us.qlikcloud.com")
    keyed_space.save_assertion(old)
    assert nb.assertion_for_exchange(keyed_space, es384_key, real_client) != old


def _token(expires_at: float, value: str = "eyJ" + "a" * 200) -> AccessToken:
    response = {"access_token": value, "token_type": "Bearer", "expires_in": 21600}
    return AccessToken(value, "Bearer", expires_at, "user_default", response)


def test_token_for_call_missing(
    keyed_space: Workspace, real_client: ClientConfig, es384_key: SigningKey
) -> None:
    with pytest.raises(WorkspaceError, match="04_exchange_token"):
        nb.token_for_call(keyed_space, es384_key, real_client)


def test_token_for_call_valid(
    keyed_space: Workspace, real_client: ClientConfig, es384_key: SigningKey
) -> None:
    keyed_space.save_token(_token(time.time() + 3600))
    token = nb.token_for_call(keyed_space, es384_key, real_client)
    assert token.access_token == "eyJ" + "a" * 200


def test_token_for_call_renews_expired(local_space: Workspace) -> None:
    tenant = nb.resolve_tenant("local", local_space)
    jwk = nb.load_public_jwk(local_space)
    config = nb.register_client(local_space, tenant, jwk)
    key = nb.load_key(local_space, config)
    local_space.save_token(_token(time.time() - 10))
    token = nb.token_for_call(local_space, key, config)
    assert token.expires_at > time.time()
    assert local_space.load_token() == token


def test_load_client_restarts_local_tenant(local_space: Workspace) -> None:
    tenant = nb.resolve_tenant("local", local_space)
    nb.register_client(local_space, tenant, nb.load_public_jwk(local_space))
    local_tenant.stop_local_tenant(local_space.root)
    config = nb.load_client(local_space, tenant="local")
    assert requests.get(config.tenant + "/", timeout=10).ok


# --- display --------------------------------------------------------------------------


def test_jwk_text_explains_members(es384_key: SigningKey) -> None:
    text = nb.jwk_text(es384_key.public_jwk)
    for member in ("kty", "crv", "x", "y", "alg", "use", "kid"):
        assert f"\n{member} " in text, member


def test_jwk_text_rsa_members(rs256_key: SigningKey) -> None:
    text = nb.jwk_text(rs256_key.public_jwk)
    assert "RSA modulus" in text
    assert "public exponent" in text


def test_show_jwk_plain_has_no_widget(
    es384_key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    nb.show_jwk(es384_key.public_jwk, interactive=False)
    out = capsys.readouterr().out
    assert es384_key.kid in out
    assert "VBox" not in out


def test_show_jwk_plain_json_once(
    es384_key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    nb.show_jwk(es384_key.public_jwk, interactive=False)
    assert capsys.readouterr().out.count(f'"kid": "{es384_key.kid}"') == 1


def test_show_jwk_interactive_json_once(
    es384_key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    nb.show_jwk(es384_key.public_jwk, interactive=True)
    assert capsys.readouterr().out.count(f'"kid": "{es384_key.kid}"') == 1


def test_show_jwk_interactive_keeps_members(
    es384_key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    nb.show_jwk(es384_key.public_jwk, interactive=True)
    assert nb.jwk_members_text(es384_key.public_jwk) in capsys.readouterr().out


def test_show_jwk_interactive_has_no_text_box(
    es384_key: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    nb.show_jwk(es384_key.public_jwk, interactive=True)
    assert "Textarea" not in capsys.readouterr().out


def test_jwk_text_json_then_members(es384_key: SigningKey) -> None:
    jwk = es384_key.public_jwk
    assert nb.jwk_text(jwk) == (
        nb.jwk_json_text(jwk) + "\n\n" + nb.jwk_members_text(jwk)
    )


def test_jwk_copy_widget_button(es384_key: SigningKey) -> None:
    button = nb.jwk_copy_widget(es384_key.public_jwk)
    assert "navigator.clipboard.writeText" in button.value


def test_jwk_copy_widget_copies_shown_json(es384_key: SigningKey) -> None:
    button = nb.jwk_copy_widget(es384_key.public_jwk)
    shown = html.escape(nb.jwk_json_text(es384_key.public_jwk), quote=True)
    assert f'data-jwk="{shown}"' in button.value


def test_key_files_text_modes(keyed_space: Workspace) -> None:
    lines = nb.key_files_text(keyed_space).splitlines()
    private = next(line for line in lines if "private_key.pem" in line)
    assert " 0600 " in private


def test_key_files_text_missing(space: Workspace) -> None:
    assert "missing" in nb.key_files_text(space)


def test_openssl_text_rsa_bits(rs256_key: SigningKey) -> None:
    assert "rsa_keygen_bits:2048" in nb.openssl_text(rs256_key)


def test_openssl_text_ec_curve(es384_key: SigningKey) -> None:
    assert "ec_paramgen_curve:P-384" in nb.openssl_text(es384_key)


def test_checklist_text_open(capsys: pytest.CaptureFixture[str]) -> None:
    lines = nb.checklist_text().splitlines()
    assert len(lines) == len(CHECKLIST)
    assert all(line.startswith("[ ]") for line in lines)


def test_checklist_text_jwk_first() -> None:
    assert "public JWK" in nb.checklist_text().splitlines()[0]


def test_checklist_text_done() -> None:
    assert all(
        line.startswith("[x]") for line in nb.checklist_text(done=True).split("\n")
    )


def test_checklist_names_every_setting() -> None:
    text = nb.checklist_text()
    for setting in ("Web", "Private Key JWT", "Trusted", "machine-to-machine"):
        assert setting in text, setting


def test_checklist_text_names_fields() -> None:
    assert '(allowedAuthMethods: ["private_key_jwt"])' in nb.checklist_text()


def _checklist_boxes(done: bool = False) -> list[widgets.Checkbox]:
    return [row.children[0] for row in nb.checklist_widget(done=done).children]


def _checklist_labels() -> list[str]:
    rows = nb.checklist_widget().children
    return [html.unescape(row.children[1].value) for row in rows]


def test_checklist_widget_boxes() -> None:
    boxes = _checklist_boxes(done=True)
    assert len(boxes) == len(nb.checklist_text().splitlines())
    assert all(isinstance(box, widgets.Checkbox) and box.value for box in boxes)


def test_checklist_widget_open() -> None:
    assert not any(box.value for box in _checklist_boxes())


def test_checklist_labels_wrap() -> None:
    rows = nb.checklist_widget().children
    assert all(isinstance(row.children[1], widgets.HTML) for row in rows)
    assert all(box.description == "" for box in _checklist_boxes())
    assert all(box.layout.flex == "0 0 auto" for box in _checklist_boxes())


def test_checklist_widget_names_fields() -> None:
    labels = _checklist_labels()
    step = "5. Authentication method: Private Key JWT"
    assert f'{step} (allowedAuthMethods: ["private_key_jwt"])' in labels


def test_checklist_widget_labels_match_text() -> None:
    labels = _checklist_labels()
    lines = nb.checklist_text().splitlines()
    assert [" ".join(line[4:].split()) for line in lines] == labels


def test_show_checklist_plain_same_text(capsys: pytest.CaptureFixture[str]) -> None:
    nb.show_checklist(interactive=False)
    assert capsys.readouterr().out == nb.checklist_text() + "\n"


def test_show_checklist_interactive_no_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    nb.show_checklist(interactive=True)
    assert "[ ]" not in capsys.readouterr().out


def test_assertion_text_hides_assertion(es384_key: SigningKey) -> None:
    jwt = build_client_assertion(es384_key, "client-1", REAL_TENANT)
    text = nb.assertion_text(jwt)
    assert jwt not in text
    for part in jwt.split("."):
        assert part not in text


def test_assertion_text_explains_claims(es384_key: SigningKey) -> None:
    jwt = build_client_assertion(es384_key, "client-1", REAL_TENANT)
    text = nb.assertion_text(jwt)
    for name in ("alg", "kid", "typ", "iss", "sub", "aud", "jti", "iat", "exp"):
        assert f"\n{name} " in text, name


def test_assertion_text_readable_times(es384_key: SigningKey) -> None:
    start = 1_800_000_000.0
    jwt = build_client_assertion(es384_key, "c", REAL_TENANT, now=_clock(start))
    text = nb.assertion_text(jwt, now=_clock(start))
    assert "1800000300 = 2027-01-15 08:05:00 UTC, in 5 min" in text


def test_assertion_text_signature_size(es384_key: SigningKey) -> None:
    jwt = build_client_assertion(es384_key, "client-1", REAL_TENANT)
    assert "signature (96 bytes)" in nb.assertion_text(jwt)


def test_curl_token_reads_file(
    keyed_space: Workspace, real_client: ClientConfig
) -> None:
    text = nb.curl_token_text(keyed_space, real_client)
    assert f"$(cat {keyed_space.assertion})" in text
    assert f"{REAL_TENANT}/oauth/token" in text


def test_curl_api_bearer(keyed_space: Workspace, real_client: ClientConfig) -> None:
    text = nb.curl_api_text(keyed_space, real_client)
    assert "Authorization: Bearer $ACCESS_TOKEN" in text
    assert "--location" in text


def _response(status: int, reason: str | None, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason  # type: ignore[assignment]
    response.headers.update(headers)
    return response


def test_redirect_text_location() -> None:
    response = _response(301, "Moved Permanently", Location="/api/v1/users/u1")
    assert nb.redirect_text(response) == (
        "301 Moved Permanently\nLocation: /api/v1/users/u1"
    )


def test_redirect_text_reason_missing() -> None:
    text = nb.redirect_text(_response(401, None))
    assert text.splitlines()[0] == "401 Unauthorized"


def test_redirect_text_no_location() -> None:
    text = nb.redirect_text(_response(401, None))
    assert "None" not in text


def test_stop_command_quotes_workspace(tmp_path: Path) -> None:
    space = Workspace(tmp_path / "my ws")
    assert nb.stop_command(space) == (
        f".venv/bin/qlik-tutorial local-tenant stop --workspace '{space.root}'"
    )


def test_show_stop_command_running(
    local_space: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    local_tenant.ensure_local_tenant(local_space.root)
    nb.show_stop_command(local_space)
    out = capsys.readouterr().out
    assert f"{nb.stop_command(local_space)}\n" in out
    assert "7200 s" in out


def test_show_stop_command_stopped(
    space: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    nb.show_stop_command(space)
    assert capsys.readouterr().out.startswith("No local tenant runs for this workspace")


def test_token_text_masks_token() -> None:
    token = _token(time.time() + 3600)
    text = nb.token_text(token)
    assert token.access_token not in text
    assert token.masked in text


def test_token_issued_text_hides_token() -> None:
    token = _token(time.time() + 3600)
    text = nb.token_issued_text(token)
    assert token.access_token[:10] not in text
    assert text.startswith("Token issued: Bearer, expires in")


def _server_error() -> TokenRequestError:
    return TokenRequestError(
        "Token request failed: Invalid audience",
        value="HTTP 401 OAUTH-27 from https://acme.eu.qlikcloud.com/oauth/token",
        cause="the assertion's aud claim differs from the token endpoint URL",
        fix="set aud to exactly https://acme.eu.qlikcloud.com/oauth/token",
        status=401,
        url="https://acme.eu.qlikcloud.com/oauth/token",
    )


def test_error_text_labels_server_answer() -> None:
    lines = nb.error_text(_server_error()).splitlines()
    assert lines[0] == "TokenRequestError: Token request failed: Invalid audience"
    assert lines[1].startswith("  answer: HTTP 401 OAUTH-27")
    assert lines[-1].startswith("  fix:    set aud to exactly")


def test_error_text_labels_value() -> None:
    error = TenantTimeoutError(
        "Token request timed out", value="http://127.0.0.1:9/oauth/token"
    )
    text = nb.error_text(error)
    assert text.splitlines()[1] == "  value:  http://127.0.0.1:9/oauth/token"


def test_error_text_wraps_lines() -> None:
    error = ConfigurationError("Bad", cause="word " * 60, fix="fix it")
    lines = nb.error_text(error).splitlines()
    assert max(len(line) for line in lines) <= ERROR_WIDTH
    assert lines[2].startswith(" " * 10 + "word")


def test_error_text_keeps_urls_whole() -> None:
    url = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    error = ConfigurationError("Bad", cause="x " * 36, fix="send " + url)
    assert url in nb.error_text(error)


def test_summary_bundle_mimetype() -> None:
    bundle = nb.summary_bundle("RS256 key pair", alg="RS256")
    assert bundle[nb.SUMMARY_MIMETYPE] == {"line": "RS256 key pair", "alg": "RS256"}


def test_summary_bundle_plain_text() -> None:
    assert nb.summary_bundle("line")["text/plain"] == "line"


def test_displays_hide_private_key(
    keyed_space: Workspace,
    real_client: ClientConfig,
    es384_key: SigningKey,
    assert_no_key_material: Callable[[str, object], None],
) -> None:
    jwt = build_client_assertion(es384_key, "client-1", REAL_TENANT)
    shown = "\n".join(
        [
            nb.jwk_text(es384_key.public_jwk),
            nb.key_files_text(keyed_space),
            nb.openssl_text(es384_key),
            nb.assertion_text(jwt),
            nb.curl_token_text(keyed_space, real_client),
            nb.token_issued_text(_token(time.time() + 60)),
            repr(es384_key),
        ]
    )
    assert_no_key_material(shown, es384_key.private_key)
