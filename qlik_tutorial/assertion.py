"""Client assertions: the signed JWT a client sends in place of a client secret.

A client assertion (RFC 7523 section 2.2) is a JWS in compact form. Qlik
Cloud requires the header members ``alg`` and ``kid`` and the claims ``iss``
and ``sub`` (both the client ID), ``aud`` (exactly the token endpoint),
``jti`` (new for every request), ``iat`` and ``exp`` (Unix seconds, at most
300 s apart)::

    assertion = build_client_assertion(key, client_id, "acme.eu.qlikcloud.com")
    print(decode_assertion(assertion).describe())

`build_client_assertion` enforces these rules. `sign_jws` signs any header
and claims as given, so teaching material can build a wrong assertion on
purpose. `decode_assertion` shows an assertion's parts without verifying it.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime as dt
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from jose.exceptions import JOSEError

from .errors import ClientAssertionError
from .jwk import base64url_decode, base64url_encode
from .keys import SigningKey
from .tenant import token_endpoint

__all__ = [
    "ASSERTION_TYPE",
    "DEFAULT_LIFETIME",
    "MAX_LIFETIME",
    "DecodedAssertion",
    "build_client_assertion",
    "decode_assertion",
    "format_duration",
    "sign_jws",
]

logger = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME = 300
DEFAULT_LIFETIME = 300
REQUIRED_CLAIMS = ("iss", "sub", "aud", "jti", "iat", "exp")
TIME_CLAIMS = ("iat", "nbf", "exp")

_PART_NAMES = ("header", "claims", "signature")
_DECODE_FIX = (
    "pass the assertion exactly as it was signed, such as the content of "
    "assertion.jwt, with no quotes or line breaks inside"
)


def sign_jws(
    header: Mapping[str, Any], claims: Mapping[str, Any], key: SigningKey
) -> str:
    """Sign ``claims`` under ``header`` with ``key`` and return the compact JWS.

    Nothing is checked or added, so a header with a wrong ``alg``, no ``alg``,
    no ``typ`` or no ``kid``, or claims that break Qlik Cloud's rules, are
    signed as given. Header and claims become compact JSON in their given
    member order; the signing input is their base64url forms joined by a dot.
    The signature always uses ``key.alg`` and comes from `SigningKey.sign`,
    which is python-jose's key on its cryptography backend.
    """
    try:
        parts = [_encode_json(part) for part in (header, claims)]
    except (TypeError, ValueError) as error:
        raise ClientAssertionError(
            "Header or claims cannot be encoded as JSON",
            value=f"header members {sorted(header)}, claims {sorted(claims)}",
            cause=str(error),
            fix="use only strings, finite numbers, booleans, lists and objects",
        ) from None
    signing_input = ".".join(parts)
    try:
        signature = key.sign(signing_input.encode("ascii"))
    except (JOSEError, TypeError, ValueError) as error:
        raise ClientAssertionError(
            "Signing the client assertion failed",
            value=repr(key),
            cause=type(error).__name__,
            fix="load the key again with SigningKey.load()",
        ) from None
    return f"{signing_input}.{base64url_encode(signature)}"


def _encode_json(part: Mapping[str, Any]) -> str:
    """Return ``part`` as base64url of compact JSON, members in their given order."""
    text = json.dumps(dict(part), separators=(",", ":"), allow_nan=False)
    return base64url_encode(text.encode("utf-8"))


def build_client_assertion(
    key: SigningKey,
    client_id: str,
    tenant: str,
    *,
    lifetime: int = DEFAULT_LIFETIME,
    now: Callable[[], float] = time.time,
    jti: str | None = None,
) -> str:
    """Build and sign a client assertion that follows every Qlik Cloud rule.

    The header is ``{alg, kid, typ: JWT}`` from ``key``. The claims are
    ``iss`` = ``sub`` = ``client_id``, ``aud`` = the tenant's token endpoint,
    ``jti`` = a new UUID4 (unless ``jti`` is given), ``iat`` = ``int(now())``
    and ``exp`` = ``iat + lifetime``. ``lifetime`` is whole seconds from 1 to
    300. Raises `ClientAssertionError` for a bad argument and
    `TenantURLError` for a bad tenant.
    """
    if not isinstance(key, SigningKey):
        raise ClientAssertionError(
            "A client assertion needs a SigningKey",
            value=type(key).__name__,
            cause="the key must be parsed and checked before it signs",
            fix="pass SigningKey.load(path_to_private_key_pem)",
        )
    _check_client_id(client_id)
    _check_lifetime(lifetime)
    audience = token_endpoint(tenant)
    issued_at = _current_time(now)
    if jti is None:
        jti = str(uuid.uuid4())
    elif not isinstance(jti, str):
        raise ClientAssertionError(
            "jti is not text",
            value=type(jti).__name__,
            cause="the jti claim is a string, unique for every assertion",
            fix="leave jti out so that a new UUID is used",
        )
    elif not jti.strip():
        raise ClientAssertionError(
            "jti is empty",
            value=jti,
            cause="the tenant rejects an assertion without a unique jti",
            fix="leave jti out so that a new UUID is used",
        )
    header = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": jti,
        "iat": issued_at,
        "exp": issued_at + lifetime,
    }
    assertion = sign_jws(header, claims, key)
    logger.debug(
        "Signed a client assertion: alg %s, kid %s, jti %s, exp %d",
        key.alg,
        key.kid,
        jti,
        claims["exp"],
    )
    return assertion


def _check_client_id(client_id: object) -> None:
    if client_id is not None and not isinstance(client_id, str):
        raise ClientAssertionError(
            "Client ID is not text",
            value=type(client_id).__name__,
            cause="iss and sub must be the OAuth client's ID, a string",
            fix="pass the Client ID from the OAuth client in the console as a string",
        )
    if not client_id:
        raise ClientAssertionError(
            "Client ID is empty",
            value=client_id,
            cause="iss and sub must be the OAuth client's ID",
            fix="copy the Client ID from the OAuth client in the console",
        )
    if client_id != client_id.strip() or any(char.isspace() for char in client_id):
        raise ClientAssertionError(
            "Client ID contains whitespace",
            value=client_id,
            cause="a pasted value often brings a space or line break along, and "
            "iss must match the client ID exactly",
            fix="remove the whitespace",
        )


def _check_lifetime(lifetime: object) -> None:
    if isinstance(lifetime, bool) or not isinstance(lifetime, int):
        raise ClientAssertionError(
            "Assertion lifetime is not whole seconds",
            value=lifetime,
            cause="exp and iat are whole Unix seconds",
            fix=f"pass an integer from 1 to {MAX_LIFETIME}",
        )
    if not 1 <= lifetime <= MAX_LIFETIME:
        raise ClientAssertionError(
            "Assertion lifetime is out of range",
            value=lifetime,
            cause=f"Qlik Cloud rejects an assertion whose exp is more than "
            f"{MAX_LIFETIME} s after iat, and exp must be after iat",
            fix=f"pass a lifetime from 1 to {MAX_LIFETIME} seconds "
            f"(default {DEFAULT_LIFETIME})",
        )


def _current_time(now: Callable[[], float]) -> int:
    current = now()
    if (
        isinstance(current, bool)
        or not isinstance(current, int | float)
        or not math.isfinite(current)
        or current < 0
    ):
        raise ClientAssertionError(
            "Clock returned an invalid time",
            value=type(current).__name__,
            cause="now() must return Unix seconds, as time.time() does",
            fix="pass now=time.time, or a function returning seconds since 1970",
        )
    return int(current)


@dataclasses.dataclass(frozen=True)
class DecodedAssertion:
    """The parts of a client assertion, decoded without verifying the signature.

    ``decoded_at`` is the Unix time the relative times in `describe` count
    from. The signature is left out of ``repr``, so that the header, claims and
    signature shown together never rebuild the assertion.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    signature: bytes = dataclasses.field(repr=False)
    decoded_at: float = 0.0

    @property
    def lifetime(self) -> float | None:
        """``exp - iat`` in seconds, or None when either is not a number."""
        issued_at, expires_at = self.claims.get("iat"), self.claims.get("exp")
        if not (_is_number(issued_at) and _is_number(expires_at)):
            return None
        try:
            lifetime = float(expires_at - issued_at)
        except OverflowError:
            return None
        return lifetime if math.isfinite(lifetime) else None

    def describe(self, *, now: float | None = None) -> str:
        """Return the header and claims as text, with readable times.

        Times show as UTC ISO 8601 plus the time relative to ``now`` (default
        ``decoded_at``), such as "expires in 4 min 59 s" or "expired 10 s ago".
        """
        reference = self.decoded_at if now is None else now
        lines = ["Header:"]
        lines += [f"  {name}: {_show(value)}" for name, value in self.header.items()]
        lines.append("Claims:")
        for name, value in self.claims.items():
            text = _show(value)
            moment = _timestamp(value) if name in TIME_CLAIMS else None
            if moment is not None:
                text += f" = {_utc(moment)} ({_relative(name, moment, reference)})"
            elif name in TIME_CLAIMS and _is_number(value):
                text += " = out of range"
            lines.append(f"  {name}: {text}")
        lifetime = self.lifetime
        if lifetime is not None:
            verdict = (
                "within" if 0 < lifetime <= MAX_LIFETIME else "breaks"
            ) + f" the {MAX_LIFETIME} s limit"
            lines.append(f"Lifetime: {lifetime:g} s (exp - iat, {verdict})")
        missing = [
            f"header {name}" for name in ("alg", "kid") if name not in self.header
        ]
        missing += [
            f"claim {name}" for name in REQUIRED_CLAIMS if name not in self.claims
        ]
        if missing:
            lines.append("Missing: " + ", ".join(missing))
        lines.append(f"Signature: {len(self.signature)} bytes (not verified)")
        return "\n".join(lines)


def decode_assertion(
    jwt: str | bytes, *, now: Callable[[], float] = time.time
) -> DecodedAssertion:
    """Decode a compact JWS into header, claims and signature, without verifying.

    A value that is not ``header.claims.signature`` with base64url parts and
    JSON objects in the first two raises `ClientAssertionError`, whose message
    describes the faulty part but never shows the assertion.
    """
    if isinstance(jwt, bytes):
        try:
            jwt = jwt.decode("ascii")
        except UnicodeDecodeError:
            raise ClientAssertionError(
                "Client assertion is not ASCII text",
                value=f"{len(jwt)} bytes",
                cause="a compact JWS uses only base64url characters and dots",
                fix=_DECODE_FIX,
            ) from None
    if not isinstance(jwt, str):
        raise ClientAssertionError(
            "Client assertion is not text",
            value=type(jwt).__name__,
            cause="a compact JWS is a string",
            fix=_DECODE_FIX,
        )
    parts = jwt.strip().split(".")
    if len(parts) != 3:
        cause = "a compact JWS has three base64url parts: header.claims.signature"
        if len(parts) == 5:
            cause += ", while five parts make an encrypted JWT (JWE)"
        raise ClientAssertionError(
            "Client assertion is not a compact JWS",
            value=f"text of {len(jwt.strip())} characters in {len(parts)} parts",
            cause=cause,
            fix=_DECODE_FIX,
        )
    decoded = [_decode_part(part, index) for index, part in enumerate(parts)]
    header, claims = (_parse_object(decoded[i], i, len(parts[i])) for i in (0, 1))
    return DecodedAssertion(
        header=header,
        claims=claims,
        signature=decoded[2],
        decoded_at=float(now()),
    )


def _decode_part(part: str, index: int) -> bytes:
    try:
        return base64url_decode(part)
    except (ValueError, binascii.Error) as error:
        raise ClientAssertionError(
            f"Client assertion {_PART_NAMES[index]} is not base64url",
            value=_part_label(index, len(part)),
            cause=str(error),
            fix=_DECODE_FIX,
        ) from None


def _parse_object(data: bytes, index: int, length: int) -> dict[str, Any]:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8, bad JSON and integers of more than
        # 4300 digits; RecursionError covers arrays nested thousands deep.
        raise ClientAssertionError(
            f"Client assertion {_PART_NAMES[index]} is not JSON",
            value=_part_label(index, length),
            cause="the part decodes, but not to UTF-8 JSON",
            fix=_DECODE_FIX,
        ) from None
    if not isinstance(parsed, dict):
        raise ClientAssertionError(
            f"Client assertion {_PART_NAMES[index]} is not a JSON object",
            value=_part_label(index, length),
            cause=f"it decodes to a JSON {type(parsed).__name__}",
            fix=_DECODE_FIX,
        )
    return parsed


def _part_label(index: int, length: int) -> str:
    return f"part {index + 1} of 3 ({_PART_NAMES[index]}, {length} characters)"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range
# that datetime can show.
_FIRST_SECOND = -62_135_596_800
_LAST_SECOND = 253_402_300_799


def _timestamp(value: object) -> float | None:
    """Return a time claim as float seconds, or None when datetime cannot show it."""
    if not _is_number(value):
        return None
    if not _FIRST_SECOND <= value <= _LAST_SECOND:
        return None
    return float(value)


def _show(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _utc(timestamp: float) -> str:
    try:
        moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return "out of range"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _relative(name: str, timestamp: float, now: float) -> str:
    ahead = timestamp - now
    if name == "exp":
        if ahead > 0:
            return f"expires in {format_duration(math.ceil(ahead))}"
        past = math.floor(-ahead)
        return (
            "expired just now" if past == 0 else f"expired {format_duration(past)} ago"
        )
    if name == "nbf":
        if ahead > 0:
            return f"valid in {format_duration(math.ceil(ahead))}"
        return "valid now"
    if ahead > 0:
        return f"issued {format_duration(math.ceil(ahead))} in the future"
    past = math.floor(-ahead)
    return "issued just now" if past == 0 else f"issued {format_duration(past)} ago"


def format_duration(seconds: float) -> str:
    """Format a duration as "4 min 59 s", "2 h 5 min" or "3 d 1 h".

    >>> format_duration(299)
    '4 min 59 s'
    """
    total = round(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    while len(units) > 1 and units[0][0] == 0:
        units.pop(0)
    text = f"{units[0][0]} {units[0][1]}"
    if len(units) > 1 and units[1][0]:
        text += f" {units[1][0]} {units[1][1]}"
    return text
