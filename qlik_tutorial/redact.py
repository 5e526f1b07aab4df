"""Redaction: show tokens, keys and server responses without leaking secrets.

>>> mask_token("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
'eyJhbGciOi…(49 chars)'
>>> redact_secrets("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln here")
'token [JWT redacted] here'
"""

from __future__ import annotations

import re

PREFIX_LENGTH = 10
EXCERPT_LENGTH = 200

# A compact JWS (three base64url parts) or JWE (five), whose header starts
# with the base64url form of '{"'. An unsigned JWS has an empty last part.
_JWT = re.compile(
    r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"
    r"(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?"
)
_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# Secret-named members in JSON, form bodies and query strings. A quoted value
# is replaced up to its closing quote, so a value with spaces is hidden whole.
_SECRET_MEMBER = re.compile(
    r"""(?ix)
    (["']?\b(?:access_token|refresh_token|id_token|client_assertion
        |client_secret|assertion|password|api_key|admin_key)\b["']?
    \s*[:=]\s*)
    (?:(["'])[^"']{4,}\2|[^"'&\s,}<]{4,})
    """
)
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.DOTALL | re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def mask_token(token: str) -> str:
    """Return a token's first characters and its length, never the whole token.

    Tokens shorter than 40 characters show at most a quarter of their length,
    so a short token is never shown almost in full.
    """
    length = len(token)
    shown = min(PREFIX_LENGTH, length // 4) if length < 40 else PREFIX_LENGTH
    return f"{token[:shown]}…({length} chars)"


def redact_secrets(text: str) -> str:
    """Replace JWTs, PEM blocks, bearer tokens and secret-named values in text."""
    # Secret members go before JWTs, so that a member holding a JWT is
    # replaced once, as a whole.
    text = _PEM.sub("[PEM block redacted]", text)
    text = _SECRET_MEMBER.sub(_redact_member, text)
    text = _JWT.sub("[JWT redacted]", text)
    return _BEARER.sub(r"\1[token redacted]", text)


def _redact_member(match: re.Match[str]) -> str:
    quote = match.group(2) or ""
    return f"{match.group(1)}{quote}[redacted]{quote}"


def safe_excerpt(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """Return a short one-line excerpt of a response body with secrets redacted.

    HTML tags, scripts and styles are dropped and white space is collapsed, so
    an HTML error page shrinks to its readable words.
    """
    plain = _TAGS.sub(" ", redact_secrets(text))
    plain = _SPACE.sub(" ", plain).strip()
    if len(plain) <= limit:
        return plain
    return plain[: limit - 1].rstrip() + "…"
