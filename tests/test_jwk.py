"""Public JWKs, RFC 7638 thumbprints, JWK Sets and the console-readiness check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from qlik_tutorial.errors import AlgorithmError, JWKError, PrivateKeyError
from qlik_tutorial.jwk import (
    base64url_decode,
    base64url_encode,
    check_alg,
    check_public_jwk,
    check_public_key_for_alg,
    jwks,
    public_jwk,
    thumbprint,
)
from qlik_tutorial.keys import SigningKey

# The example key of RFC 7638 section 3.1 and the thumbprint printed there.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
        "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
        "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
        "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
        "Cur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_rfc7638_example() -> None:
    assert thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT


def test_thumbprint_ignores_optional_members() -> None:
    bare = {name: RFC7638_JWK[name] for name in ("kty", "n", "e")}
    assert thumbprint(bare) == RFC7638_THUMBPRINT


def test_thumbprint_missing_member() -> None:
    with pytest.raises(JWKError, match="thumbprint"):
        thumbprint({"kty": "RSA", "e": "AQAB"})


def test_thumbprint_unknown_kty() -> None:
    with pytest.raises(JWKError, match="oct"):
        thumbprint({"kty": "oct", "k": "c2VjcmV0"})


def test_base64url_round_trip() -> None:
    data = bytes(range(256))
    assert base64url_decode(base64url_encode(data)) == data


def test_base64url_has_no_padding() -> None:
    assert base64url_encode(b"\xff\xfe") == "__4"


@pytest.mark.parametrize("text", ["ab+c", "ab/c", "YQ==", "abcde"])
def test_base64url_decode_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        base64url_decode(text)


def test_public_jwk_rsa_members(rs256_key: SigningKey) -> None:
    jwk = public_jwk(rs256_key.public_key, "RS256")
    assert sorted(jwk) == ["alg", "e", "kid", "kty", "n", "use"]
    assert jwk["kty"] == "RSA"
    assert jwk["use"] == "sig"
    assert jwk["alg"] == "RS256"
    assert jwk["e"] == "AQAB"


def test_public_jwk_rsa_modulus(rsa_private_key: rsa.RSAPrivateKey) -> None:
    public = rsa_private_key.public_key()
    modulus = base64url_decode(public_jwk(public, "RS256")["n"])
    assert len(modulus) == 256
    assert int.from_bytes(modulus) == public.public_numbers().n


def test_public_jwk_kid_is_thumbprint(rs256_key: SigningKey) -> None:
    jwk = public_jwk(rs256_key.public_key, "RS256")
    assert jwk["kid"] == thumbprint(jwk)


def test_public_jwk_from_private_key(rsa_private_key: rsa.RSAPrivateKey) -> None:
    from_private = public_jwk(rsa_private_key, "RS512")
    from_public = public_jwk(rsa_private_key.public_key(), "RS512")
    assert from_private == from_public


def test_public_jwk_has_no_private_members(rsa_private_key: rsa.RSAPrivateKey) -> None:
    jwk = public_jwk(rsa_private_key, "RS256")
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_public_jwk_ec_members(es384_key: SigningKey) -> None:
    jwk = es384_key.public_jwk
    assert sorted(jwk) == ["alg", "crv", "kid", "kty", "use", "x", "y"]
    assert jwk["crv"] == "P-384"
    assert jwk["alg"] == "ES384"


def test_public_jwk_ec_coordinates_fixed_length() -> None:
    # A coordinate below 2**376 has a leading zero byte, which must be kept.
    # About 1 key in 128 has one; search a few hundred keys for such a key.
    for _ in range(2000):
        key = ec.generate_private_key(ec.SECP384R1())
        if key.public_key().public_numbers().x < 2**376:
            break
    else:
        pytest.fail("no P-384 key with a short x coordinate in 2000 tries")
    jwk = public_jwk(key.public_key(), "ES384")
    assert len(base64url_decode(jwk["x"])) == 48
    assert len(base64url_decode(jwk["y"])) == 48


def test_public_jwk_new_key_new_kid(rs256_key: SigningKey) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    assert public_jwk(other, "ES384")["kid"] != rs256_key.kid


def test_public_jwk_alg_mismatch(rsa_private_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(AlgorithmError, match="ES384"):
        public_jwk(rsa_private_key, "ES384")


def test_public_jwk_wrong_curve() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(PrivateKeyError, match="P-256"):
        public_jwk(key.public_key(), "ES384")


def test_public_jwk_ed25519() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(PrivateKeyError, match="Ed25519"):
        public_jwk(key.public_key(), "RS256")


def test_check_public_jwk_accepts_rsa(rs256_key: SigningKey) -> None:
    check_public_jwk(rs256_key.public_jwk)


def test_check_public_jwk_accepts_ec(es384_key: SigningKey) -> None:
    check_public_jwk(es384_key.public_jwk)


def test_check_public_jwk_accepts_rfc_example() -> None:
    check_public_jwk({**RFC7638_JWK, "use": "sig"})


def _variant(jwk: dict[str, str], **changes: Any) -> dict[str, Any]:
    """Return a copy of ``jwk`` with members changed; None removes a member."""
    copy: dict[str, Any] = dict(jwk)
    for name, value in changes.items():
        if value is None:
            copy.pop(name, None)
        else:
            copy[name] = value
    return copy


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi"])
def test_check_public_jwk_private_member(
    rs256_key: SigningKey,
    rsa_private_key: rsa.RSAPrivateKey,
    member: str,
    assert_no_key_material: Callable[[str, object], None],
) -> None:
    numbers = rsa_private_key.private_numbers()
    values = {
        "d": numbers.d,
        "p": numbers.p,
        "q": numbers.q,
        "dp": numbers.dmp1,
        "dq": numbers.dmq1,
        "qi": numbers.iqmp,
    }
    secret = values[member]
    encoded = base64url_encode(secret.to_bytes((secret.bit_length() + 7) // 8))
    jwk = _variant(rs256_key.public_jwk, **{member: encoded})
    with pytest.raises(JWKError, match="private key members") as caught:
        check_public_jwk(jwk)
    assert member in str(caught.value)
    assert encoded[:16] not in str(caught.value)
    assert_no_key_material(str(caught.value), rs256_key.private_key)


def test_check_public_jwk_private_ec_member(es384_key: SigningKey) -> None:
    jwk = _variant(es384_key.public_jwk, d="AAAA")
    with pytest.raises(JWKError, match="private key members"):
        check_public_jwk(jwk)


@pytest.mark.parametrize("member", ["kid", "use", "alg", "n", "e"])
def test_check_public_jwk_missing_member(rs256_key: SigningKey, member: str) -> None:
    jwk = _variant(rs256_key.public_jwk, **{member: None})
    with pytest.raises(JWKError, match="missing required members") as caught:
        check_public_jwk(jwk)
    assert repr(member) in str(caught.value)


@pytest.mark.parametrize("member", ["crv", "x", "y"])
def test_check_public_jwk_missing_ec_member(es384_key: SigningKey, member: str) -> None:
    jwk = _variant(es384_key.public_jwk, **{member: None})
    with pytest.raises(JWKError, match="missing required members"):
        check_public_jwk(jwk)


def test_check_public_jwk_missing_kty(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="no kty"):
        check_public_jwk(_variant(rs256_key.public_jwk, kty=None))


def test_check_public_jwk_unknown_kty(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="'OKP'"):
        check_public_jwk(_variant(rs256_key.public_jwk, kty="OKP"))


def test_check_public_jwk_use_enc(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="use is not sig: 'enc'"):
        check_public_jwk(_variant(rs256_key.public_jwk, use="enc"))


@pytest.mark.parametrize("alg", ["HS256", "none", "ES256", "PS256"])
def test_check_public_jwk_unsupported_alg(rs256_key: SigningKey, alg: str) -> None:
    with pytest.raises(JWKError, match=f"alg is not supported: '{alg}'"):
        check_public_jwk(_variant(rs256_key.public_jwk, alg=alg))


def test_check_public_jwk_alg_kty_mismatch(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="alg ES384 with kty RSA"):
        check_public_jwk(_variant(rs256_key.public_jwk, alg="ES384"))


def test_check_public_jwk_ec_with_rsa_alg(es384_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="alg RS256 with kty EC"):
        check_public_jwk(_variant(es384_key.public_jwk, alg="RS256"))


def test_check_public_jwk_wrong_curve(es384_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="'P-256'"):
        check_public_jwk(_variant(es384_key.public_jwk, crv="P-256"))


def test_check_public_jwk_small_rsa() -> None:
    # A key the kit must reject, so the weak size is the point of the test.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    numbers = small.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": "small",
        "alg": "RS256",
        "use": "sig",
        "n": base64url_encode(numbers.n.to_bytes(128)),
        "e": "AQAB",
    }
    with pytest.raises(JWKError, match="1024 bits") as caught:
        check_public_jwk(jwk)
    assert jwk["n"][:16] not in str(caught.value)


def test_check_public_jwk_n_leading_zero(rs256_key: SigningKey) -> None:
    modulus = b"\0" + base64url_decode(rs256_key.public_jwk["n"])
    jwk = _variant(rs256_key.public_jwk, n=base64url_encode(modulus))
    with pytest.raises(JWKError, match="zero byte"):
        check_public_jwk(jwk)


def test_check_public_jwk_n_padded(rs256_key: SigningKey) -> None:
    jwk = _variant(rs256_key.public_jwk, n=rs256_key.public_jwk["n"] + "==")
    with pytest.raises(JWKError, match="not base64url"):
        check_public_jwk(jwk)


def test_check_public_jwk_even_exponent(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="e = 65536"):
        check_public_jwk(_variant(rs256_key.public_jwk, e="AQAA"))


def test_check_public_jwk_short_coordinate(es384_key: SigningKey) -> None:
    short = base64url_encode(base64url_decode(es384_key.public_jwk["x"])[1:])
    with pytest.raises(JWKError, match="47 bytes"):
        check_public_jwk(_variant(es384_key.public_jwk, x=short))


def test_check_public_jwk_point_off_curve(es384_key: SigningKey) -> None:
    raw = bytearray(base64url_decode(es384_key.public_jwk["y"]))
    raw[-1] ^= 1
    jwk = _variant(es384_key.public_jwk, y=base64url_encode(bytes(raw)))
    with pytest.raises(JWKError, match="not on curve"):
        check_public_jwk(jwk)


def test_check_public_jwk_empty_kid(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="kid is empty"):
        check_public_jwk(_variant(rs256_key.public_jwk, kid=" "))


def test_check_public_jwk_number_member(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="strings"):
        check_public_jwk(_variant(rs256_key.public_jwk, e=65537))


def test_check_public_jwk_not_object() -> None:
    with pytest.raises(JWKError, match="not a JSON object: 'list'"):
        check_public_jwk([])


def test_check_public_jwk_jwks(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="JWK Set"):
        check_public_jwk({"keys": [rs256_key.public_jwk]})


def test_jwks_wraps_keys(rs256_key: SigningKey, es384_key: SigningKey) -> None:
    result = jwks([rs256_key.public_jwk, es384_key.public_jwk])
    assert result == {"keys": [rs256_key.public_jwk, es384_key.public_jwk]}


def test_jwks_duplicate_kid(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="share a kid"):
        jwks([rs256_key.public_jwk, rs256_key.public_jwk])


def test_jwks_checks_each_key(rs256_key: SigningKey) -> None:
    leaky = _variant(rs256_key.public_jwk, d="AAAA")
    with pytest.raises(JWKError, match="private key members"):
        jwks([leaky])


def test_jwks_empty() -> None:
    with pytest.raises(JWKError, match="empty"):
        jwks([])


@pytest.mark.parametrize("kty", [["RSA"], {"name": "RSA"}])
def test_check_public_jwk_kty_not_string(rs256_key: SigningKey, kty: object) -> None:
    with pytest.raises(JWKError, match="kty"):
        check_public_jwk({**rs256_key.public_jwk, "kty": kty})


def test_thumbprint_kty_not_string(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="kty"):
        thumbprint({**rs256_key.public_jwk, "kty": ["RSA"]})


def test_jwks_single_jwk_named(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="list of JWKs"):
        jwks(rs256_key.public_jwk)


def test_jwks_text_named(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError, match="list of JWKs"):
        jwks('{"kty": "RSA"}')


# Changes to a good RSA JWK (None removes a member) and the case they raise.
RSA_JWK_CASES = [
    ({"d": "c2VjcmV0"}, "private_member_in_jwk"),
    ({"kty": None}, "jwk_kty_missing"),
    ({"kty": "OKP"}, "jwk_kty_unsupported"),
    ({"kid": None}, "jwk_members_missing"),
    ({"e": 65537}, "jwk_member_not_string"),
    ({"use": "enc"}, "jwk_use_not_sig"),
    ({"alg": "HS256"}, "jwk_alg_unsupported"),
    ({"alg": "ES384"}, "jwk_alg_kty_mismatch"),
    ({"n": "AAAA=="}, "jwk_not_base64url"),
    ({"n": "AAAB"}, "jwk_n_leading_zero"),
    ({"n": "AQAB"}, "jwk_key_too_small"),
    ({"e": "AQAA"}, "jwk_exponent_invalid"),
    ({"kid": " "}, "jwk_kid_empty"),
]


@pytest.mark.parametrize(("changes", "case"), RSA_JWK_CASES)
def test_check_public_jwk_rsa_case(
    rs256_key: SigningKey, changes: dict[str, Any], case: str
) -> None:
    with pytest.raises(JWKError) as caught:
        check_public_jwk(_variant(rs256_key.public_jwk, **changes))
    assert caught.value.case == case


def _flipped(text: str) -> str:
    raw = bytearray(base64url_decode(text))
    raw[-1] ^= 1
    return base64url_encode(bytes(raw))


@pytest.mark.parametrize(
    ("member", "change", "case"),
    [
        ("crv", lambda value: "P-256", "jwk_wrong_curve"),
        ("x", lambda value: value[:-4], "jwk_coordinate_length"),
        ("y", _flipped, "jwk_point_off_curve"),
    ],
)
def test_check_public_jwk_ec_case(
    es384_key: SigningKey, member: str, change: Callable[[str], str], case: str
) -> None:
    jwk = es384_key.public_jwk
    with pytest.raises(JWKError) as caught:
        check_public_jwk(_variant(jwk, **{member: change(jwk[member])}))
    assert caught.value.case == case


@pytest.mark.parametrize(
    ("jwk", "case"),
    [([], "jwk_not_object"), ({"keys": []}, "jwk_set_given")],
)
def test_check_public_jwk_shape_case(jwk: object, case: str) -> None:
    with pytest.raises(JWKError) as caught:
        check_public_jwk(jwk)
    assert caught.value.case == case


@pytest.mark.parametrize(
    ("jwk", "case"),
    [
        ({"kty": "oct", "k": "c2VjcmV0"}, "jwk_kty_unsupported"),
        ({"kty": "RSA", "e": "AQAB"}, "jwk_members_missing"),
    ],
)
def test_thumbprint_case(jwk: dict[str, str], case: str) -> None:
    with pytest.raises(JWKError) as caught:
        thumbprint(jwk)
    assert caught.value.case == case


def test_jwks_case_single_jwk(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError) as caught:
        jwks(rs256_key.public_jwk)  # type: ignore[arg-type]
    assert caught.value.case == "jwks_not_list"


def test_jwks_case_duplicate_kid(rs256_key: SigningKey) -> None:
    with pytest.raises(JWKError) as caught:
        jwks([rs256_key.public_jwk, rs256_key.public_jwk])
    assert caught.value.case == "jwks_duplicate_kid"


def test_jwks_case_empty() -> None:
    with pytest.raises(JWKError) as caught:
        jwks([])
    assert caught.value.case == "jwks_empty"


@pytest.mark.parametrize(
    ("alg", "case"),
    [
        ("rs256", "alg_wrong_case"),
        ("HS256", "alg_hmac"),
        ("none", "alg_none"),
        ("ES256", "alg_unsupported"),
        (None, "alg_unsupported"),
    ],
)
def test_check_alg_case(alg: object, case: str) -> None:
    with pytest.raises(AlgorithmError) as caught:
        check_alg(alg)
    assert caught.value.case == case


def test_alg_for_rsa_key_case(rs256_key: SigningKey) -> None:
    with pytest.raises(AlgorithmError) as caught:
        check_public_key_for_alg(rs256_key.public_key, "ES384")
    assert caught.value.case == "alg_key_mismatch"


def test_alg_for_ec_key_case(es384_key: SigningKey) -> None:
    with pytest.raises(AlgorithmError) as caught:
        check_public_key_for_alg(es384_key.public_key, "RS256")
    assert caught.value.case == "alg_key_mismatch"


def test_small_rsa_key_case() -> None:
    # A key the kit must reject, so the weak size is the point of the test.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with pytest.raises(PrivateKeyError) as caught:
        check_public_key_for_alg(small.public_key(), "RS256")
    assert caught.value.case == "key_too_small"


def test_p256_key_case() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(PrivateKeyError) as caught:
        check_public_key_for_alg(key.public_key(), "ES384")
    assert caught.value.case == "wrong_curve"


def test_ed25519_key_case() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(PrivateKeyError) as caught:
        check_public_key_for_alg(key.public_key(), "RS256")
    assert caught.value.case == "unsupported_key_type"
