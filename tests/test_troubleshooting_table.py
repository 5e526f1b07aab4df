"""The troubleshooting table: every common cause, caught and explained.

Each row of `CAUSES` makes one fault happen for real (a bad key, JWK, tenant
address or assertion, or an error response from a scripted HTTP server on
127.0.0.1) and states the error class or case it must raise, the row of the
tutorial's table it belongs to, the offending value the message must name
and a part of the fix that is specific to this cause. Server responses use
Qlik-shaped bodies with codes the local tenant never sends, RFC 6749 bodies
and HTML pages, so the mapping cannot lean on the local tenant's wording.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from http_fixtures import Reply, ScriptedServer, closed_port, silent_socket

from qlik_tutorial.api import call_api
from qlik_tutorial.assertion import build_client_assertion, sign_jws
from qlik_tutorial.diagnostics import (
    GRANT_TYPE_URN,
    Finding,
    diagnose,
    finding_for_error,
)
from qlik_tutorial.errors import (
    AlgorithmError,
    APIRequestError,
    ClientAssertionError,
    JWKError,
    PrivateKeyError,
    QlikTutorialError,
    RateLimitedError,
    ServerError,
    TenantTimeoutError,
    TenantUnreachableError,
    TenantURLError,
    TokenRequestError,
)
from qlik_tutorial.jwk import base64url_decode, base64url_encode, check_public_jwk
from qlik_tutorial.keys import SigningKey, load_private_key
from qlik_tutorial.tenant import tenant_origin, token_endpoint
from qlik_tutorial.token_endpoint import request_access_token
from qlik_tutorial.troubleshooting import (
    ROW_ASSERTION_TYPE,
    ROW_AUDIENCE,
    ROW_CLIENT,
    ROW_SIGNATURE,
    ROW_TIMEOUT,
)

TENANT = "https://acme.eu.qlikcloud.com"
TOKEN_URL = TENANT + "/oauth/token"
CLIENT_ID = "7d9c2b4a1e3f4a5b8c6d0e1f2a3b4c5d"
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLW9mLWEtdG9rZW4"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def qlik_body(
    code: str, title: str, detail: str = "", status: int = 401
) -> dict[str, Any]:
    """Return an error body in Qlik's shape."""
    error = {"code": code, "title": title, "detail": detail, "status": str(status)}
    return {"errors": [error], "traceId": TRACE_ID}


def rfc6749_body(error: str, description: str | None = None) -> dict[str, Any]:
    """Return an RFC 6749 section 5.2 error body."""
    body = {"error": error}
    if description is not None:
        body["error_description"] = description
    return body


def html_page(status: int, reason: str) -> str:
    """Return an error page as a proxy or load balancer sends it."""
    return (
        f"<html><head><title>{status} {reason}</title><style>body{{}}</style></head>"
        f"<body><center><h1>{status} {reason}</h1></center><hr><center>nginx"
        "</center></body></html>"
    )


@dataclass
class Lab:
    """Keys, servers and a fixed clock the causes use.

    Every server is stopped after the test. ``server_url`` and
    ``signature_length`` record what the last cause made, so that its
    expected value can name them.
    """

    key: SigningKey
    other_key: SigningKey
    ec_key: SigningKey
    start_server: Callable[[], ScriptedServer]
    secrets: list[str] = field(default_factory=list)
    now: int = field(default_factory=lambda: int(time.time()))
    server_url: str = ""
    signature_length: int = 0

    def assertion(self, tenant: str = TENANT, key: SigningKey | None = None) -> str:
        """Return a good assertion, remembered as a secret."""
        signed = build_client_assertion(key or self.key, CLIENT_ID, tenant)
        self.secrets.append(signed)
        return signed

    def signed(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        """Return good header and claims with changes signed by ``key``."""
        now = self.now
        good_header = {"alg": self.key.alg, "kid": self.key.kid, "typ": "JWT"}
        good_claims = {
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": TOKEN_URL,
            "jti": "e3b0c442-98fc-4c14-9afb-f4c8996fb924",
            "iat": now,
            "exp": now + 300,
        }
        good_header.update(header)
        good_claims.update(claims)
        drop = [name for name, value in good_header.items() if value is None]
        for name in drop:
            del good_header[name]
        signed = sign_jws(good_header, good_claims, self.key)
        self.secrets.append(signed)
        return signed

    def diagnose(self, assertion: str, **options: Any) -> Finding:
        """Return the first finding diagnose makes of ``assertion``."""
        settings: dict[str, Any] = {
            "key": self.key,
            "tenant": TENANT,
            "client_id": CLIENT_ID,
            "registered_jwks": [self.key.public_jwk],
            "now": lambda: self.now,
        }
        settings.update(options)
        findings = diagnose(assertion, **settings)
        assert findings, "no check fired"
        return findings[0]

    def token_answer(self, reply: Reply) -> QlikTutorialError:
        """Send a token request to a server that responds with ``reply``."""
        server = self.start_server()
        server.route("POST", "/oauth/token", reply)
        self.server_url = server.url
        return _raised(
            lambda: request_access_token(
                server.url, CLIENT_ID, self.assertion(server.url), timeout=(2, 5)
            )
        )

    def api_answer(self, reply: Reply) -> QlikTutorialError:
        """Call the API on a server that responds with ``reply``."""
        server = self.start_server()
        server.route("GET", "/api/v1/users/me", reply)
        self.server_url = server.url
        self.secrets.append(ACCESS_TOKEN)
        return _raised(lambda: call_api(server.url, ACCESS_TOKEN, timeout=(2, 5)))


def _raised(action: Callable[[], object]) -> QlikTutorialError:
    try:
        action()
    except QlikTutorialError as error:
        return error
    raise AssertionError("no error was raised")


@dataclass(frozen=True)
class Cause:
    """One fault: how to make it happen and what the learner must see.

    ``kind`` is the class of the error or finding, ``case`` the case it
    carries: an error's ``case`` or a finding's ``check``. ``value`` is the
    offending value as the message shows it, or a function of the lab that
    returns it, called after ``make``.
    """

    name: str
    area: str
    kind: type[QlikTutorialError] | type[Finding]
    case: str | None
    row: str | None
    value: str | Callable[[Lab], str]
    fix: str
    make: Callable[[Lab], QlikTutorialError | Finding]

    def value_in(self, lab: Lab) -> str:
        """Return the text of the offending value the message must contain."""
        return self.value(lab) if callable(self.value) else self.value


def _key_data(data: bytes) -> str:
    return repr(f"key data ({len(data)} bytes)")


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _at_server(template: str) -> Callable[[Lab], str]:
    """Return the expected value of a response, with {url} the last server's URL."""
    return lambda lab: repr(template.format(url=lab.server_url))


def _rsa(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _encrypted_pem(lab: Lab) -> bytes:
    return lab.key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"correct horse"),
    )


def _certificate_pem(lab: Lab) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tutorial")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(lab.key.public_key)
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(lab.key.private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _der_signed(lab: Lab) -> Finding:
    assertion = lab.assertion(key=lab.ec_key)
    head, body, signature = assertion.split(".")
    raw = base64url_decode(signature)
    der = encode_dss_signature(
        int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big")
    )
    changed = f"{head}.{body}.{base64url_encode(der)}"
    lab.signature_length = len(der)
    return lab.diagnose(
        changed, key=lab.ec_key, registered_jwks=[lab.ec_key.public_jwk]
    )


def _silent_tenant(lab: Lab) -> QlikTutorialError:
    with silent_socket() as url:
        lab.server_url = url
        assertion = lab.assertion(url)
        return _raised(
            lambda: request_access_token(url, CLIENT_ID, assertion, timeout=(1, 0.3))
        )


def _refused_tenant(lab: Lab) -> QlikTutorialError:
    url = f"http://127.0.0.1:{closed_port()}"
    lab.server_url = url
    assertion = lab.assertion(url)
    return _raised(lambda: request_access_token(url, CLIENT_ID, assertion, timeout=2))


CAUSES = [
    # Keys.
    Cause(
        "rsa_key_too_small",
        "keys",
        PrivateKeyError,
        "key_too_small",
        None,
        "'RSA 1024-bit key'",
        "openssl genrsa -out private_key.pem 2048",
        lambda lab: _raised(lambda: SigningKey.from_private_key(_rsa(1024), "RS256")),
    ),
    Cause(
        "ec_key_wrong_curve",
        "keys",
        PrivateKeyError,
        "wrong_curve",
        None,
        "'EC key on curve P-256 (secp256r1)'",
        "openssl ecparam -name secp384r1",
        lambda lab: _raised(
            lambda: SigningKey.from_private_key(
                ec.generate_private_key(ec.SECP256R1()), "ES384"
            )
        ),
    ),
    Cause(
        "alg_unfit_for_key",
        "keys",
        AlgorithmError,
        "alg_key_mismatch",
        ROW_SIGNATURE,
        "'ES384'",
        "use RS256 or RS512 with this key",
        lambda lab: _raised(
            lambda: SigningKey.from_private_key(lab.key.private_key, "ES384")
        ),
    ),
    Cause(
        "alg_hmac",
        "keys",
        AlgorithmError,
        "alg_hmac",
        ROW_SIGNATURE,
        "'HS256'",
        "use RS256 with an RSA key or ES384 with a P-384 key",
        lambda lab: _raised(
            lambda: SigningKey.from_private_key(lab.key.private_key, "HS256")
        ),
    ),
    Cause(
        "certificate_as_private_key",
        "keys",
        PrivateKeyError,
        "certificate_given",
        None,
        lambda lab: _key_data(_certificate_pem(lab)),
        "pass the private key file (private_key.pem)",
        lambda lab: _raised(lambda: load_private_key(_certificate_pem(lab))),
    ),
    Cause(
        "encrypted_key_without_password",
        "keys",
        PrivateKeyError,
        "encrypted_no_password",
        None,
        lambda lab: _key_data(_encrypted_pem(lab)),
        "pass its password",
        lambda lab: _raised(lambda: load_private_key(_encrypted_pem(lab))),
    ),
    Cause(
        "encrypted_key_wrong_password",
        "keys",
        PrivateKeyError,
        "wrong_password",
        None,
        lambda lab: _key_data(_encrypted_pem(lab)),
        "the password the key was encrypted with",
        lambda lab: _raised(
            lambda: load_private_key(_encrypted_pem(lab), password="wrong")
        ),
    ),
    Cause(
        "truncated_pem",
        "keys",
        PrivateKeyError,
        "pem_truncated",
        None,
        "'key data (200 bytes)'",
        "copy the whole key again",
        lambda lab: _raised(lambda: load_private_key(lab.key.private_pem()[:200])),
    ),
    # JWKs.
    Cause(
        "jwk_private_member",
        "jwk",
        JWKError,
        "private_member_in_jwk",
        None,
        "['d']",
        "register the public JWK only",
        lambda lab: _raised(
            lambda: check_public_jwk({**lab.key.public_jwk, "d": "c2VjcmV0"})
        ),
    ),
    Cause(
        "jwk_missing_kid",
        "jwk",
        JWKError,
        "jwk_members_missing",
        None,
        "['kid']",
        "paste the JWK the kit wrote",
        lambda lab: _raised(
            lambda: check_public_jwk(
                {k: v for k, v in lab.key.public_jwk.items() if k != "kid"}
            )
        ),
    ),
    Cause(
        "jwk_use_enc",
        "jwk",
        JWKError,
        "jwk_use_not_sig",
        None,
        "'enc'",
        'set "use": "sig"',
        lambda lab: _raised(
            lambda: check_public_jwk({**lab.key.public_jwk, "use": "enc"})
        ),
    ),
    # Tenants.
    Cause(
        "tenant_scheme",
        "tenant",
        TenantURLError,
        "tenant_scheme",
        None,
        "'ftp://acme.eu.qlikcloud.com'",
        "use https://acme.eu.qlikcloud.com or just",
        lambda lab: _raised(lambda: tenant_origin("ftp://acme.eu.qlikcloud.com")),
    ),
    Cause(
        "tenant_plain_http",
        "tenant",
        TenantURLError,
        "tenant_plain_http",
        None,
        "'http://acme.eu.qlikcloud.com'",
        "http is allowed only for 127.0.0.1",
        lambda lab: _raised(lambda: token_endpoint("http://acme.eu.qlikcloud.com")),
    ),
    Cause(
        "tenant_no_host",
        "tenant",
        TenantURLError,
        "tenant_no_host",
        None,
        "'https://'",
        "use the tenant host, for example",
        lambda lab: _raised(lambda: tenant_origin("https://")),
    ),
    # Assertions, caught before sending.
    Cause(
        "lifetime_out_of_range",
        "assertion",
        ClientAssertionError,
        None,
        None,
        "301",
        "pass a lifetime from 1 to 300 seconds",
        lambda lab: _raised(
            lambda: build_client_assertion(lab.key, CLIENT_ID, TENANT, lifetime=301)
        ),
    ),
    Cause(
        "aud_trailing_slash",
        "assertion",
        Finding,
        "aud_trailing_slash",
        ROW_AUDIENCE,
        repr(TOKEN_URL + "/"),
        "with no trailing slash",
        lambda lab: lab.diagnose(lab.signed({}, {"aud": TOKEN_URL + "/"})),
    ),
    Cause(
        "aud_list",
        "assertion",
        Finding,
        "aud_string",
        ROW_AUDIENCE,
        repr([TOKEN_URL]),
        "not a list",
        lambda lab: lab.diagnose(lab.signed({}, {"aud": [TOKEN_URL]})),
    ),
    Cause(
        "aud_other_host",
        "assertion",
        Finding,
        "aud_host",
        ROW_AUDIENCE,
        "'https://acme.qlikcloud.com/oauth/token'",
        "with the tenant's full host name",
        lambda lab: lab.diagnose(
            lab.signed({}, {"aud": "https://acme.qlikcloud.com/oauth/token"})
        ),
    ),
    Cause(
        "iss_not_client_id",
        "assertion",
        Finding,
        "iss_client_id",
        ROW_CLIENT,
        "'my-app'",
        f"set iss to {CLIENT_ID!r}",
        lambda lab: lab.diagnose(lab.signed({}, {"iss": "my-app"})),
    ),
    Cause(
        "key_not_registered",
        "assertion",
        Finding,
        "key_matches_registered",
        ROW_SIGNATURE,
        lambda lab: repr(lab.other_key.kid),
        "load the private key that was registered",
        lambda lab: lab.diagnose(lab.assertion(key=lab.other_key), key=lab.other_key),
    ),
    Cause(
        "alg_differs_from_registered",
        "assertion",
        Finding,
        "alg_matches_registered",
        ROW_SIGNATURE,
        "'RS512'",
        "sign with alg RS256, or register a key for RS512",
        lambda lab: lab.diagnose(
            lab.assertion(
                key=SigningKey.from_private_key(lab.key.private_key, "RS512")
            ),
            key=SigningKey.from_private_key(lab.key.private_key, "RS512"),
        ),
    ),
    Cause(
        "assertion_expired",
        "assertion",
        Finding,
        "expired",
        None,
        "'2020-09-13T12:31:40Z'",
        "sign a new assertion right before each token request",
        lambda lab: lab.diagnose(
            lab.signed({}, {"iat": 1_600_000_000, "exp": 1_600_000_300})
        ),
    ),
    Cause(
        "lifetime_over_five_minutes",
        "assertion",
        Finding,
        "lifetime_too_long",
        None,
        "'600 s'",
        "set exp = iat + 300 or less",
        lambda lab: lab.diagnose(
            lab.signed(
                {},
                {"iat": lab.now, "exp": lab.now + 600},
            )
        ),
    ),
    Cause(
        "jti_already_sent",
        "assertion",
        Finding,
        "jti_reused",
        None,
        "'e3b0c442-98fc-4c14-9afb-f4c8996fb924'",
        "with a new jti, for every token request",
        lambda lab: lab.diagnose(
            lab.signed({}, {}), sent_jtis={"e3b0c442-98fc-4c14-9afb-f4c8996fb924"}
        ),
    ),
    Cause(
        "kid_missing",
        "assertion",
        Finding,
        "kid_present",
        None,
        "['alg', 'typ']",
        "add kid",
        lambda lab: lab.diagnose(lab.signed({"kid": None}, {})),
    ),
    Cause(
        "es384_der_signature",
        "assertion",
        Finding,
        "signature_format",
        ROW_SIGNATURE,
        lambda lab: f"'{lab.signature_length} bytes'",
        "as r and s, 48 bytes each",
        _der_signed,
    ),
    Cause(
        "naive_local_time",
        "assertion",
        Finding,
        "iat_local_time",
        None,
        lambda lab: repr(_iso(lab.now + 7200)),
        "never from a naive datetime.now()",
        lambda lab: lab.diagnose(
            lab.signed(
                {},
                {"iat": lab.now + 7200, "exp": lab.now + 7500},
            )
        ),
    ),
    Cause(
        "wrong_assertion_type",
        "assertion",
        Finding,
        "assertion_type",
        ROW_ASSERTION_TYPE,
        repr(GRANT_TYPE_URN),
        "send client_assertion_type=urn:ietf:params:oauth:client-assertion-type",
        lambda lab: lab.diagnose(lab.signed({}, {}), assertion_type=GRANT_TYPE_URN),
    ),
    # Server responses.
    Cause(
        "server_signature_failed",
        "server",
        TokenRequestError,
        "signature_invalid",
        ROW_SIGNATURE,
        _at_server(
            "HTTP 401 IDP-7 from {url}/oauth/token: JWT signature verification "
            f"failed (traceId {TRACE_ID})"
        ),
        "sign with the alg of the registered key",
        lambda lab: lab.token_answer(
            Reply(401, qlik_body("IDP-7", "JWT signature verification failed"))
        ),
    ),
    Cause(
        "server_invalid_audience",
        "server",
        TokenRequestError,
        "invalid_audience",
        ROW_AUDIENCE,
        _at_server(
            "HTTP 401 invalid_client from {url}/oauth/token: The audience claim "
            "does not match this endpoint"
        ),
        "/oauth/token, with no trailing slash",
        lambda lab: lab.token_answer(
            Reply(
                401,
                rfc6749_body(
                    "invalid_client", "The audience claim does not match this endpoint"
                ),
            )
        ),
    ),
    Cause(
        "server_invalid_client",
        "server",
        TokenRequestError,
        "invalid_client",
        ROW_CLIENT,
        _at_server("HTTP 401 invalid_client from {url}/oauth/token"),
        "set both iss and sub to the client ID",
        lambda lab: lab.token_answer(Reply(401, rfc6749_body("invalid_client"))),
    ),
    Cause(
        "server_unauthorized_client",
        "server",
        TokenRequestError,
        "grant_not_allowed",
        ROW_CLIENT,
        _at_server(
            "HTTP 400 unauthorized_client from {url}/oauth/token: grant not permitted"
        ),
        "allow machine-to-machine",
        lambda lab: lab.token_answer(
            Reply(400, rfc6749_body("unauthorized_client", "grant not permitted"))
        ),
    ),
    Cause(
        "server_assertion_type",
        "server",
        TokenRequestError,
        "unsupported_assertion_type",
        ROW_ASSERTION_TYPE,
        _at_server("HTTP 400 unsupported_client_assertion_type from {url}/oauth/token"),
        "send client_assertion_type exactly",
        lambda lab: lab.token_answer(
            Reply(400, rfc6749_body("unsupported_client_assertion_type"))
        ),
    ),
    Cause(
        "server_timeout",
        "server",
        TenantTimeoutError,
        None,
        ROW_TIMEOUT,
        _at_server("{url}/oauth/token"),
        "check the network connection and test the tenant URL",
        _silent_tenant,
    ),
    Cause(
        "server_unreachable",
        "server",
        TenantUnreachableError,
        None,
        ROW_TIMEOUT,
        _at_server("{url}/oauth/token"),
        "check the tenant host and the network connection",
        _refused_tenant,
    ),
    Cause(
        "server_gateway_timeout",
        "server",
        TokenRequestError,
        "gateway_timeout",
        ROW_TIMEOUT,
        _at_server(
            "HTTP 504 from {url}/oauth/token: 504 Gateway Time-out 504 Gateway "
            "Time-out nginx"
        ),
        "retry in a minute",
        lambda lab: lab.token_answer(Reply(504, html_page(504, "Gateway Time-out"))),
    ),
    Cause(
        "server_assertion_expired",
        "server",
        TokenRequestError,
        "assertion_expired",
        None,
        _at_server(
            "HTTP 401 JWT-101 from {url}/oauth/token: Token expired. exp is in the "
            f"past (traceId {TRACE_ID})"
        ),
        "sign a fresh assertion right before each token request",
        lambda lab: lab.token_answer(
            Reply(401, qlik_body("JWT-101", "Token expired", "exp is in the past"))
        ),
    ),
    Cause(
        "server_lifetime_too_long",
        "server",
        TokenRequestError,
        "lifetime_too_long",
        None,
        _at_server(
            "HTTP 400 invalid_client from {url}/oauth/token: The client_assertion "
            "token has an expiration too far into the future"
        ),
        "exp - iat between 1 and 300 seconds",
        lambda lab: lab.token_answer(
            Reply(
                400,
                rfc6749_body(
                    "invalid_client",
                    "The client_assertion token has an expiration too far into "
                    "the future.",
                ),
            )
        ),
    ),
    Cause(
        "server_jti_reused",
        "server",
        TokenRequestError,
        "jti_reused",
        None,
        _at_server(
            "HTTP 400 invalid_client from {url}/oauth/token: The 'jti' claim of "
            "this assertion has already been used"
        ),
        "with a new UUID jti, for every token request",
        lambda lab: lab.token_answer(
            Reply(
                400,
                rfc6749_body(
                    "invalid_client",
                    "The 'jti' claim of this assertion has already been used",
                ),
            )
        ),
    ),
    Cause(
        "server_unknown_kid",
        "server",
        TokenRequestError,
        "unknown_kid",
        None,
        _at_server(
            "HTTP 401 OAUTH-908 from {url}/oauth/token: Unknown kid. no key with "
            f"this kid (traceId {TRACE_ID})"
        ),
        "register the public JWK of the key you sign with",
        lambda lab: lab.token_answer(
            Reply(401, qlik_body("OAUTH-908", "Unknown kid", "no key with this kid"))
        ),
    ),
    Cause(
        "server_rate_limited",
        "server",
        RateLimitedError,
        "rate_limited",
        None,
        _at_server(
            "HTTP 429 from {url}/oauth/token: 429 Too Many Requests 429 Too Many "
            "Requests nginx"
        ),
        "Retry-After: 7 s",
        lambda lab: lab.token_answer(
            Reply(429, html_page(429, "Too Many Requests"), {"Retry-After": "7"})
        ),
    ),
    Cause(
        "api_access_token_expired",
        "server",
        APIRequestError,
        "access_token_expired",
        None,
        _at_server(
            "HTTP 401 HTTP-401 from {url}/api/v1/users/me: Unauthorized. The "
            f"access token expired (traceId {TRACE_ID})"
        ),
        "request a new access token with a freshly signed assertion",
        lambda lab: lab.api_answer(
            Reply(
                401, qlik_body("HTTP-401", "Unauthorized", "The access token expired")
            )
        ),
    ),
    Cause(
        "server_bad_gateway",
        "server",
        TokenRequestError,
        "server_error",
        None,
        _at_server(
            "HTTP 502 from {url}/oauth/token: 502 Bad Gateway 502 Bad Gateway nginx"
        ),
        "report the traceId to Qlik support",
        lambda lab: lab.token_answer(Reply(502, html_page(502, "Bad Gateway"))),
    ),
]

CAUSE_IDS = [cause.name for cause in CAUSES]


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    """An RSA key that was never registered."""
    return SigningKey.from_private_key(_rsa(2048), "RS256")


@pytest.fixture
def lab(
    rs256_key: SigningKey,
    other_key: SigningKey,
    es384_key: SigningKey,
    scripted_server: Callable[[], ScriptedServer],
) -> Iterator[Lab]:
    yield Lab(rs256_key, other_key, es384_key, scripted_server)


def _row(outcome: QlikTutorialError | Finding) -> str | None:
    if isinstance(outcome, Finding):
        return outcome.row
    return finding_for_error(outcome).row


def _case(outcome: QlikTutorialError | Finding) -> str | None:
    if isinstance(outcome, Finding):
        return outcome.check
    return outcome.case


@pytest.mark.timeout(20)
@pytest.mark.parametrize("cause", CAUSES, ids=CAUSE_IDS)
def test_cause_class(cause: Cause, lab: Lab) -> None:
    outcome = cause.make(lab)
    assert type(outcome) is cause.kind, repr(outcome)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("cause", CAUSES, ids=CAUSE_IDS)
def test_cause_case(cause: Cause, lab: Lab) -> None:
    outcome = cause.make(lab)
    assert _case(outcome) == cause.case, str(outcome)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("cause", CAUSES, ids=CAUSE_IDS)
def test_cause_row(cause: Cause, lab: Lab) -> None:
    assert _row(cause.make(lab)) == cause.row


@pytest.mark.timeout(20)
@pytest.mark.parametrize("cause", CAUSES, ids=CAUSE_IDS)
def test_cause_names_value(cause: Cause, lab: Lab) -> None:
    outcome = cause.make(lab)
    assert outcome.value is not None, str(outcome)
    # The whole value, between the symptom and the cause, so that a message
    # naming only part of it fails.
    assert f": {cause.value_in(lab)}. Cause: " in str(outcome), str(outcome)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("cause", CAUSES, ids=CAUSE_IDS)
def test_cause_names_fix(cause: Cause, lab: Lab) -> None:
    outcome = cause.make(lab)
    assert cause.fix in outcome.fix, outcome.fix
    assert f"Fix: {outcome.fix}" in str(outcome)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("cause", CAUSES, ids=CAUSE_IDS)
def test_cause_hides_secrets(
    cause: Cause,
    lab: Lab,
    assert_no_key_material: Callable[[str, object], None],
) -> None:
    message = str(cause.make(lab))
    for key in (lab.key, lab.other_key, lab.ec_key):
        assert_no_key_material(message, key.private_key)
    for secret in lab.secrets:
        assert secret not in message
        assert secret.split(".")[2] not in message


def test_cause_names_distinct() -> None:
    assert len(set(CAUSE_IDS)) == len(CAUSES)


def test_causes_distinct() -> None:
    # Each cause must differ from the others in its class or case, not only its name.
    pairs = {(cause.kind.__name__, cause.case) for cause in CAUSES}
    assert len(pairs) == len(CAUSES), sorted(pairs, key=str)


def test_at_least_25_distinct_causes() -> None:
    pairs = {(cause.kind.__name__, cause.case) for cause in CAUSES}
    assert len(pairs) >= 25


def test_causes_cover_areas() -> None:
    counts = {area: 0 for area in ("keys", "jwk", "tenant", "assertion", "server")}
    for cause in CAUSES:
        counts[cause.area] += 1
    assert min(counts.values()) >= 3, counts


def test_at_least_25_causes() -> None:
    assert len(CAUSES) >= 25


def test_expected_fixes_distinct() -> None:
    fixes = [cause.fix for cause in CAUSES]
    assert len(set(fixes)) == len(fixes)


def test_table_rows_all_reached() -> None:
    rows = {cause.row for cause in CAUSES}
    assert rows >= {
        ROW_SIGNATURE,
        ROW_AUDIENCE,
        ROW_CLIENT,
        ROW_ASSERTION_TYPE,
        ROW_TIMEOUT,
    }


# Other wordings of the same faults, as other servers and proxies send them:
# (endpoint, status, body, expected case).
WORDINGS = [
    ("token", 401, qlik_body("AUTH-0042", "Invalid signature"), "signature_invalid"),
    (
        "token",
        400,
        rfc6749_body("invalid_client", "Client assertion failed signature validation"),
        "signature_invalid",
    ),
    ("token", 401, rfc6749_body("invalid_client", "Invalid issuer"), "invalid_client"),
    ("token", 401, qlik_body("OAUTH-14", "Invalid client_id"), "invalid_client"),
    (
        "token",
        400,
        rfc6749_body("invalid_request", "client_assertion_type is invalid"),
        "unsupported_assertion_type",
    ),
    (
        "token",
        401,
        rfc6749_body("invalid_client", "Token reuse detected"),
        "jti_reused",
    ),
    (
        "token",
        401,
        rfc6749_body("invalid_client", "The client_assertion token is expired."),
        "assertion_expired",
    ),
    ("token", 401, qlik_body("OAUTH-77", "kid not found"), "unknown_kid"),
    ("token", 408, html_page(408, "Request Timeout"), "gateway_timeout"),
    ("token", 503, html_page(503, "Service Unavailable"), "server_error"),
    ("token", 401, html_page(401, "Authorization Required"), "token_unauthorized"),
    (
        "api",
        401,
        rfc6749_body("invalid_token", "The access token expired"),
        "access_token_expired",
    ),
    ("api", 504, html_page(504, "Gateway Time-out"), "gateway_timeout"),
    (
        "token",
        401,
        rfc6749_body("invalid_client", "exp claim too far in the future"),
        "lifetime_too_long",
    ),
    (
        "api",
        401,
        qlik_body("HTTP-401", "Invalid token", "The access token has expired"),
        "access_token_expired",
    ),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("endpoint", "status", "body", "expected"), WORDINGS)
def test_answer_wording(
    endpoint: str, status: int, body: Any, expected: str, lab: Lab
) -> None:
    send = lab.token_answer if endpoint == "token" else lab.api_answer
    error = send(Reply(status, body))
    assert isinstance(error, ServerError)
    assert error.case == expected, str(error)
