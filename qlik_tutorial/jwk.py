"""Public JWKs: the form in which Qlik Cloud registers a client's public key.

A JWK for the console has ``kty``, ``kid``, ``alg``, ``use`` and the public
numbers: ``n`` and ``e`` for RSA, ``crv``, ``x`` and ``y`` for EC. Numbers are
base64url without padding, RSA numbers as minimal big-endian bytes (RFC 7518
section 6.3.1) and EC coordinates as 48 bytes each for P-384 (section 6.2.1).
The ``kid`` is the RFC 7638 thumbprint, so a new key always gets a new kid.

>>> from cryptography.hazmat.primitives.asymmetric import ec
>>> jwk = public_jwk(ec.generate_private_key(ec.SECP384R1()).public_key(), "ES384")
>>> sorted(jwk)
['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import AlgorithmError, JWKError, PrivateKeyError

SUPPORTED_ALGS = ("RS256", "RS512", "ES384")
KEY_TYPE_FOR_ALG = {"RS256": "RSA", "RS512": "RSA", "ES384": "EC"}
MIN_RSA_BITS = 2048
EC_CURVE = "P-384"
EC_COORDINATE_BYTES = 48

# Members that carry private key material (RFC 7518 sections 6.3.2 and 6.4).
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
REQUIRED_MEMBERS = {
    "RSA": ("kty", "kid", "alg", "use", "n", "e"),
    "EC": ("kty", "kid", "alg", "use", "crv", "x", "y"),
}
# Members hashed for the RFC 7638 thumbprint, in lexicographic order.
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_NIST_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_JWK_FIX = (
    "paste the JWK the kit wrote to public_jwk.json, or print it again with: "
    "qlik-tutorial jwk --key private_key.pem"
)


def base64url_encode(data: bytes) -> str:
    """Encode bytes as base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def base64url_decode(text: str) -> bytes:
    """Decode unpadded base64url text, raising ValueError for any other form."""
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url: only A-Z a-z 0-9 - _ and no '=' padding")
    if len(text) % 4 == 1:
        raise ValueError("not base64url: the length cannot come from whole bytes")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError(f"not base64url: {error}") from None


def _uint_to_base64url(value: int) -> str:
    """Encode a non-negative integer as minimal big-endian base64url."""
    return base64url_encode(value.to_bytes(max(1, (value.bit_length() + 7) // 8)))


def describe_key(key: object) -> str:
    """Describe a key by type and size, for messages that must not show it."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA {key.key_size}-bit key"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        name = key.curve.name
        return f"EC key on curve {_NIST_CURVE_NAMES.get(name, name)} ({name})"
    name = type(key).__name__.removeprefix("_")
    for suffix in ("PrivateKey", "PublicKey"):
        if name.endswith(suffix) and name != suffix:
            return f"{name.removesuffix(suffix)} key"
    return f"{name} object"


def check_alg(alg: object) -> str:
    """Return ``alg`` if the kit supports it, else raise AlgorithmError."""
    if isinstance(alg, str) and alg in SUPPORTED_ALGS:
        return alg
    supported = ", ".join(SUPPORTED_ALGS)
    if isinstance(alg, str) and alg.upper() in SUPPORTED_ALGS:
        case = "alg_wrong_case"
        cause = "JOSE algorithm names are case-sensitive"
        fix = f"write it as {alg.upper()!r}"
    elif isinstance(alg, str) and alg.upper().startswith("HS"):
        case = "alg_hmac"
        cause = (
            f"{alg} is an HMAC algorithm with a shared secret, but Private Key JWT "
            f"signs with a private key and Qlik Cloud accepts only {supported}"
        )
        fix = "use RS256 with an RSA key or ES384 with a P-384 key"
    elif isinstance(alg, str) and alg.lower() == "none":
        case = "alg_none"
        cause = "an unsigned JWT proves nothing about the client, so it is rejected"
        fix = "use RS256 with an RSA key or ES384 with a P-384 key"
    else:
        case = "alg_unsupported"
        cause = f"Qlik Cloud accepts only {supported}"
        fix = "use RS256 or RS512 with an RSA key, or ES384 with a P-384 key"
    raise AlgorithmError(
        "Unsupported algorithm", value=alg, cause=cause, fix=fix, case=case
    )


def check_public_key_for_alg(public_key: object, alg: str) -> None:
    """Raise unless ``public_key`` can verify ``alg`` signatures for Qlik Cloud.

    An unsupported alg or a key type that does not fit it raises
    `AlgorithmError`. An RSA key under 2048 bits or an EC key on another
    curve than P-384 raises `PrivateKeyError`, because the key must change.
    """
    check_alg(alg)
    described = describe_key(public_key)
    if isinstance(public_key, rsa.RSAPublicKey):
        if KEY_TYPE_FOR_ALG[alg] != "RSA":
            raise AlgorithmError(
                "Algorithm does not fit the key",
                value=alg,
                cause=f"{alg} needs an EC P-384 key, but the key is an {described}",
                fix="use RS256 or RS512 with this key, or generate a P-384 key "
                "with: qlik-tutorial keygen --alg ES384",
                case="alg_key_mismatch",
            )
        if public_key.key_size < MIN_RSA_BITS:
            raise PrivateKeyError(
                "RSA key is too small",
                value=described,
                cause=f"RS256 and RS512 need at least {MIN_RSA_BITS} bits",
                fix="generate a new key with: qlik-tutorial keygen --alg RS256 "
                "(or: openssl genrsa -out private_key.pem 2048)",
                case="key_too_small",
            )
        return
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if KEY_TYPE_FOR_ALG[alg] != "EC":
            raise AlgorithmError(
                "Algorithm does not fit the key",
                value=alg,
                cause=f"{alg} needs an RSA key, but the key is an {described}",
                fix="use ES384 with a P-384 key, or generate an RSA key with: "
                f"qlik-tutorial keygen --alg {alg}",
                case="alg_key_mismatch",
            )
        if not isinstance(public_key.curve, ec.SECP384R1):
            raise PrivateKeyError(
                "EC key is on the wrong curve",
                value=described,
                cause="ES384 needs curve P-384 (secp384r1), and Qlik Cloud "
                "accepts no other EC algorithm",
                fix="generate a P-384 key with: qlik-tutorial keygen --alg ES384 "
                "(or: openssl ecparam -name secp384r1 -genkey -noout "
                "-out private_key.pem)",
                case="wrong_curve",
            )
        return
    raise PrivateKeyError(
        "Key type is not supported",
        value=described,
        cause="Qlik Cloud accepts RSA keys (RS256, RS512) and EC P-384 keys (ES384)",
        fix="generate a key with: qlik-tutorial keygen --alg RS256",
        case="unsupported_key_type",
    )


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """Compute the RFC 7638 thumbprint: SHA-256 of the canonical JSON, base64url.

    Only the required public members take part (``e``, ``kty``, ``n`` for RSA;
    ``crv``, ``kty``, ``x``, ``y`` for EC), so ``kid``, ``alg`` and ``use``
    never change it.
    """
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in THUMBPRINT_MEMBERS:
        raise JWKError(
            "JWK key type is not supported",
            value=kty,
            cause="the kit computes thumbprints for kty RSA and EC",
            fix=_JWK_FIX,
            case="jwk_kty_unsupported",
        )
    members = THUMBPRINT_MEMBERS[kty]
    missing = [name for name in members if not isinstance(jwk.get(name), str)]
    if missing:
        raise JWKError(
            "JWK is missing members needed for its thumbprint",
            value=missing,
            cause=f"an {kty} thumbprint hashes {', '.join(members)}, each a string",
            fix=_JWK_FIX,
            case="jwk_members_missing",
        )
    canonical = json.dumps(
        {name: jwk[name] for name in members},
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )
    return base64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(public_key: object, alg: str) -> dict[str, str]:
    """Build the public JWK to register for ``public_key``, with kid = thumbprint.

    A private key is accepted too, and only its public half goes into the JWK.
    Raises `AlgorithmError` or `PrivateKeyError` when the key does not fit
    ``alg``.
    """
    if isinstance(public_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        public_key = public_key.public_key()
    check_public_key_for_alg(public_key, alg)
    members: dict[str, str]
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        members = {
            "kty": "RSA",
            "n": _uint_to_base64url(numbers.n),
            "e": _uint_to_base64url(numbers.e),
        }
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        point = public_key.public_numbers()
        members = {
            "kty": "EC",
            "crv": EC_CURVE,
            "x": base64url_encode(point.x.to_bytes(EC_COORDINATE_BYTES)),
            "y": base64url_encode(point.y.to_bytes(EC_COORDINATE_BYTES)),
        }
    kid = thumbprint(members)
    jwk = {"kty": members["kty"], "use": "sig", "alg": alg, "kid": kid}
    jwk.update((name, value) for name, value in members.items() if name != "kty")
    return jwk


def jwks(keys: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Wrap public JWKs in a JWK Set ``{"keys": [...]}`` after checking each.

    Every key must pass `check_public_jwk`, and no two keys may share a kid,
    because the tenant picks the verification key by the assertion's kid.
    """
    if isinstance(keys, Mapping | str | bytes):
        raise JWKError(
            "jwks() takes a list of JWKs",
            value=type(keys).__name__,
            cause="a single JWK or JSON text was given, and iterating over it "
            "yields member names or characters, not keys",
            fix="pass a list, for example jwks([public_jwk])",
            case="jwks_not_list",
        )
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for jwk in keys:
        check_public_jwk(jwk)
        kid = jwk["kid"]
        if kid in seen:
            raise JWKError(
                "Two keys in the JWK Set share a kid",
                value=kid,
                cause="the tenant picks the key to verify by the assertion's kid",
                fix="give each key its own kid, such as the thumbprint that "
                "public_jwk() sets",
                case="jwks_duplicate_kid",
            )
        seen.add(kid)
        checked.append(dict(jwk))
    if not checked:
        raise JWKError(
            "JWK Set is empty",
            value=[],
            cause="a JWK Set needs at least one key",
            fix="pass one or more public JWKs",
            case="jwks_empty",
        )
    return {"keys": checked}


def check_public_jwk(jwk: object) -> None:
    """Raise JWKError unless ``jwk`` is a public JWK the console will accept.

    The checks run in this order:

    - a JSON object, and not a JWK Set
    - no private member: ``d``, ``p``, ``q``, ``dp``, ``dq``, ``qi``, ``oth``, ``k``
    - ``kty`` RSA or EC, with every required member present as a string
    - ``use`` is ``sig``, and ``alg`` is supported and fits ``kty``
    - RSA: ``n`` of at least 2048 bits, minimally encoded, and a valid ``e``
    - EC: ``crv`` P-384, with 48-byte ``x`` and ``y`` on the curve
    - a non-empty ``kid``

    Messages name members, never their values, apart from the short ``kty``,
    ``alg``, ``use`` and ``crv`` values.
    """
    if not isinstance(jwk, Mapping):
        raise JWKError(
            "JWK is not a JSON object",
            value=type(jwk).__name__,
            cause="a JWK is a JSON object with members such as kty, kid and alg",
            fix=_JWK_FIX,
            case="jwk_not_object",
        )
    if "keys" in jwk:
        raise JWKError(
            "A JWK Set was given where a single JWK is expected",
            value=f"JWK Set with members {sorted(jwk)}",
            cause="the console's Public key field takes one JWK",
            fix="paste one element of the keys list",
            case="jwk_set_given",
        )
    private = [name for name in PRIVATE_MEMBERS if name in jwk]
    if private:
        raise JWKError(
            "JWK contains private key members",
            value=private,
            cause="these members are the private key, and whoever sees them can "
            "sign assertions as your client",
            fix="register the public JWK only (" + _JWK_FIX + "), and generate a "
            "new key pair if this JWK was shared anywhere",
            case="private_member_in_jwk",
        )
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in REQUIRED_MEMBERS:
        raise JWKError(
            "JWK key type is missing or not supported" if kty else "JWK has no kty",
            value=kty,
            cause="Qlik Cloud accepts kty RSA (RS256, RS512) and EC (ES384)",
            fix=_JWK_FIX,
            case="jwk_kty_unsupported" if kty else "jwk_kty_missing",
        )
    missing = [name for name in REQUIRED_MEMBERS[kty] if name not in jwk]
    if missing:
        raise JWKError(
            "JWK is missing required members",
            value=missing,
            cause=f"an {kty} JWK for Qlik Cloud needs "
            + ", ".join(REQUIRED_MEMBERS[kty]),
            fix=_JWK_FIX,
            case="jwk_members_missing",
        )
    not_strings = [name for name in REQUIRED_MEMBERS[kty] if not _is_str(jwk[name])]
    if not_strings:
        raise JWKError(
            "JWK members must be strings",
            value=not_strings,
            cause="JWK members hold strings, with numbers in base64url",
            fix=_JWK_FIX,
            case="jwk_member_not_string",
        )
    if jwk["use"] != "sig":
        raise JWKError(
            "JWK use is not sig",
            value=jwk["use"],
            cause="the key verifies client assertion signatures, so Qlik Cloud "
            'accepts only use "sig"',
            fix='set "use": "sig"',
            case="jwk_use_not_sig",
        )
    alg = jwk["alg"]
    if alg not in SUPPORTED_ALGS:
        try:
            check_alg(alg)
        except AlgorithmError as error:
            raise JWKError(
                "JWK alg is not supported",
                value=alg,
                cause=error.cause,
                fix=error.fix,
                case="jwk_alg_unsupported",
            ) from None
    if KEY_TYPE_FOR_ALG[alg] != kty:
        raise JWKError(
            "JWK alg does not fit its kty",
            value=f"alg {alg} with kty {kty}",
            cause="RS256 and RS512 need kty RSA, and ES384 needs kty EC",
            fix=f"use the alg the key was made for, which for kty {kty} is "
            + ("RS256 or RS512" if kty == "RSA" else "ES384"),
            case="jwk_alg_kty_mismatch",
        )
    if kty == "RSA":
        _check_rsa_members(jwk)
    else:
        _check_ec_members(jwk)
    if not jwk["kid"].strip():
        raise JWKError(
            "JWK kid is empty",
            value=jwk["kid"],
            cause="the tenant picks the key to verify by the assertion's kid",
            fix="set kid to the key's thumbprint, as public_jwk() does",
            case="jwk_kid_empty",
        )


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _decode_member(jwk: Mapping[str, Any], name: str) -> bytes:
    try:
        return base64url_decode(jwk[name])
    except ValueError as error:
        raise JWKError(
            f"JWK member {name} is not base64url",
            value=f"{name} ({len(jwk[name])} characters)",
            cause=str(error),
            fix="encode the number as base64url without padding (RFC 7515 "
            "section 2), or " + _JWK_FIX,
            case="jwk_not_base64url",
        ) from None


def _check_rsa_members(jwk: Mapping[str, Any]) -> None:
    modulus = _decode_member(jwk, "n")
    exponent = _decode_member(jwk, "e")
    bits = int.from_bytes(modulus).bit_length()
    if modulus[:1] == b"\0":
        raise JWKError(
            "JWK member n starts with a zero byte",
            value=f"n ({len(modulus)} bytes, {bits} bits)",
            cause="RFC 7518 section 6.3.1.1 requires the minimal big-endian bytes",
            fix="drop the leading zero byte, or " + _JWK_FIX,
            case="jwk_n_leading_zero",
        )
    if bits < MIN_RSA_BITS:
        raise JWKError(
            "JWK is an RSA key that is too small",
            value=f"n ({bits} bits)",
            cause=f"Qlik Cloud needs RSA keys of at least {MIN_RSA_BITS} bits",
            fix="generate a new key with: qlik-tutorial keygen --alg RS256",
            case="jwk_key_too_small",
        )
    public_exponent = int.from_bytes(exponent)
    if public_exponent < 3 or public_exponent % 2 == 0 or exponent[:1] == b"\0":
        raise JWKError(
            "JWK member e is not a valid RSA public exponent",
            value=f"e = {public_exponent}",
            cause="e must be an odd number of at least 3, minimally encoded, "
            "and nearly every key uses 65537, which is AQAB",
            fix=_JWK_FIX,
            case="jwk_exponent_invalid",
        )


def _check_ec_members(jwk: Mapping[str, Any]) -> None:
    if jwk["crv"] != EC_CURVE:
        raise JWKError(
            "JWK curve is not P-384",
            value=jwk["crv"],
            cause="ES384 needs crv P-384, and Qlik Cloud accepts no other EC algorithm",
            fix="generate a P-384 key with: qlik-tutorial keygen --alg ES384",
            case="jwk_wrong_curve",
        )
    coordinates = {name: _decode_member(jwk, name) for name in ("x", "y")}
    for name, raw in coordinates.items():
        if len(raw) != EC_COORDINATE_BYTES:
            raise JWKError(
                f"JWK member {name} has the wrong length",
                value=f"{name} ({len(raw)} bytes)",
                cause=f"P-384 coordinates are exactly {EC_COORDINATE_BYTES} bytes, "
                "with leading zero bytes kept (RFC 7518 section 6.2.1.2)",
                fix=_JWK_FIX,
                case="jwk_coordinate_length",
            )
    try:
        ec.EllipticCurvePublicNumbers(
            int.from_bytes(coordinates["x"]),
            int.from_bytes(coordinates["y"]),
            ec.SECP384R1(),
        ).public_key()
    except ValueError:
        raise JWKError(
            "JWK point is not on curve P-384",
            value="x, y",
            cause="x and y do not form a point of the curve, so the JWK is damaged",
            fix=_JWK_FIX,
            case="jwk_point_off_curve",
        ) from None
