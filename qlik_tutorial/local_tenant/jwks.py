"""Server-side checks of registered public JWKs, written apart from the client's.

The local tenant is an independent party: it checks every JWK it is given
with its own code and builds verification keys with ``cryptography``, so a
mistake in the kit's own JWK builder cannot pass unnoticed.

A JWK is accepted when it has ``kty`` RSA or EC, ``alg`` RS256, RS512 or ES384
fitting the ``kty``, ``use`` ``sig``, a non-empty string ``kid``, no private
members, and valid key material: RSA ``n`` of at least 2048 bits without
leading zero octets and an odd ``e`` of at least 3, or an EC point on P-384
with 48-octet ``x`` and ``y``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .codes import PRIVATE_JWK_MEMBERS, Rejection, show

SUPPORTED_ALGS = ("RS256", "RS512", "ES384")
ALG_KTY = {"RS256": "RSA", "RS512": "RSA", "ES384": "EC"}
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 16384
EC_CURVE = "P-384"
EC_COORDINATE_BYTES = 48
MAX_KID_LENGTH = 256

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def decode_base64url(text: str) -> bytes:
    """Decode unpadded base64url, raising ValueError on any other text."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError(str(error)) from None


def _reject(where: str, problem: str, fix: str) -> Rejection:
    return Rejection("OAUTH-40", f"{where} {problem}. Fix: {fix}")


def _member(jwk: Mapping[str, Any], name: str, where: str) -> str:
    value = jwk.get(name)
    if value is None:
        raise _reject(
            where,
            f"has no {name!r} member",
            f"export the public key as a JWK with {name!r}",
        )
    if not isinstance(value, str) or not value:
        raise _reject(
            where,
            f"member {name!r} is {show(value)}, not a non-empty string",
            f"set {name!r} to a string",
        )
    return value


def _octets(jwk: Mapping[str, Any], name: str, where: str) -> bytes:
    text = _member(jwk, name, where)
    try:
        return decode_base64url(text)
    except ValueError:
        raise _reject(
            where,
            f"member {name!r} is not unpadded base64url: {show(text)}",
            f"encode {name!r} as base64url without '=' padding (RFC 7518)",
        ) from None


def check_jwk(jwk: object, where: str = "publicKeys[0]") -> dict[str, Any]:
    """Return a copy of ``jwk`` after checking it, or raise an OAUTH-40 `Rejection`.

    ``where`` names the JWK in the detail, such as ``publicKeys[1]``.
    """
    if not isinstance(jwk, Mapping):
        raise _reject(
            where,
            f"is {show(jwk)}, not a JSON object",
            "paste the public JWK object, starting with '{'",
        )
    leaked = [name for name in PRIVATE_JWK_MEMBERS if name in jwk]
    if leaked:
        raise _reject(
            where,
            "contains the private member " + ", ".join(repr(n) for n in leaked),
            "paste only the public JWK: remove d, p, q, dp, dq, qi and never "
            "share the private key; generate a new key pair if it was exposed",
        )
    kty = _member(jwk, "kty", where)
    alg = _member(jwk, "alg", where)
    if alg not in SUPPORTED_ALGS:
        raise _reject(
            where,
            f"has unsupported alg {show(alg)}",
            "use RS256, RS512 or ES384, the algorithms Qlik Cloud accepts",
        )
    if kty != ALG_KTY[alg]:
        raise _reject(
            where,
            f"has kty {show(kty)}, which does not fit alg {alg!r}",
            f"use kty {ALG_KTY[alg]!r} with {alg}",
        )
    use = _member(jwk, "use", where)
    if use != "sig":
        raise _reject(where, f"has use {show(use)}", "set use to 'sig'")
    kid = _member(jwk, "kid", where)
    if len(kid) > MAX_KID_LENGTH:
        raise _reject(
            where,
            f"has a kid of {len(kid)} characters",
            f"use a kid of at most {MAX_KID_LENGTH} characters, such as the "
            "RFC 7638 thumbprint",
        )
    public_key(jwk, where)
    return dict(jwk)


def public_key(jwk: Mapping[str, Any], where: str = "publicKeys[0]") -> PublicKey:
    """Build the ``cryptography`` public key of a JWK, checking its key material."""
    if jwk.get("kty") == "RSA":
        return _rsa_key(jwk, where)
    return _ec_key(jwk, where)


def _rsa_key(jwk: Mapping[str, Any], where: str) -> rsa.RSAPublicKey:
    n_octets = _octets(jwk, "n", where)
    e_octets = _octets(jwk, "e", where)
    if n_octets[:1] == b"\x00" or e_octets[:1] == b"\x00":
        raise _reject(
            where,
            "encodes n or e with leading zero octets",
            "encode n and e as the minimal big-endian octets (RFC 7518 "
            "section 6.3.1), not a fixed length",
        )

    modulus = int.from_bytes(n_octets, "big")
    exponent = int.from_bytes(e_octets, "big")
    bits = modulus.bit_length()
    if bits < MIN_RSA_BITS:
        raise _reject(
            where,
            f"is a {bits}-bit RSA key",
            f"generate an RSA key of at least {MIN_RSA_BITS} bits "
            "(openssl genrsa -out private_key.pem 2048)",
        )
    if bits > MAX_RSA_BITS:
        raise _reject(
            where,
            f"is a {bits}-bit RSA key",
            f"use an RSA key of at most {MAX_RSA_BITS} bits; 4096 is plenty",
        )

    if exponent < 3 or exponent % 2 == 0:
        raise _reject(
            where,
            f"has RSA exponent e = {exponent}",
            "export the key again; RSA keys use e = 65537 (AQAB)",
        )
    # NOTE: n is not checked for being a product of two primes; a wrong n
    # shows only as a signature that never verifies.
    try:
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError as error:
        raise _reject(
            where, f"is not a valid RSA key ({error})", "export it again"
        ) from None


def _ec_key(jwk: Mapping[str, Any], where: str) -> ec.EllipticCurvePublicKey:
    curve = _member(jwk, "crv", where)
    if curve != EC_CURVE:
        raise _reject(
            where,
            f"has crv {show(curve)}",
            f"ES384 needs crv {EC_CURVE!r}: generate the key on P-384 (secp384r1)",
        )
    coordinates = []
    for name in ("x", "y"):
        octets = _octets(jwk, name, where)
        if len(octets) != EC_COORDINATE_BYTES:
            raise _reject(
                where,
                f"member {name!r} is {len(octets)} octets",
                f"encode {name!r} as exactly {EC_COORDINATE_BYTES} octets for P-384",
            )
        coordinates.append(int.from_bytes(octets, "big"))
    try:
        return ec.EllipticCurvePublicNumbers(
            coordinates[0], coordinates[1], ec.SECP384R1()
        ).public_key()
    except ValueError:
        raise _reject(
            where,
            "is not a point on P-384",
            "export x and y again from the same key pair",
        ) from None


def check_key_set(keys: object) -> list[dict[str, Any]]:
    """Return the checked ``publicKeys``: a non-empty list of JWKs, kids unique."""
    if not isinstance(keys, list) or not keys:
        raise _reject(
            "publicKeys",
            f"is {show(keys)}, not a non-empty list of JWKs",
            "send publicKeys as a list holding the public JWK",
        )
    checked = [check_jwk(jwk, f"publicKeys[{i}]") for i, jwk in enumerate(keys)]
    seen: set[str] = set()
    for index, jwk in enumerate(checked):
        if jwk["kid"] in seen:
            raise _reject(
                f"publicKeys[{index}]",
                f"repeats kid {show(jwk['kid'])}",
                "give every registered key its own kid",
            )
        seen.add(jwk["kid"])
    return checked
