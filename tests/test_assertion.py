"""Client assertions: building, low-level signing and decoding."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from qlik_tutorial.assertion import (
    ASSERTION_TYPE,
    DEFAULT_LIFETIME,
    MAX_LIFETIME,
    build_client_assertion,
    decode_assertion,
    format_duration,
    sign_jws,
)
from qlik_tutorial.errors import ClientAssertionError, TenantURLError
from qlik_tutorial.jwk import base64url_decode, base64url_encode
from qlik_tutorial.keys import SigningKey

NoKeyMaterial = Callable[[str, object], None]

CLIENT_ID = "4f1c2a8b9d0e7f6a5b4c3d2e1f0a9b8c"
TENANT = "acme.eu.qlikcloud.com"
AUDIENCE = "https://acme.eu.qlikcloud.com/oauth/token"
MOMENT = 1_796_400_000  # 2026-12-04T16:00:00Z
UUID4 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)


def _fixed(moment: float) -> Callable[[], float]:
    return lambda: moment


def verify_rsa_signature(
    key: SigningKey, token: str, algorithm: hashes.HashAlgorithm
) -> None:
    """Verify the PKCS#1 v1.5 signature of ``token``; raise InvalidSignature if bad."""
    signing_input, _, signature = token.rpartition(".")
    key.public_key.verify(  # type: ignore[call-arg]
        base64url_decode(signature),
        signing_input.encode(),
        padding.PKCS1v15(),  # type: ignore[arg-type]
        algorithm,
    )


def test_constants() -> None:
    assert ASSERTION_TYPE == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert MAX_LIFETIME == 300
    assert DEFAULT_LIFETIME == 300


# --- verified by PyJWT, a second JOSE library -------------------------------------


@pytest.mark.parametrize("fixture", ["rs256_key", "rs512_key", "es384_key"])
def test_assertion_verifies_with_pyjwt(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    key: SigningKey = request.getfixturevalue(fixture)
    issued = int(time.time())
    assertion = build_client_assertion(key, CLIENT_ID, TENANT, now=_fixed(issued))
    claims = pyjwt.decode(
        assertion,
        key.public_pem(),
        algorithms=[key.alg],
        audience=AUDIENCE,
        issuer=CLIENT_ID,
        options={"require": ["iss", "sub", "aud", "jti", "iat", "exp"]},
    )
    assert claims["sub"] == CLIENT_ID
    assert claims["iat"] == issued
    assert claims["exp"] == issued + 300
    assert UUID4.fullmatch(claims["jti"])


@pytest.mark.parametrize("fixture", ["rs256_key", "rs512_key", "es384_key"])
def test_assertion_header(fixture: str, request: pytest.FixtureRequest) -> None:
    key: SigningKey = request.getfixturevalue(fixture)
    assertion = build_client_assertion(key, CLIENT_ID, TENANT)
    header = pyjwt.get_unverified_header(assertion)
    assert header == {"alg": key.alg, "kid": key.kid, "typ": "JWT"}


def test_assertion_claims_exact(rs256_key: SigningKey) -> None:
    jti = "0b7e1f4e-3f5c-4d7b-9a51-6c2d8e9f0a1b"
    assertion = build_client_assertion(
        rs256_key, CLIENT_ID, TENANT, now=_fixed(MOMENT), jti=jti
    )
    assert decode_assertion(assertion).claims == {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": AUDIENCE,
        "jti": jti,
        "iat": MOMENT,
        "exp": MOMENT + 300,
    }


def test_es384_assertion_raw_signature(es384_key: SigningKey) -> None:
    assertion = build_client_assertion(es384_key, CLIENT_ID, TENANT)
    signature = base64url_decode(assertion.split(".")[2])
    assert len(signature) == 96


def test_rs512_assertion_uses_sha512(rs512_key: SigningKey) -> None:
    assertion = build_client_assertion(rs512_key, CLIENT_ID, TENANT)
    verify_rsa_signature(rs512_key, assertion, hashes.SHA512())


# --- claim rules ----------------------------------------------------------------------


def test_assertion_fresh_jti(rs256_key: SigningKey) -> None:
    first = decode_assertion(build_client_assertion(rs256_key, CLIENT_ID, TENANT))
    second = decode_assertion(build_client_assertion(rs256_key, CLIENT_ID, TENANT))
    assert first.claims["jti"] != second.claims["jti"]


def test_assertion_integer_times(rs256_key: SigningKey) -> None:
    assertion = build_client_assertion(
        rs256_key, CLIENT_ID, TENANT, lifetime=60, now=_fixed(MOMENT + 0.9)
    )
    claims = decode_assertion(assertion).claims
    assert claims["iat"] == MOMENT
    assert type(claims["iat"]) is int
    assert claims["exp"] == MOMENT + 60


@pytest.mark.parametrize("lifetime", [1, 300])
def test_assertion_lifetime_bounds(rs256_key: SigningKey, lifetime: int) -> None:
    assertion = build_client_assertion(
        rs256_key, CLIENT_ID, TENANT, lifetime=lifetime, now=_fixed(MOMENT)
    )
    assert decode_assertion(assertion).lifetime == lifetime


@pytest.mark.parametrize("lifetime", [0, 301, -5, 600])
def test_assertion_lifetime_out_of_range(rs256_key: SigningKey, lifetime: int) -> None:
    with pytest.raises(
        ClientAssertionError, match=f"out of range: {lifetime}"
    ) as caught:
        build_client_assertion(rs256_key, CLIENT_ID, TENANT, lifetime=lifetime)
    assert "300" in caught.value.cause


@pytest.mark.parametrize("lifetime", [True, 1.5, "300"])
def test_assertion_lifetime_not_int(rs256_key: SigningKey, lifetime: object) -> None:
    with pytest.raises(ClientAssertionError, match="whole seconds"):
        build_client_assertion(rs256_key, CLIENT_ID, TENANT, lifetime=lifetime)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "tenant",
    [
        "acme.eu.qlikcloud.com/",
        "https://acme.eu.qlikcloud.com",
        "https://ACME.eu.qlikcloud.com/hub/",
    ],
)
def test_assertion_audience_normalised(rs256_key: SigningKey, tenant: str) -> None:
    assertion = build_client_assertion(rs256_key, CLIENT_ID, tenant)
    assert decode_assertion(assertion).claims["aud"] == AUDIENCE


def test_assertion_loopback_audience(rs256_key: SigningKey) -> None:
    assertion = build_client_assertion(rs256_key, CLIENT_ID, "http://127.0.0.1:8123")
    assert (
        decode_assertion(assertion).claims["aud"] == "http://127.0.0.1:8123/oauth/token"
    )


@pytest.mark.parametrize("tenant", ["ftp://acme.eu.qlikcloud.com", "https://", ""])
def test_assertion_bad_tenant(rs256_key: SigningKey, tenant: str) -> None:
    with pytest.raises(TenantURLError):
        build_client_assertion(rs256_key, CLIENT_ID, tenant)


def test_assertion_http_tenant(rs256_key: SigningKey) -> None:
    with pytest.raises(TenantURLError, match="plain http"):
        build_client_assertion(rs256_key, CLIENT_ID, "http://acme.eu.qlikcloud.com")


def test_assertion_empty_client_id(rs256_key: SigningKey) -> None:
    with pytest.raises(ClientAssertionError, match="Client ID is empty"):
        build_client_assertion(rs256_key, "", TENANT)


def test_assertion_client_id_whitespace(rs256_key: SigningKey) -> None:
    with pytest.raises(ClientAssertionError, match="whitespace"):
        build_client_assertion(rs256_key, CLIENT_ID + "\n", TENANT)


def test_assertion_empty_jti(rs256_key: SigningKey) -> None:
    with pytest.raises(ClientAssertionError, match="jti is empty"):
        build_client_assertion(rs256_key, CLIENT_ID, TENANT, jti="")


def test_assertion_bad_clock(rs256_key: SigningKey) -> None:
    with pytest.raises(ClientAssertionError, match="invalid time"):
        build_client_assertion(
            rs256_key,
            CLIENT_ID,
            TENANT,
            now=lambda: float("nan"),
        )


def test_assertion_needs_signing_key(rs256_key: SigningKey) -> None:
    with pytest.raises(ClientAssertionError, match="needs a SigningKey"):
        build_client_assertion(rs256_key.private_pem(), CLIENT_ID, TENANT)  # type: ignore[arg-type]


# --- sign_jws signs as given ----------------------------------------------------------


def test_sign_jws_without_kid(rs256_key: SigningKey) -> None:
    token = sign_jws({"alg": "RS256"}, {"iss": CLIENT_ID}, rs256_key)
    header = decode_assertion(token).header
    assert "kid" not in header
    assert header["alg"] == "RS256"


def test_sign_jws_keeps_wrong_alg(rs256_key: SigningKey) -> None:
    token = sign_jws({"alg": "HS256", "kid": rs256_key.kid}, {"iss": "x"}, rs256_key)
    assert decode_assertion(token).header["alg"] == "HS256"
    verify_rsa_signature(rs256_key, token, hashes.SHA256())


def test_sign_jws_keeps_long_lifetime(es384_key: SigningKey) -> None:
    claims = {"iss": CLIENT_ID, "iat": MOMENT, "exp": MOMENT + 600}
    token = sign_jws({"alg": "ES384", "kid": es384_key.kid}, claims, es384_key)
    assert decode_assertion(token).claims == claims


def test_sign_jws_header_without_alg_or_typ(rs256_key: SigningKey) -> None:
    header = {"kid": rs256_key.kid}
    token = sign_jws(header, {"iss": CLIENT_ID}, rs256_key)
    assert decode_assertion(token).header == header


def test_sign_jws_keeps_member_order(rs256_key: SigningKey) -> None:
    header = {"typ": "JWT", "kid": rs256_key.kid, "alg": "RS256"}
    claims = {"sub": CLIENT_ID, "iss": CLIENT_ID}
    token = sign_jws(header, claims, rs256_key)
    expected = [
        base64url_encode(json.dumps(part, separators=(",", ":")).encode())
        for part in (header, claims)
    ]
    assert token.split(".")[:2] == expected


def test_sign_jws_signs_header_as_given(rs256_key: SigningKey) -> None:
    token = sign_jws({"kid": rs256_key.kid}, {"iss": CLIENT_ID}, rs256_key)
    verify_rsa_signature(rs256_key, token, hashes.SHA256())


def test_sign_jws_non_json_claim(rs256_key: SigningKey) -> None:
    with pytest.raises(ClientAssertionError, match="cannot be encoded as JSON"):
        sign_jws({"alg": "RS256"}, {"iss": {1, 2}}, rs256_key)


def test_sign_jws_nan_claim(rs256_key: SigningKey) -> None:
    with pytest.raises(ClientAssertionError, match="cannot be encoded as JSON"):
        sign_jws({"alg": "RS256"}, {"exp": float("nan")}, rs256_key)


# --- decoding ----------------------------------------------------------------------


@pytest.fixture
def assertion(rs256_key: SigningKey) -> str:
    return build_client_assertion(
        rs256_key, CLIENT_ID, TENANT, now=_fixed(MOMENT), jti="fixed-jti"
    )


def test_decode_parts(assertion: str, rs256_key: SigningKey) -> None:
    decoded = decode_assertion(assertion, now=_fixed(MOMENT + 1))
    assert decoded.header == {"alg": "RS256", "kid": rs256_key.kid, "typ": "JWT"}
    assert decoded.claims["jti"] == "fixed-jti"
    assert len(decoded.signature) == 256
    assert decoded.decoded_at == MOMENT + 1


def test_decode_bytes_and_whitespace(assertion: str) -> None:
    decoded = decode_assertion((assertion + "\n").encode())
    assert decoded.claims["iss"] == CLIENT_ID


def test_decode_repr_hides_signature(assertion: str) -> None:
    text = repr(decode_assertion(assertion))
    assert assertion.split(".")[2][:16] not in text
    assert "signature" not in text


def test_describe_fresh(assertion: str) -> None:
    text = decode_assertion(assertion, now=_fixed(MOMENT + 1)).describe()
    assert "iat: 1796400000 = 2026-12-04T16:00:00Z (issued 1 s ago)" in text
    assert "exp: 1796400300 = 2026-12-04T16:05:00Z (expires in 4 min 59 s)" in text
    assert "Lifetime: 300 s (exp - iat, within the 300 s limit)" in text
    assert "Signature: 256 bytes (not verified)" in text
    assert "Missing" not in text


def test_describe_expired(assertion: str) -> None:
    text = decode_assertion(assertion).describe(now=MOMENT + 310)
    assert "(expired 10 s ago)" in text


def test_describe_issued_in_future(assertion: str) -> None:
    text = decode_assertion(assertion).describe(now=MOMENT - 90)
    assert "(issued 1 min 30 s in the future)" in text


def test_describe_flags_problems(rs256_key: SigningKey) -> None:
    claims = {"iss": CLIENT_ID, "iat": MOMENT, "exp": MOMENT + 600}
    token = sign_jws({"alg": "RS256"}, claims, rs256_key)
    text = decode_assertion(token, now=_fixed(MOMENT)).describe()
    assert "Lifetime: 600 s (exp - iat, breaks the 300 s limit)" in text
    assert "Missing: header kid, claim sub, claim aud, claim jti" in text


def test_describe_never_shows_assertion(assertion: str) -> None:
    text = decode_assertion(assertion).describe()
    assert assertion.split(".")[2][:16] not in text
    assert assertion.split(".")[0] not in text


def _damage(assertion: str, index: int, replacement: str) -> str:
    parts = assertion.split(".")
    parts[index] = replacement
    return ".".join(parts)


@pytest.mark.parametrize(
    ("token", "symptom"),
    [
        ("not-a-jwt", "not a compact JWS"),
        ("a.b.c.d.e", "not a compact JWS"),
        ("", "not a compact JWS"),
    ],
)
def test_decode_malformed(token: str, symptom: str) -> None:
    with pytest.raises(ClientAssertionError, match=symptom):
        decode_assertion(token)


def test_decode_jwe_hint() -> None:
    with pytest.raises(ClientAssertionError, match="JWE"):
        decode_assertion("a.b.c.d.e")


def test_decode_two_parts_hides_text(assertion: str) -> None:
    truncated = assertion.rpartition(".")[0]
    with pytest.raises(ClientAssertionError, match="2 parts") as caught:
        decode_assertion(truncated)
    assert assertion.split(".")[1][:16] not in str(caught.value)


def test_decode_header_not_base64url(assertion: str) -> None:
    with pytest.raises(ClientAssertionError, match="header is not base64url") as caught:
        decode_assertion(_damage(assertion, 0, "eyJ+bad/"))
    assert "part 1 of 3" in str(caught.value)
    assert assertion.split(".")[1][:16] not in str(caught.value)


def test_decode_claims_not_json(assertion: str) -> None:
    with pytest.raises(ClientAssertionError, match="claims is not JSON"):
        decode_assertion(_damage(assertion, 1, base64url_encode(b"{not json")))


def test_decode_header_not_object(assertion: str) -> None:
    with pytest.raises(ClientAssertionError, match="header is not a JSON object"):
        decode_assertion(_damage(assertion, 0, base64url_encode(b"[1, 2]")))


def test_decode_signature_not_base64url(assertion: str) -> None:
    with pytest.raises(ClientAssertionError, match="signature is not base64url"):
        decode_assertion(_damage(assertion, 2, "abc="))


def test_decode_error_no_key_material(
    assertion: str, rs256_key: SigningKey, assert_no_key_material: NoKeyMaterial
) -> None:
    with pytest.raises(ClientAssertionError) as caught:
        decode_assertion(_damage(assertion, 1, "!!"))
    assert_no_key_material(str(caught.value), rs256_key.private_key)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (299, "4 min 59 s"),
        (3600, "1 h"),
        (7500, "2 h 5 min"),
        (90061, "1 d 1 h"),
        (-10, "10 s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def _unsigned(claims_json: str) -> str:
    header = base64url_encode(b'{"alg":"RS256","kid":"k"}')
    return f"{header}.{base64url_encode(claims_json.encode())}.c2ln"


@pytest.mark.parametrize(
    "claims_json",
    [
        '{"iat": 1796400000, "exp": 1e999}',
        '{"iat": 1796400000, "exp": NaN}',
        '{"iat": 1796400000, "exp": -Infinity}',
        '{"iat": 1796400000, "exp": 1' + "0" * 400 + "}",
        '{"iat": -1e300, "exp": 1e300}',
    ],
)
def test_describe_out_of_range_times(claims_json: str) -> None:
    decoded = decode_assertion(_unsigned(claims_json), now=_fixed(MOMENT))
    assert "exp: " in decoded.describe()


def test_describe_huge_time_stays_short() -> None:
    decoded = decode_assertion(_unsigned('{"exp": -1e300}'), now=_fixed(MOMENT))
    assert len(decoded.describe()) < 400


@pytest.mark.parametrize("claims_json", ["[" * 100_000, '{"iat": 1' + "0" * 5000 + "}"])
def test_decode_unparsable_claims(claims_json: str) -> None:
    with pytest.raises(ClientAssertionError, match="claims is not JSON"):
        decode_assertion(_unsigned(claims_json))


@pytest.mark.parametrize("client_id", [123, b"client", ["client"]])
def test_assertion_client_id_not_text(rs256_key: SigningKey, client_id: object) -> None:
    with pytest.raises(ClientAssertionError, match="Client ID is not text"):
        build_client_assertion(rs256_key, client_id, TENANT)  # type: ignore[arg-type]


def test_assertion_jti_not_text(rs256_key: SigningKey) -> None:
    with pytest.raises(ClientAssertionError, match="jti is not text"):
        build_client_assertion(rs256_key, CLIENT_ID, TENANT, jti=5)  # type: ignore[arg-type]
