"""Checks of a token request and its client assertion, in the order they run.

1. The body (form-encoded or JSON) has each field once: ``grant_type``,
   ``client_assertion_type``, ``client_assertion``; ``client_id`` and
   ``scope`` are optional (OAUTH-1).
2. ``grant_type`` is ``client_credentials`` (OAUTH-2) and
   ``client_assertion_type`` is the exact URN (OAUTH-3).
3. The assertion is a compact JWS whose header and payload are JSON objects
   (OAUTH-4).
4. The client, named by ``client_id`` or else by ``iss``, exists (OAUTH-14);
   the rate limit applies from here on (HTTP-429); the client is enabled
   (OAUTH-15) and allows ``client_credentials`` (OAUTH-16) and
   ``private_key_jwt`` (OAUTH-17).
5. Header: ``alg`` is RS256, RS512 or ES384 (OAUTH-20). ``kid`` is present
   (OAUTH-21) and names a key of the client (OAUTH-22) whose alg matches
   (OAUTH-23). The signature verifies with PyJWT (OAUTH-24).
6. Claims: iss, sub, aud, exp and iat are present (OAUTH-33); iss = client_id
   field (OAUTH-26); iss = sub = client ID (OAUTH-25); aud is exactly the
   token URL (OAUTH-27); exp not passed (OAUTH-28); 0 < exp - iat <= 300
   (OAUTH-29); iat and nbf not in the future (OAUTH-30), all within the
   leeway; jti present (OAUTH-31); the scope allowed (OAUTH-5).
7. The jti was never used by this client (OAUTH-32), checked atomically
   while the token is stored.

Signatures are verified with PyJWT, a JOSE library independent of the
python-jose code that signs assertions in the kit, so a signing bug in the
client cannot hide behind the same code checking it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt

from .clients import OAuthClient
from .codes import Rejection, show, show_id
from .jwks import SUPPORTED_ALGS, decode_base64url, public_key

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTH_METHOD = "private_key_jwt"
MAX_LIFETIME = 300
MAX_ASSERTION_LENGTH = 16384
REQUIRED_FIELDS = ("grant_type", "client_assertion_type", "client_assertion")
OPTIONAL_FIELDS = ("client_id", "scope")
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"

_FIELDS_FIX = (
    "send grant_type=client_credentials, client_id, client_assertion_type, "
    "client_assertion and scope, form-encoded or as a JSON object"
)
_SIGNATURE_FIX = (
    "make alg match the key (RS256, RS512, ES384); regenerate and re-register "
    "the pair if needed"
)
_CLIENT_FIX = "set both to the real client ID; check the client exists and is enabled"


@dataclass(frozen=True)
class TokenRequest:
    """The fields of a token request; ``client_id`` and ``scope`` may be absent.

    The client assertion is left out of ``repr``.
    """

    grant_type: str
    client_assertion_type: str
    client_assertion: str = field(repr=False)
    client_id: str | None
    scope: str | None


@dataclass(frozen=True)
class Assertion:
    """A client assertion split into its decoded JWS parts (not yet verified).

    The compact form and the signature are left out of ``repr``, so that the
    parts shown never rebuild the assertion.
    """

    compact: str = field(repr=False)
    header: dict[str, Any]
    claims: dict[str, Any]
    signature: bytes = field(repr=False)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_token_request(content_type: str, body: bytes) -> TokenRequest:
    """Parse a form-encoded or JSON token request body, or raise OAUTH-1."""
    media = _media_type(content_type)
    if media == FORM_TYPE:
        pairs = _form_pairs(body)
    elif media == JSON_TYPE:
        pairs = _json_pairs(body)
    else:
        raise Rejection(
            "OAUTH-1",
            f"Content-Type {show(content_type or '(none)')} is not supported. "
            f"Fix: send the body as {FORM_TYPE} (or {JSON_TYPE})",
        )
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise Rejection(
                "OAUTH-1",
                f"Field {show(name)} appears more than once. Fix: send each field once",
            )
        fields[name] = value
    for name in REQUIRED_FIELDS:
        if not fields.get(name):
            raise Rejection(
                "OAUTH-1", f"Field {name!r} is missing or empty. Fix: {_FIELDS_FIX}"
            )
    return TokenRequest(
        grant_type=fields["grant_type"],
        client_assertion_type=fields["client_assertion_type"],
        client_assertion=fields["client_assertion"],
        client_id=fields.get("client_id") or None,
        scope=fields.get("scope") or None,
    )


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("ascii")
        return parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise Rejection(
            "OAUTH-1",
            "The form-encoded body cannot be parsed. Fix: percent-encode each "
            "field as name=value pairs joined by '&' (UTF-8)",
        ) from None


class _Members(list[tuple[str, Any]]):
    """The members of one JSON object in order, duplicates kept."""


def _json_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        pairs = json.loads(body.decode("utf-8"), object_pairs_hook=_Members)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Rejection(
            "OAUTH-1", f"The JSON body cannot be parsed. Fix: {_FIELDS_FIX}"
        ) from None
    if not isinstance(pairs, _Members):
        raise Rejection(
            "OAUTH-1", f"The JSON body is not an object. Fix: {_FIELDS_FIX}"
        )
    for name, value in pairs:
        if not isinstance(value, str):
            raise Rejection(
                "OAUTH-1",
                f"Field {show(name)} is {type(value).__name__}, not a string. "
                "Fix: send every field as a JSON string",
            )
    return pairs


def check_grant(request: TokenRequest) -> None:
    """Check ``grant_type`` (OAUTH-2) and ``client_assertion_type`` (OAUTH-3)."""
    if request.grant_type != GRANT_TYPE:
        raise Rejection(
            "OAUTH-2",
            f"grant_type {show(request.grant_type)} is not supported. "
            f"Fix: use grant_type={GRANT_TYPE} for machine-to-machine access",
        )
    if request.client_assertion_type != ASSERTION_TYPE:
        raise Rejection(
            "OAUTH-3",
            f"client_assertion_type {show(request.client_assertion_type)} is wrong. "
            f"Fix: use exactly {ASSERTION_TYPE}",
        )


def parse_assertion(text: str) -> Assertion:
    """Split a compact JWS and decode its header and claims, or raise OAUTH-4."""
    fix = (
        "Fix: send the signed JWT itself: three base64url parts "
        "(header.payload.signature) without padding or whitespace"
    )
    if len(text) > MAX_ASSERTION_LENGTH:
        raise Rejection(
            "OAUTH-4",
            f"client_assertion is {len(text)} characters, more than "
            f"{MAX_ASSERTION_LENGTH}. {fix}",
        )
    parts = text.split(".")
    if len(parts) != 3:
        raise Rejection(
            "OAUTH-4",
            f"client_assertion has {len(parts)} dot-separated parts, not 3. {fix}",
        )
    decoded: list[Any] = []
    for name, part in zip(("header", "payload"), parts[:2], strict=True):
        try:
            value = json.loads(decode_base64url(part))
        except (ValueError, RecursionError):
            raise Rejection(
                "OAUTH-4", f"The JWS {name} is not base64url-encoded JSON. {fix}"
            ) from None
        if not isinstance(value, dict):
            raise Rejection("OAUTH-4", f"The JWS {name} is not a JSON object. {fix}")
        decoded.append(value)
    try:
        signature = decode_base64url(parts[2])
    except ValueError:
        raise Rejection(
            "OAUTH-4", f"The JWS signature is not base64url. {fix}"
        ) from None
    return Assertion(text, decoded[0], decoded[1], signature)


def client_id_of(request: TokenRequest, assertion: Assertion) -> str:
    """Return the client ID a request names: the field, else the ``iss`` claim."""
    if request.client_id is not None:
        return request.client_id
    issuer = assertion.claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise Rejection(
            "OAUTH-33",
            f"Claim 'iss' is {show_id(issuer)} and no client_id field was sent. "
            "Fix: set iss and sub to the client ID",
        )
    return issuer


def unknown_client(client_id: str) -> Rejection:
    return Rejection(
        "OAUTH-14",
        f"Client ID {show_id(client_id)} is not registered on this tenant. Fix: copy "
        "the Client ID of the OAuth client and check the client exists",
    )


def check_client(client: OAuthClient) -> None:
    """Check the client is enabled (OAUTH-15) and allowed this grant and method."""
    if not client.enabled:
        raise Rejection(
            "OAUTH-15",
            f"Client {show(client.client_id)} is disabled. Fix: {_CLIENT_FIX}",
        )
    if GRANT_TYPE not in client.allowed_grant_types:
        raise Rejection(
            "OAUTH-16",
            f"Client {show(client.client_id)} does not allow the {GRANT_TYPE} "
            "grant. Fix: allow client credentials (machine-to-machine) on the "
            "OAuth client",
        )
    if AUTH_METHOD not in client.allowed_auth_methods:
        raise Rejection(
            "OAUTH-17",
            f"Client {show(client.client_id)} does not allow {AUTH_METHOD}. Fix: "
            "set the client's authentication method to Private Key JWT",
        )


def verify_signature(assertion: Assertion, client: OAuthClient) -> None:
    """Check header alg and kid, then verify the signature with PyJWT."""
    alg = assertion.header.get("alg")
    if alg not in SUPPORTED_ALGS:
        raise Rejection(
            "OAUTH-20",
            f"Header alg {show(alg)} is not supported. Fix: sign with RS256, "
            "RS512 or ES384",
        )
    kid = assertion.header.get("kid")
    if kid is None:
        raise Rejection(
            "OAUTH-21",
            "The JWS header has no kid. Fix: put the registered key's kid in the "
            "JWS header",
        )
    if not isinstance(kid, str) or not kid:
        raise Rejection(
            "OAUTH-21",
            f"Header kid is {show(kid)}, not a key ID. Fix: put the registered "
            "key's kid in the JWS header",
        )
    jwk = client.key_for(kid)
    if jwk is None:
        kids = ", ".join(show(k.get("kid")) for k in client.public_keys)
        raise Rejection(
            "OAUTH-22",
            f"Header kid {show(kid)} names no key of client "
            f"{show(client.client_id)} (registered: {kids or 'none'}). Fix: use "
            "the kid of the registered public JWK, or register this key",
        )
    if jwk["alg"] != alg:
        raise Rejection(
            "OAUTH-23",
            f"Header alg {alg!r} differs from the registered key's alg "
            f"{jwk['alg']!r} (kid {show(kid)}). Fix: {_SIGNATURE_FIX}",
        )
    try:
        jwt.PyJWS().decode_complete(
            assertion.compact,
            key=public_key(jwk),
            algorithms=[alg],
            options={"enforce_minimum_key_length": True},
        )
    except jwt.InvalidSignatureError:
        raise Rejection(
            "OAUTH-24",
            f"The signature does not verify with the key kid {show(kid)} "
            f"({alg}){_signature_hint(alg, assertion.signature)}. Cause: the "
            "public key does not match the private key. Fix: " + _SIGNATURE_FIX,
        ) from None
    except jwt.PyJWTError as error:
        raise Rejection(
            "OAUTH-4",
            f"The JWS was rejected by the verifier: {error}. Fix: sign a standard "
            "compact JWS",
        ) from None


def _signature_hint(alg: str, signature: bytes) -> str:
    if alg == "ES384" and len(signature) != 96:
        return (
            f"; an ES384 signature is the 96-byte raw r||s, this one is "
            f"{len(signature)} bytes (DER?)"
        )
    return ""


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejection(
            "OAUTH-33",
            f"Claim {name!r} is {show(value)}, not a number. Fix: set {name} to "
            "Unix time in seconds, such as int(time.time())",
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf  # an integer too large for a float
    if not math.isfinite(number):
        raise Rejection(
            "OAUTH-33",
            f"Claim {name!r} is not a finite number of seconds. Fix: set {name} to "
            "Unix time in seconds, such as int(time.time())",
        )
    return number


def _seconds(value: float) -> str:
    """Format seconds for a detail: 300, 300.5, -10, 1796400000, 1e+308."""
    if abs(value) >= 1e12:
        return f"{value:.6g}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class ClaimCheck:
    """Inputs of the claim checks besides the assertion: client ID, token URL, time."""

    client_id: str
    client_id_field: str | None
    token_url: str
    now: float
    leeway: float


def check_claims(assertion: Assertion, check: ClaimCheck) -> tuple[str, float]:
    """Check the claims and return ``(jti, exp)``; raises the claim's `Rejection`."""
    claims = assertion.claims
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise Rejection(
                "OAUTH-33",
                f"Claim {name!r} is missing. Fix: include iss, sub, aud, exp, iat "
                "and jti in every client assertion",
            )

    issuer, subject = claims["iss"], claims["sub"]
    if check.client_id_field is not None and issuer != check.client_id_field:
        raise Rejection(
            "OAUTH-26",
            f"Claim iss {show_id(issuer)} differs from the client_id field "
            f"{show_id(check.client_id_field)}. Fix: {_CLIENT_FIX}",
        )
    for name, value in (("iss", issuer), ("sub", subject)):
        if value != check.client_id:
            raise Rejection(
                "OAUTH-25",
                f"Claim {name} {show_id(value)} is not the client ID "
                f"{show(check.client_id)}. Fix: {_CLIENT_FIX}",
            )

    audience = claims["aud"]
    if audience != check.token_url:
        raise Rejection(
            "OAUTH-27",
            f"Claim aud {show(audience)} is not this tenant's token endpoint. "
            f"Fix: set aud to exactly {check.token_url}, no trailing slash",
        )

    expires, issued = _number(claims, "exp"), _number(claims, "iat")
    _check_times(expires, issued, claims, check)

    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise Rejection(
            "OAUTH-31",
            f"Claim jti is {show(jti)}. Fix: set jti to a new UUID (str(uuid.uuid4())) "
            "for every token request",
        )
    return jti, expires


def _check_times(
    expires: float, issued: float, claims: Mapping[str, Any], check: ClaimCheck
) -> None:
    now, leeway = check.now, check.leeway
    if now > expires + leeway:
        raise Rejection(
            "OAUTH-28",
            f"Claim exp {_seconds(expires)} passed {now - expires:.0f} s ago (leeway "
            f"{leeway:.0f} s). Fix: sign a new assertion for every token request "
            "and check the clock",
        )
    if expires - issued > MAX_LIFETIME or expires <= issued:
        raise Rejection(
            "OAUTH-29",
            f"exp - iat is {_seconds(expires - issued)} s. Fix: set exp to iat "
            f"plus 1 to {MAX_LIFETIME} seconds",
        )
    if issued > now + leeway:
        raise Rejection(
            "OAUTH-30",
            f"Claim iat {_seconds(issued)} is {issued - now:.0f} s in the future "
            f"(leeway {leeway:.0f} s). Fix: set iat to the current Unix time and "
            "sync the clock (NTP)",
        )
    if "nbf" in claims:
        not_before = _number(claims, "nbf")
        if not_before > now + leeway:
            raise Rejection(
                "OAUTH-30",
                f"Claim nbf {_seconds(not_before)} is {not_before - now:.0f} s in the "
                f"future (leeway {leeway:.0f} s). Fix: drop nbf or set it to iat",
            )


def granted_scope(request: TokenRequest, client: OAuthClient) -> str:
    """Return the scope to grant: the requested one if allowed, else raise OAUTH-5.

    Without a ``scope`` field the client gets all of its allowed scopes.
    """
    requested = (request.scope or "").split()
    if not requested:
        return " ".join(client.allowed_scopes)
    for scope in requested:
        if scope not in client.allowed_scopes:
            raise Rejection(
                "OAUTH-5",
                f"Scope {show(scope)} is not allowed for client "
                f"{show(client.client_id)}. Fix: request one of "
                + ", ".join(client.allowed_scopes),
            )
    return " ".join(dict.fromkeys(requested))
