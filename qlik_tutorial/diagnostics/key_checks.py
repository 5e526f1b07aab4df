"""Pre-flight checks on a client assertion's header, signing key and signature."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ..errors import AlgorithmError, PrivateKeyError
from ..jwk import check_alg
from ..keys import SUPPORTED_ALGS, check_key_for_alg
from .checks import _Assertion, _Context

ES384_SIGNATURE_BYTES = 96


def _check_alg(assertion: _Assertion, context: _Context) -> None:
    alg = assertion.header.get("alg")
    try:
        check_alg(alg)
    except AlgorithmError as error:
        context.add("alg_supported", error.cause, alg, fix=error.fix)


def _check_key_fits_alg(assertion: _Assertion, context: _Context) -> bool:
    """Check the signing key against the header's alg; return whether it fits."""
    alg = assertion.header.get("alg")
    if context.key is None or alg not in SUPPORTED_ALGS:
        return False
    try:
        check_key_for_alg(context.key.private_key, alg)
    except (AlgorithmError, PrivateKeyError) as error:
        context.add(
            "key_fits_alg",
            error.cause,
            error.value,
            symptom=error.symptom,
            fix=error.fix,
        )
        return False
    return True


def _check_registered_alg(assertion: _Assertion, context: _Context) -> None:
    alg, kid = assertion.header.get("alg"), assertion.header.get("kid")
    if alg not in SUPPORTED_ALGS:
        return
    if isinstance(kid, str) and context.registered.get(kid):
        expected, source = context.registered[kid], f"the registered key {kid}"
    elif context.key is not None and not context.registered:
        expected, source = context.key.alg, "the configured key"
    else:
        return
    if alg != expected:
        context.add(
            "alg_matches_registered",
            f"the header says {alg}, but {source} is registered for {expected}",
            alg,
            alg=alg,
            expected=expected,
        )


def _check_kid(assertion: _Assertion, context: _Context) -> None:
    kid = assertion.header.get("kid")
    key_kid = context.key.kid if context.key else None
    registered = ", ".join(sorted(context.registered)) or None
    if not isinstance(kid, str) or not kid:
        context.add(
            "kid_present",
            "the tenant picks the public key that verifies the signature by kid, "
            "and Qlik requires it",
            sorted(assertion.header),
            kid=registered or key_kid or "<kid>",
        )
        return
    if registered and kid not in context.registered:
        context.add(
            "kid_registered",
            f"the client's registered keys have kid {registered}",
            kid,
            registered=registered,
        )
    if key_kid is not None and kid != key_kid:
        context.add(
            "kid_matches_key",
            f"the signing key's RFC 7638 thumbprint is {key_kid}, so the tenant "
            "verifies the signature with another public key",
            kid,
            kid=key_kid,
        )


def _check_registered_key(context: _Context) -> None:
    if context.key is None or not context.registered:
        return
    if context.key.kid not in context.registered:
        registered = ", ".join(sorted(context.registered))
        context.add(
            "key_matches_registered",
            f"this private key's kid is {context.key.kid}, but the client's "
            f"registered public keys have kid {registered}",
            context.key.kid,
            kid=context.key.kid,
        )


def _check_signature(assertion: _Assertion, context: _Context, key_fits: bool) -> None:
    alg = assertion.header.get("alg")
    signature = assertion.signature
    if alg == "ES384" and len(signature) != ES384_SIGNATURE_BYTES:
        try:
            decode_dss_signature(signature)
            cause = (
                f"the signature is DER-encoded ({len(signature)} bytes), but a "
                f"JWS carries raw r||s of {ES384_SIGNATURE_BYTES} bytes"
            )
        except ValueError:
            cause = f"ES384 signatures have {ES384_SIGNATURE_BYTES} bytes"
        context.add("signature_format", cause, f"{len(signature)} bytes", alg=alg)
        return
    if not key_fits or context.key is None:
        return
    public_key = context.key.public_key
    if isinstance(public_key, rsa.RSAPublicKey):
        expected = (public_key.key_size + 7) // 8
        if len(signature) != expected:
            context.add(
                "signature_format",
                f"a {public_key.key_size}-bit RSA key makes {expected}-byte signatures",
                f"{len(signature)} bytes",
                alg=alg,
            )
            return
    if not _signature_verifies(alg, public_key, assertion):
        context.add(
            "signature_verifies",
            "another key signed the assertion, or it was changed after signing",
            assertion.header.get("kid"),
        )


def _signature_verifies(alg: object, public_key: object, assertion: _Assertion) -> bool:
    digest = hashes.SHA512() if alg == "RS512" else hashes.SHA256()
    data, signature = assertion.signing_input, assertion.signature
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), digest)
            return True
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            half = len(signature) // 2
            r = int.from_bytes(signature[:half], "big")
            s = int.from_bytes(signature[half:], "big")
            der = encode_dss_signature(r, s)
            public_key.verify(der, data, ec.ECDSA(hashes.SHA384()))
            return True
    except InvalidSignature:
        pass
    return False
