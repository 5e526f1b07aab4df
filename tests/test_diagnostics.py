"""Pre-flight checks, clock offset, tenant probe and the doctor command."""

from __future__ import annotations

import base64
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from http_fixtures import Reply, ScriptedServer

from qlik_tutorial import cli
from qlik_tutorial.assertion import build_client_assertion, sign_jws
from qlik_tutorial.diagnostics import (
    CHECKS,
    GRANT_TYPE_URN,
    ClockOffset,
    Finding,
    check_clock_offset,
    diagnose,
    doctor,
    estimate_clock_offset,
    finding_for_error,
    format_findings,
    probe_tenant,
)
from qlik_tutorial.diagnostics.findings import FINDINGS_WIDTH
from qlik_tutorial.errors import (
    AlgorithmError,
    PrivateKeyError,
    TenantTimeoutError,
    TenantUnreachableError,
    TokenRequestError,
)
from qlik_tutorial.keys import SigningKey, write_key_files
from qlik_tutorial.local_tenant import (
    local_tenant_status,
    register_client,
    stop_local_tenant,
)
from qlik_tutorial.responses import raise_for_answer
from qlik_tutorial.token_endpoint import AccessToken
from qlik_tutorial.troubleshooting import (
    ROW_ASSERTION_TYPE,
    ROW_AUDIENCE,
    ROW_CLIENT,
    ROW_SIGNATURE,
    ROW_TIMEOUT,
)
from qlik_tutorial.workspace import ClientConfig, Workspace

TENANT = "https://acme.eu.qlikcloud.com"
TOKEN_URL = TENANT + "/oauth/token"
CLIENT_ID = "3f1c9e6a0b2d4c8e9f7a6b5c4d3e2f1a"
NOW = 1_800_000_000.0
JTI = "0b9a4c3e-7d2f-4e1a-9b8c-5d6e7f8a9b0c"


def clock() -> float:
    return NOW


@pytest.fixture(scope="module")
def other_rsa_key() -> SigningKey:
    """An RSA key that is not the registered one."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey.from_private_key(private_key, "RS256")


def claims(**changes: Any) -> dict[str, Any]:
    """Return good claims with ``changes``; a value of None removes the claim."""
    good: dict[str, Any] = {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": TOKEN_URL,
        "jti": JTI,
        "iat": int(NOW),
        "exp": int(NOW) + 300,
    }
    good.update(changes)
    return {name: value for name, value in good.items() if value is not None}


def header(key: SigningKey, **changes: Any) -> dict[str, Any]:
    """Return the good header for ``key`` with ``changes``; None removes a member."""
    good: dict[str, Any] = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    good.update(changes)
    return {name: value for name, value in good.items() if value is not None}


def check(
    assertion: str | None, key: SigningKey | None, **options: Any
) -> list[Finding]:
    """Run diagnose with everything known about the good configuration."""
    settings: dict[str, Any] = {
        "key": key,
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "registered_jwks": [key.public_jwk] if key else None,
        "now": clock,
    }
    settings.update(options)
    return diagnose(assertion, **settings)


def names(findings: list[Finding]) -> list[str]:
    return [finding.check for finding in findings]


def replace_signature(jwt: str, signature: bytes) -> str:
    head, body, _ = jwt.split(".")
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{head}.{body}.{encoded}"


def der_signature(jwt: str) -> bytes:
    raw = base64.urlsafe_b64decode(jwt.split(".")[2] + "==")
    r = int.from_bytes(raw[:48], "big")
    s = int.from_bytes(raw[48:], "big")
    return encode_dss_signature(r, s)


# --- good assertions stay quiet ---------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "RS512", "ES384"])
def test_diagnose_good_assertion_quiet(
    alg: str, request: pytest.FixtureRequest
) -> None:
    key: SigningKey = request.getfixturevalue(f"{alg.lower()}_key")
    assertion = build_client_assertion(key, CLIENT_ID, TENANT, now=clock)
    assert check(assertion, key) == []


def test_diagnose_good_assertion_nothing_known(rs256_key: SigningKey) -> None:
    assertion = build_client_assertion(rs256_key, CLIENT_ID, TENANT, now=clock)
    assert diagnose(assertion, now=clock) == []


def test_diagnose_builds_assertion(es384_key: SigningKey) -> None:
    assert check(None, es384_key) == []


def test_diagnose_without_anything() -> None:
    assert diagnose(now=clock) == []


# --- each check fires on its fault -----------------------------------------

# check name -> (header changes, claim changes, diagnose options, expected row)
FAULTS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str | None]] = {
    "alg_supported": ({"alg": "HS256"}, {}, {}, ROW_SIGNATURE),
    "key_fits_alg": ({"alg": "ES384"}, {}, {"registered_jwks": None}, ROW_SIGNATURE),
    "alg_matches_registered": ({"alg": "RS512"}, {}, {}, ROW_SIGNATURE),
    "kid_present": ({"kid": None}, {}, {}, None),
    "kid_registered": ({"kid": "not-registered"}, {}, {}, None),
    "kid_matches_key": ({"kid": "not-registered"}, {}, {}, ROW_SIGNATURE),
    "claims_present": ({}, {"aud": None}, {}, None),
    "iss_client_id": ({}, {"iss": "someone-else"}, {}, ROW_CLIENT),
    "sub_client_id": ({}, {"sub": "someone-else"}, {}, ROW_CLIENT),
    "iss_sub_differ": ({}, {"sub": "someone-else"}, {"client_id": None}, ROW_CLIENT),
    "aud_string": ({}, {"aud": [TOKEN_URL]}, {}, ROW_AUDIENCE),
    "aud_trailing_slash": ({}, {"aud": TOKEN_URL + "/"}, {}, ROW_AUDIENCE),
    "aud_double_slash": ({}, {"aud": TENANT + "//oauth/token"}, {}, ROW_AUDIENCE),
    "aud_host": (
        {},
        {"aud": "https://acme.us.qlikcloud.com/oauth/token"},
        {},
        ROW_AUDIENCE,
    ),
    "aud_token_url": ({}, {"aud": TENANT + "/oauth/authorize"}, {}, ROW_AUDIENCE),
    "claim_types": ({}, {"iat": "2027-01-15T08:00:00"}, {}, None),
    "lifetime_positive": ({}, {"exp": int(NOW)}, {}, None),
    "lifetime_too_long": ({}, {"exp": int(NOW) + 600}, {}, None),
    "iat_local_time": ({}, {"iat": int(NOW) + 7200, "exp": int(NOW) + 7500}, {}, None),
    "iat_future": ({}, {"iat": int(NOW) + 120, "exp": int(NOW) + 400}, {}, None),
    "expired": ({}, {"iat": int(NOW) - 400, "exp": int(NOW) - 100}, {}, None),
    "jti_present": ({}, {"jti": None}, {}, None),
    "jti_reused": ({}, {}, {"sent_jtis": {JTI}}, None),
    "assertion_type": ({}, {}, {"assertion_type": GRANT_TYPE_URN}, ROW_ASSERTION_TYPE),
    "form_encoded": ({}, {}, {"content_type": "application/json"}, None),
    "client_id": ({}, {}, {"client_id": " "}, ROW_CLIENT),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_check_fires_on_fault(name: str, rs256_key: SigningKey) -> None:
    header_changes, claim_changes, options, _ = FAULTS[name]
    assertion = sign_jws(
        header(rs256_key, **header_changes), claims(**claim_changes), rs256_key
    )
    assert name in names(check(assertion, rs256_key, **options))


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_check_row(name: str, rs256_key: SigningKey) -> None:
    header_changes, claim_changes, options, row = FAULTS[name]
    assertion = sign_jws(
        header(rs256_key, **header_changes), claims(**claim_changes), rs256_key
    )
    found = {
        finding.check: finding for finding in check(assertion, rs256_key, **options)
    }
    assert found[name].row == row


def test_every_check_listed() -> None:
    tested = set(FAULTS) | {
        "assertion_format",
        "key_matches_registered",
        "signature_format",
        "signature_verifies",
        "clock_offset",
        "timeout",
        "unreachable",
        "local_tenant_stopped",
        "client_registered",
        "nothing_to_check",
    }
    assert set(CHECKS) == tested


def test_alg_none_fires(rs256_key: SigningKey) -> None:
    assertion = sign_jws(header(rs256_key, alg="none"), claims(), rs256_key)
    assert "alg_supported" in names(check(assertion, rs256_key))


def test_check_names_value(rs256_key: SigningKey) -> None:
    assertion = sign_jws(header(rs256_key), claims(aud=TOKEN_URL + "/"), rs256_key)
    (finding,) = check(assertion, rs256_key)
    assert finding.value == TOKEN_URL + "/"


def test_check_fix_names_expected(rs256_key: SigningKey) -> None:
    assertion = sign_jws(header(rs256_key), claims(aud=TOKEN_URL + "/"), rs256_key)
    (finding,) = check(assertion, rs256_key)
    assert TOKEN_URL + "," in finding.fix


def test_aud_checked_without_tenant(rs256_key: SigningKey) -> None:
    assertion = sign_jws(header(rs256_key), claims(aud=TOKEN_URL + "/"), rs256_key)
    assert names(diagnose(assertion, now=clock)) == ["aud_trailing_slash"]


@pytest.mark.parametrize(
    "text",
    [
        "not-a-jwt",
        "a.b",
        "eyJhbGciOiJSUzI1NiJ9.%%%.c2ln",
        "W10.e30.c2ln",
        "e30.e30.a=b",
    ],
)
def test_assertion_format_fires(text: str) -> None:
    assert names(diagnose(text, now=clock)) == ["assertion_format"]


def test_key_not_registered_fires(
    rs256_key: SigningKey, other_rsa_key: SigningKey
) -> None:
    assertion = sign_jws(
        header(other_rsa_key, kid=rs256_key.kid), claims(), other_rsa_key
    )
    findings = check(assertion, other_rsa_key, registered_jwks=[rs256_key.public_jwk])
    assert "key_matches_registered" in names(findings)


def test_other_key_signature_fires(
    rs256_key: SigningKey, other_rsa_key: SigningKey
) -> None:
    assertion = sign_jws(header(rs256_key), claims(), other_rsa_key)
    assert names(check(assertion, rs256_key)) == ["signature_verifies"]


def test_changed_claims_signature_fires(es384_key: SigningKey) -> None:
    assertion = sign_jws(header(es384_key), claims(), es384_key)
    head, _, signature = assertion.split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(sub="x")).encode())
    changed = f"{head}.{forged.rstrip(b'=').decode()}.{signature}"
    assert "signature_verifies" in names(check(changed, es384_key))


def test_der_signature_fires(es384_key: SigningKey) -> None:
    assertion = sign_jws(header(es384_key), claims(), es384_key)
    der = replace_signature(assertion, der_signature(assertion))
    assert names(check(der, es384_key)) == ["signature_format"]


def test_der_signature_cause(es384_key: SigningKey) -> None:
    assertion = sign_jws(header(es384_key), claims(), es384_key)
    der = replace_signature(assertion, der_signature(assertion))
    (finding,) = diagnose(der, now=clock)
    assert "DER" in finding.cause


def test_short_rsa_signature_fires(rs256_key: SigningKey) -> None:
    assertion = sign_jws(header(rs256_key), claims(), rs256_key)
    cut = replace_signature(assertion, b"\x01" * 128)
    assert names(check(cut, rs256_key)) == ["signature_format"]


def names_in_zone(
    zone: str, iat: int, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Check an assertion issued at ``iat`` while the local time zone is ``zone``."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assertion = sign_jws(header(key), claims(iat=iat, exp=iat + 300), key)
        return names(check(assertion, key))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_local_time_behind_utc(
    rs256_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = names_in_zone("EST+05", int(NOW) - 5 * 3600, rs256_key, monkeypatch)
    assert found == ["iat_local_time"]


def test_hour_old_assertion_expired(
    rs256_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = names_in_zone("UTC0", int(NOW) - 3600, rs256_key, monkeypatch)
    assert found == ["expired"]


def test_bad_tenant_finding(rs256_key: SigningKey) -> None:
    assertion = build_client_assertion(rs256_key, CLIENT_ID, TENANT, now=clock)
    assert names(check(assertion, rs256_key, tenant="ftp://acme")) == ["tenant_url"]


def test_assertion_type_case_cause() -> None:
    (finding,) = diagnose(
        None, assertion_type="URN:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assert "case" in finding.cause


def test_grant_type_urn_cause() -> None:
    (finding,) = diagnose(None, assertion_type=GRANT_TYPE_URN)
    assert "grant" in finding.cause


def test_form_with_charset_quiet() -> None:
    content_type = "application/x-www-form-urlencoded; charset=utf-8"
    assert diagnose(None, content_type=content_type) == []


def test_registered_alg_differs(es384_key: SigningKey) -> None:
    registered = [{"kid": es384_key.kid, "alg": "RS256"}]
    findings = check(None, es384_key, registered_jwks=registered)
    assert names(findings) == ["alg_matches_registered"]


def test_client_config_fills_in(rs256_key: SigningKey) -> None:
    client = ClientConfig(TENANT, CLIENT_ID, "RS256", rs256_key.kid)
    assertion = sign_jws(header(rs256_key), claims(iss="someone-else"), rs256_key)
    findings = diagnose(assertion, key=rs256_key, client=client, now=clock)
    assert names(findings) == ["iss_client_id"]


def test_client_config_registered_kid(
    rs256_key: SigningKey, other_rsa_key: SigningKey
) -> None:
    client = ClientConfig(TENANT, CLIENT_ID, "RS256", rs256_key.kid)
    findings = diagnose(None, key=other_rsa_key, client=client, now=clock)
    assert names(findings) == ["key_matches_registered", "kid_registered"]


# --- findings from errors and their text -------------------------------------


def test_finding_for_server_error() -> None:
    error = TokenRequestError(
        "Token request failed: Invalid audience",
        value="HTTP 401 OAUTH-27",
        cause="aud differs",
        fix="set aud",
        status=401,
        url=TOKEN_URL,
        case="invalid_audience",
    )
    assert finding_for_error(error).row == ROW_AUDIENCE


def test_finding_for_unknown_case() -> None:
    error = TokenRequestError("failed", status=500, url=TOKEN_URL, case="no_such_case")
    assert finding_for_error(error).row is None


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (TenantTimeoutError("Token request timed out"), "timeout"),
        (TenantUnreachableError("Token request failed"), "unreachable"),
    ],
)
def test_finding_for_transport_error(error: Exception, name: str) -> None:
    assert isinstance(error, TenantTimeoutError | TenantUnreachableError)
    finding = finding_for_error(error)
    assert (finding.check, finding.row) == (name, ROW_TIMEOUT)


@pytest.mark.parametrize(
    ("error", "name", "row"),
    [
        (
            AlgorithmError("Unsupported algorithm", value="HS256"),
            "key_fits_alg",
            ROW_SIGNATURE,
        ),
        (PrivateKeyError("RSA key is too small", value="1024"), "private_key", None),
    ],
)
def test_finding_for_configuration_error(
    error: AlgorithmError | PrivateKeyError, name: str, row: str | None
) -> None:
    finding = finding_for_error(error)
    assert (finding.check, finding.row) == (name, row)


def test_finding_str_shape() -> None:
    finding = Finding("x", None, "Broken", "because", "mend it", "v")
    assert str(finding) == "Broken: 'v'. Cause: because. Fix: mend it"


def test_format_findings_empty() -> None:
    assert format_findings([]) == "No problem found."


def test_format_findings_names_row() -> None:
    finding = Finding("aud_host", ROW_AUDIENCE, "Bad aud", "cause", "fix", "x")
    assert f"table row: {ROW_AUDIENCE}" in format_findings([finding])


LONG_FINDING = Finding(
    "key_matches_registered",
    ROW_AUDIENCE,
    "Signing key is not the registered key",
    "this private key's kid is " + "k" * 43 + ", but the client's registered "
    "public keys have kid " + "t" * 43,
    "load the private key that was registered, or register this key's public "
    "JWK (kid " + "k" * 43 + ") with the client",
    "k" * 43,
)


def test_format_findings_width() -> None:
    lines = format_findings([LONG_FINDING]).splitlines()
    assert [line for line in lines if len(line) > FINDINGS_WIDTH] == []


def test_format_findings_hanging_indent() -> None:
    lines = format_findings([LONG_FINDING]).splitlines()
    continued = [line for line in lines if line.startswith("   ")]
    assert len(continued) >= 2
    assert all(line[:13].isspace() and not line[13].isspace() for line in continued)


def test_format_findings_labelled_lines() -> None:
    lines = format_findings([LONG_FINDING]).splitlines()[1:]
    labels = [line.split(":")[0].strip() for line in lines if line[2] != " "]
    assert labels == ["value", "table row", "cause", "fix"]


def test_format_findings_heading() -> None:
    first = format_findings([LONG_FINDING]).splitlines()[0]
    assert first == "[key_matches_registered] Signing key is not the registered key"


@pytest.mark.parametrize("padding", range(0, 40, 3))
def test_format_findings_keeps_command_whole(padding: int) -> None:
    command = "curl https://acme.eu.qlikcloud.com:8443/oauth/token"
    fix = "x" * padding + " check the network and that the tenant answers: " + command
    finding = Finding("tenant_timeout", ROW_AUDIENCE, "Timed out", "cause", fix, "v")
    lines = format_findings([finding]).splitlines()
    assert any(command in line for line in lines)
    assert "\u00a0" not in "".join(lines)


# --- clock offset ------------------------------------------------------------


def test_clock_offset_estimate() -> None:
    offset = estimate_clock_offset(
        formatdate(NOW + 120, usegmt=True), sent_at=NOW, received_at=NOW + 0.2
    )
    assert offset is not None
    assert abs(offset.seconds - 120.4) < 0.01


def test_clock_offset_uncertainty() -> None:
    offset = estimate_clock_offset(
        formatdate(NOW, usegmt=True), sent_at=NOW, received_at=NOW + 2
    )
    assert offset is not None
    assert offset.uncertainty == 1.5


@pytest.mark.parametrize("header_value", [None, "", "yesterday", "Mon, 99 Foo 2026"])
def test_clock_offset_unreadable(header_value: str | None) -> None:
    assert estimate_clock_offset(header_value, sent_at=NOW, received_at=NOW) is None


def test_small_clock_offset_quiet() -> None:
    assert check_clock_offset(ClockOffset(10.0, 0.6)) is None


def test_uncertain_clock_offset_quiet() -> None:
    assert check_clock_offset(ClockOffset(-35.0, 6.0)) is None


def test_large_clock_offset_reported() -> None:
    finding = check_clock_offset(ClockOffset(-90.0, 0.6))
    assert finding is not None
    assert finding.value == "-90 s"


def test_behind_clock_offset_cause() -> None:
    finding = check_clock_offset(ClockOffset(-90.0, 0.6))
    assert finding is not None
    assert "future" in finding.cause


def expired_answer() -> Reply:
    body = {"errors": [{"code": "X-9", "title": "Assertion expired", "status": "401"}]}
    return Reply(401, body)


def test_expired_answer_names_offset(
    scripted_server: Callable[[], ScriptedServer],
) -> None:
    server = scripted_server().route("POST", "/oauth/token", expired_answer())
    answer = requests.post(server.url + "/oauth/token", timeout=5)
    behind = lambda: time.time() - 600  # noqa: E731
    with pytest.raises(TokenRequestError) as raised:
        raise_for_answer(answer, error_class=TokenRequestError, now=behind)
    assert "ahead of this machine's" in raised.value.cause


def test_expired_answer_in_sync(
    scripted_server: Callable[[], ScriptedServer],
) -> None:
    server = scripted_server().route("POST", "/oauth/token", expired_answer())
    answer = requests.post(server.url + "/oauth/token", timeout=5)
    with pytest.raises(TokenRequestError) as raised:
        raise_for_answer(answer, error_class=TokenRequestError)
    assert "machine's (±" not in raised.value.cause


# --- tenant probe over real HTTP ---------------------------------------------


@pytest.fixture
def tenant_server(
    scripted_server: Callable[[], ScriptedServer],
) -> Iterator[ScriptedServer]:
    server = scripted_server()
    server.route("GET", "/", Reply(200, "<html>tenant</html>"))
    yield server


def test_probe_in_sync_quiet(tenant_server: ScriptedServer) -> None:
    assert probe_tenant(tenant_server.url, timeout=5) == []


def test_probe_sends_get_root(tenant_server: ScriptedServer) -> None:
    probe_tenant(tenant_server.url, timeout=5)
    assert [(r.method, r.route) for r in tenant_server.requests] == [("GET", "/")]


def test_probe_reports_clock_offset(tenant_server: ScriptedServer) -> None:
    behind = lambda: time.time() - 600  # noqa: E731
    assert names(probe_tenant(tenant_server.url, timeout=5, now=behind)) == [
        "clock_offset"
    ]


@pytest.mark.timeout(10)
def test_probe_silent_tenant(silent_tenant: str) -> None:
    findings = probe_tenant(silent_tenant, timeout=(1.0, 0.3))
    assert [(f.check, f.row) for f in findings] == [("timeout", ROW_TIMEOUT)]


def test_probe_refused_tenant(refused_tenant: str) -> None:
    findings = probe_tenant(refused_tenant, timeout=2)
    assert [(f.check, f.row) for f in findings] == [("unreachable", ROW_TIMEOUT)]


def test_probe_plain_http_tenant(tenant_server: ScriptedServer) -> None:
    tenant = tenant_server.url.replace("http://", "https://")
    (finding,) = probe_tenant(tenant, timeout=2)
    assert f"use http://127.0.0.1:{tenant_server.port}" in finding.fix


def test_probe_bad_tenant() -> None:
    assert names(probe_tenant("http://acme.example.com")) == ["tenant_url"]


# --- doctor ------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path, rs256_key: SigningKey) -> Workspace:
    """A workspace with the RS256 key registered on TENANT."""
    space = Workspace(tmp_path / "ws").ensure()
    write_key_files(space.root, rs256_key)
    space.save_client(ClientConfig(TENANT, CLIENT_ID, "RS256", rs256_key.kid))
    return space


def run(*argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = doctor(list(argv), stdin=io.StringIO(stdin), stdout=out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QLIK_TENANT", "QLIK_CLIENT_ID", "QLIK_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_doctor_good_workspace(workspace: Workspace) -> None:
    code, _ = run("--workspace", str(workspace.root), "--offline")
    assert code == 0


def test_doctor_good_workspace_output(workspace: Workspace) -> None:
    _, output = run("--workspace", str(workspace.root), "--offline")
    assert "No problem found." in output


def test_doctor_bad_assertion(workspace: Workspace, rs256_key: SigningKey) -> None:
    bad = build_client_assertion(rs256_key, "someone-else", TENANT)
    code, output = run(
        "--workspace", str(workspace.root), "--offline", "--assertion", bad
    )
    assert code == 1
    assert "[iss_client_id]" in output


def test_doctor_assertion_stdin(workspace: Workspace, rs256_key: SigningKey) -> None:
    good = build_client_assertion(rs256_key, CLIENT_ID, TENANT)
    code, output = run(
        "--workspace", str(workspace.root), "--offline", "--assertion", "-", stdin=good
    )
    assert code == 0, output


def test_doctor_hides_assertion(workspace: Workspace, rs256_key: SigningKey) -> None:
    bad = build_client_assertion(rs256_key, "someone-else", TENANT)
    _, output = run("--workspace", str(workspace.root), "--offline", "--assertion", bad)
    assert bad.split(".")[2] not in output


def test_doctor_hides_key(
    workspace: Workspace,
    rs256_key: SigningKey,
    rsa_private_key: rsa.RSAPrivateKey,
    assert_no_key_material: Callable[[str, object], None],
) -> None:
    _, output = run("--workspace", str(workspace.root), "--offline")
    assert_no_key_material(output, rsa_private_key)


def test_doctor_key_from_stdin(tmp_path: Path, es384_key: SigningKey) -> None:
    pem = es384_key.private_pem().decode()
    code, output = run(
        "--workspace", str(tmp_path / "empty"), "--tenant", TENANT,
        "--client-id", CLIENT_ID, "--key", "-", "--offline", stdin=pem,
    )  # fmt: skip
    assert code == 0, output


def test_doctor_wrong_alg_for_key(workspace: Workspace) -> None:
    code, output = run(
        "--workspace", str(workspace.root), "--offline", "--alg", "ES384"
    )
    assert code == 1
    assert "[key_fits_alg]" in output


def test_doctor_other_key(
    workspace: Workspace, other_rsa_key: SigningKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "other.pem"
    key_file.write_bytes(other_rsa_key.private_pem())
    _, output = run(
        "--workspace", str(workspace.root), "--offline", "--key", str(key_file)
    )
    assert "[key_matches_registered]" in output


def test_doctor_nothing_to_check(tmp_path: Path) -> None:
    code, output = run("--workspace", str(tmp_path / "empty"), "--offline")
    assert code == 1
    assert "[nothing_to_check]" in output


def test_doctor_both_stdin(workspace: Workspace) -> None:
    code, _ = run("--workspace", str(workspace.root), "--key", "-", "--assertion", "-")
    assert code == 2


def test_doctor_sent_assertion(workspace: Workspace, rs256_key: SigningKey) -> None:
    sent = build_client_assertion(rs256_key, CLIENT_ID, TENANT)
    workspace.save_assertion(sent)
    token = AccessToken("secret-token", "Bearer", time.time() + 600, "user_default")
    workspace.save_token(token)
    stamp = workspace.assertion.stat().st_mtime
    os.utime(workspace.token_json, (stamp + 1, stamp + 1))
    _, output = run(
        "--workspace", str(workspace.root), "--offline", "--assertion", sent
    )
    assert "[jti_reused]" in output


def test_doctor_unsent_assertion(workspace: Workspace, rs256_key: SigningKey) -> None:
    signed = build_client_assertion(rs256_key, CLIENT_ID, TENANT)
    workspace.save_assertion(signed)
    code, _ = run(
        "--workspace", str(workspace.root), "--offline", "--assertion", signed
    )
    assert code == 0


def test_doctor_probes_tenant(
    tmp_path: Path, rs256_key: SigningKey, refused_tenant: str
) -> None:
    space = Workspace(tmp_path / "ws").ensure()
    write_key_files(space.root, rs256_key)
    space.save_client(ClientConfig(refused_tenant, CLIENT_ID, "RS256", rs256_key.kid))
    code, output = run("--workspace", str(space.root), "--timeout", "2")
    assert code == 1
    assert "[unreachable]" in output


def test_doctor_local_tenant_stopped(tmp_path: Path, rs256_key: SigningKey) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(rs256_key.private_pem())
    _, output = run(
        "--workspace", str(tmp_path / "ws"), "--tenant", "local",
        "--client-id", CLIENT_ID, "--key", str(key_file),
    )  # fmt: skip
    assert "[local_tenant_stopped]" in output


def test_doctor_hides_tenant_password(tmp_path: Path, rs256_key: SigningKey) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(rs256_key.private_pem())
    _, output = run(
        "--workspace", str(tmp_path / "ws"), "--tenant", "ftp://u:hunter2@x",
        "--client-id", CLIENT_ID, "--key", str(key_file), "--offline",
    )  # fmt: skip
    assert "hunter2" not in output


@pytest.mark.parametrize("name", ["LOCAL", " Local "])
def test_doctor_local_tenant_any_case(
    tmp_path: Path, rs256_key: SigningKey, name: str
) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(rs256_key.private_pem())
    _, output = run(
        "--workspace", str(tmp_path / "ws"), "--tenant", name,
        "--client-id", CLIENT_ID, "--key", str(key_file), "--offline",
    )  # fmt: skip
    assert "[local_tenant_stopped]" in output


UNKNOWN_CLIENT_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def local_space(
    tmp_path_factory: pytest.TempPathFactory, es384_key: SigningKey
) -> Iterator[tuple[Workspace, str]]:
    """A workspace whose running local tenant has the ES384 key registered."""
    space = Workspace(tmp_path_factory.mktemp("doctor") / "ws").ensure()
    write_key_files(space.root, es384_key)
    try:
        client_id = register_client(space.root, es384_key.public_jwk)
        yield space, client_id
    finally:
        stop_local_tenant(space.root)


def test_doctor_unknown_local_client(local_space: tuple[Workspace, str]) -> None:
    space, _ = local_space
    code, output = run(
        "--workspace", str(space.root), "--tenant", "local",
        "--client-id", UNKNOWN_CLIENT_ID,
    )  # fmt: skip
    assert code == 1
    assert "[client_registered]" in output
    assert f"table row: {ROW_CLIENT}" in output


def test_doctor_registered_local_client(
    local_space: tuple[Workspace, str], es384_key: SigningKey
) -> None:
    space, client_id = local_space
    code, output = run(
        "--workspace", str(space.root), "--tenant", "local", "--client-id", client_id
    )
    assert code == 0, output
    assert f"registered kid: {es384_key.kid}" in output


def test_doctor_registered_local_origin(
    local_space: tuple[Workspace, str], es384_key: SigningKey
) -> None:
    space, client_id = local_space
    status = local_tenant_status(space.root) or {}
    _, output = run(
        "--workspace", str(space.root), "--tenant", str(status.get("url")),
        "--client-id", client_id,
    )  # fmt: skip
    assert f"registered kid: {es384_key.kid}" in output


@pytest.mark.parametrize("folder", ["", " "])
def test_doctor_empty_workspace_is_usage(folder: str) -> None:
    with pytest.raises(SystemExit) as exit_request:
        run("--workspace", folder, "--offline")
    assert exit_request.value.code == 2


def test_cli_doctor_command(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["doctor", "--workspace", str(workspace.root), "--offline"])
    assert code == 0
    assert "No problem found." in capsys.readouterr().out


def test_cli_doctor_finds_problem(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["doctor", "--workspace", str(workspace.root), "--offline", "--alg", "RS512"]
    )
    assert code == 1
    assert "[alg_matches_registered]" in capsys.readouterr().out


def test_doctor_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_request:
        run("--alg", "HS256")
    assert exit_request.value.code == 2
