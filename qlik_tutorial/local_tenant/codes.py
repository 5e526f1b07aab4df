"""Error codes the local tenant sends, and the exception that carries one.

Every error response has Qlik's shape::

    {"errors": [{"code": "OAUTH-24", "title": "...", "detail": "...",
                 "status": "401"}], "traceId": "..."}

Qlik documents only ``OAUTH-14`` (Invalid client_id) and ``HTTP-429``. Every
other code below is the local tenant's own choice, so a client must match an
response on status, code, title and detail together, never on the code alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorCode:
    """One row of the error table: code, HTTP status, title and the case it covers."""

    code: str
    status: int
    title: str
    case: str


_TABLE = (
    ErrorCode(
        "OAUTH-1", 400, "Invalid request", "missing or duplicate field, bad body"
    ),
    ErrorCode(
        "OAUTH-2", 400, "Unsupported grant type", "grant_type not client_credentials"
    ),
    ErrorCode(
        "OAUTH-3",
        400,
        "unsupported_client_assertion_type",
        "client_assertion_type not the exact URN",
    ),
    ErrorCode(
        "OAUTH-4",
        400,
        "Invalid client assertion",
        "client_assertion not a well-formed JWS",
    ),
    ErrorCode("OAUTH-5", 400, "Invalid scope", "scope not allowed for the client"),
    ErrorCode("OAUTH-14", 401, "Invalid client_id", "client ID unknown"),
    ErrorCode("OAUTH-15", 401, "Client disabled", "client disabled"),
    ErrorCode(
        "OAUTH-16",
        401,
        "unauthorized_client",
        "client does not allow client_credentials",
    ),
    ErrorCode(
        "OAUTH-17",
        401,
        "Invalid client authentication method",
        "client does not allow private_key_jwt",
    ),
    ErrorCode(
        "OAUTH-20", 401, "Unsupported algorithm", "header alg not RS256/RS512/ES384"
    ),
    ErrorCode("OAUTH-21", 401, "Missing kid", "header has no kid"),
    ErrorCode("OAUTH-22", 401, "Unknown kid", "kid names no registered key"),
    ErrorCode(
        "OAUTH-23",
        401,
        "Signature validation failed",
        "alg differs from the registered key's alg",
    ),
    ErrorCode(
        "OAUTH-24", 401, "Signature validation failed", "signature does not verify"
    ),
    ErrorCode("OAUTH-25", 401, "Invalid client", "iss or sub is not the client ID"),
    ErrorCode("OAUTH-26", 401, "Invalid client", "client_id field differs from iss"),
    ErrorCode("OAUTH-27", 401, "Invalid audience", "aud is not exactly the token URL"),
    ErrorCode("OAUTH-28", 401, "Assertion expired", "exp passed (beyond leeway)"),
    ErrorCode(
        "OAUTH-29",
        401,
        "Assertion lifetime too long",
        "exp - iat > 300 or exp <= iat",
    ),
    ErrorCode(
        "OAUTH-30",
        401,
        "Assertion issued in the future",
        "iat (or nbf) in the future beyond leeway",
    ),
    ErrorCode("OAUTH-31", 401, "Missing jti", "jti missing"),
    ErrorCode("OAUTH-32", 401, "Assertion already used", "jti already used"),
    ErrorCode("OAUTH-33", 401, "Missing claim", "missing claim iss/sub/aud/exp/iat"),
    ErrorCode(
        "HTTP-429",
        429,
        "Too many requests",
        "too many token requests for the client (+ Retry-After seconds)",
    ),
    ErrorCode("AUTH-1", 401, "Not authorized", "API: no or malformed Authorization"),
    ErrorCode("AUTH-2", 401, "Invalid access token", "API: unknown access token"),
    ErrorCode("AUTH-3", 401, "Access token expired", "API: expired access token"),
    ErrorCode("AUTH-10", 401, "Invalid admin key", "admin API: bad or missing key"),
    ErrorCode("OAUTH-40", 400, "Invalid public key", "admin API: invalid JWK"),
    ErrorCode("HTTP-404", 404, "Not found", "unknown path, client ID or user ID"),
    ErrorCode("HTTP-405", 405, "Method not allowed", "known path, other method"),
    ErrorCode(
        "HTTP-500",
        500,
        "Internal server error",
        "a bug in the local tenant: see its log",
    ),
)

CODES: dict[str, ErrorCode] = {row.code: row for row in _TABLE}

# Qlik documents these two; the rest of the table is the local tenant's choice.
QLIK_DOCUMENTED = frozenset({"OAUTH-14", "HTTP-429"})

# Members of a private JWK, whose values are key material.
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

_SHOWN_LENGTH = 80
_SHOWN_ITEMS = 8
_SHOWN_DEPTH = 3
_SHOWN_PATH_LENGTH = 120
# Client IDs are 32 hex characters and user IDs 24, so a longer value in
# the place of an ID is likely an access token, admin key or assertion.
MAX_ID_LENGTH = 32


def _cut(text: str) -> str:
    return f"{text[:8]!r}…({len(text)} chars)"


def _more(items: dict[Any, Any] | list[Any]) -> list[str]:
    return [f"… {len(items)} in all"] if len(items) > _SHOWN_ITEMS else []


def show(value: object) -> str:
    """Quote a request value for an error detail or log line, never leaking a secret.

    Text that looks like a compact JWS (an assertion or a JWT access token
    pasted into the wrong field) and overlong text are cut to their first
    characters and their length. In a JSON object the values of private JWK
    members (``d``, ``p``, ``q``, ...) are left out, and long or deep objects
    and lists are shortened, so a detail never repeats key material.
    """
    return _show(value, 0)


def _show(value: object, depth: int) -> str:
    if isinstance(value, str):
        looks_like_jws = value.count(".") == 2 and value.startswith("eyJ")
        if looks_like_jws or len(value) > _SHOWN_LENGTH:
            return _cut(value)
        return repr(value)
    if isinstance(value, dict):
        if depth >= _SHOWN_DEPTH:
            return "{…}"
        parts = []
        for name, item in list(value.items())[:_SHOWN_ITEMS]:
            rendered = "…" if name in PRIVATE_JWK_MEMBERS else _show(item, depth + 1)
            parts.append(f"{_show(name, depth)}: {rendered}")
        return "{" + ", ".join(parts + _more(value)) + "}"
    if isinstance(value, list):
        if depth >= _SHOWN_DEPTH:
            return "[…]"
        parts = [_show(item, depth + 1) for item in value[:_SHOWN_ITEMS]]
        return "[" + ", ".join(parts + _more(value)) + "]"
    text = repr(value)
    return text if len(text) <= _SHOWN_LENGTH else _cut(text)


def show_id(value: object) -> str:
    """Quote a value given as an ID (client ID, ``iss``, ``sub``, path segment).

    A string longer than an ID can be is cut like a secret, so an access
    token or admin key pasted in place of a client ID is never repeated.
    """
    if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
        return _cut(value)
    return show(value)


def show_path(path: str) -> str:
    """Return a request path for a detail or log line, secret-like segments cut.

    A segment longer than an ID, or one that starts like a JWS (``eyJ``), is
    cut to its first characters and its length, and so is a path of more
    than 120 characters.
    """
    segments = [
        f"{segment[:8]}…({len(segment)} chars)"
        if len(segment) > MAX_ID_LENGTH or segment.startswith("eyJ")
        else segment
        for segment in path.split("/")
    ]
    shown = "/".join(segments)
    if len(shown) > _SHOWN_PATH_LENGTH:
        shown = shown[:_SHOWN_PATH_LENGTH] + f"…({len(path)} chars)"
    return shown


class Rejection(Exception):
    """A request the local tenant rejects with one of the codes in `CODES`.

    ``detail`` names the offending value (quoted with `show`) and the fix.
    ``retry_after`` is sent as the ``Retry-After`` header (seconds) on 429.
    ``client_id`` names the registered client the request was for, once known,
    for the request log and counts.
    """

    def __init__(self, code: str, detail: str, *, retry_after: int | None = None):
        self.error = CODES[code]
        self.detail = detail
        self.retry_after = retry_after
        self.client_id: str | None = None
        super().__init__(f"{code} {self.error.title}: {detail}")

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def status(self) -> int:
        return self.error.status

    def body(self) -> dict[str, Any]:
        """Return Qlik's error body for this rejection, with a new trace ID."""
        return {
            "errors": [
                {
                    "code": self.error.code,
                    "title": self.error.title,
                    "detail": self.detail,
                    "status": str(self.error.status),
                }
            ],
            "traceId": uuid.uuid4().hex,
        }
