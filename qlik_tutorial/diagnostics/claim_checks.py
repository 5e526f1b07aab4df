"""Pre-flight checks on a client assertion's claims: iss, sub, aud, iat, exp and jti."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from ..assertion import MAX_LIFETIME
from ..tenant import token_endpoint
from .checks import _Assertion, _Context

REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")

# An assertion built on this machine has iat equal to the local clock, so an
# iat further ahead than this was not built with time.time().
FUTURE_IAT_TOLERANCE = 30.0

# Every UTC offset in use is a whole number of quarter hours.
_QUARTER_HOUR = 900
_ZONE_MATCH = 120


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_required_claims(assertion: _Assertion, context: _Context) -> None:
    missing = [name for name in REQUIRED_CLAIMS if name not in assertion.claims]
    if missing:
        context.add(
            "claims_present",
            "Qlik requires iss, sub, aud, exp, iat and jti",
            missing,
            missing=", ".join(missing),
        )


def _check_issuer(assertion: _Assertion, context: _Context) -> None:
    iss, sub = assertion.claims.get("iss"), assertion.claims.get("sub")
    client_id = context.client_id
    if client_id:
        for name, value in (("iss", iss), ("sub", sub)):
            if value is not None and value != client_id:
                context.add(
                    f"{name}_client_id",
                    f"{name} must be the client ID {client_id!r}",
                    value,
                    client_id=client_id,
                )
    elif iss is not None and sub is not None and iss != sub:
        context.add(
            "iss_sub_differ",
            f"sub is {sub!r}, but iss and sub must both be the client ID",
            iss,
        )


def _check_audience(assertion: _Assertion, context: _Context) -> None:
    if "aud" not in assertion.claims:
        return
    aud = assertion.claims["aud"]
    token_url = token_endpoint(context.tenant) if context.tenant else None
    expected = token_url or "https://<TENANT>/oauth/token"
    if not isinstance(aud, str):
        kind = "a list" if isinstance(aud, list) else f"a {type(aud).__name__}"
        context.add(
            "aud_string",
            f"aud is {kind}, but Qlik compares it with the token URL as one string",
            aud,
            expected=expected,
        )
        return
    if aud == token_url:
        return
    parts = urlsplit(aud)
    expected_host = urlsplit(token_url).hostname if token_url else None
    if aud.endswith("/") and (token_url is None or aud.rstrip("/") == token_url):
        cause = "aud must equal the token URL, and a trailing slash makes it differ"
        name = "aud_trailing_slash"
    elif "//" in parts.path:
        cause = "the tenant URL ended with a slash when /oauth/token was appended"
        name = "aud_double_slash"
    elif expected_host is not None and parts.hostname != expected_host:
        cause = f"the request goes to {expected_host}, but aud names {parts.hostname}"
        name = "aud_host"
    elif token_url is not None or parts.path != "/oauth/token":
        cause = "aud must equal the token endpoint URL, character for character"
        name = "aud_token_url"
    else:
        return
    context.add(name, cause, aud, expected=expected)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_times(assertion: _Assertion, context: _Context) -> None:
    claims = assertion.claims
    if "iat" not in claims or "exp" not in claims:
        return
    iat, exp = claims["iat"], claims["exp"]
    if not _is_number(iat) or not _is_number(exp):
        context.add(
            "claim_types",
            "iat and exp are NumericDate values: seconds since 1970 in UTC",
            {"iat": iat, "exp": exp},
        )
        return
    lifetime = exp - iat
    if lifetime <= 0:
        context.add(
            "lifetime_positive",
            f"exp - iat is {lifetime:g} s",
            {"iat": iat, "exp": exp},
        )
    elif lifetime > MAX_LIFETIME:
        context.add(
            "lifetime_too_long",
            f"exp - iat is {lifetime:g} s, and Qlik accepts at most {MAX_LIFETIME} s",
            f"{lifetime:g} s",
        )
    offset = iat - context.now
    if _looks_like_zone_offset(offset):
        context.add(
            "iat_local_time",
            f"iat is {offset / 3600:+.2f} h from the UTC time now, so a naive local "
            "datetime was most likely converted as if it were UTC",
            _utc(iat),
        )
        return
    if offset > FUTURE_IAT_TOLERANCE:
        context.add(
            "iat_future",
            f"iat is {offset:.0f} s ahead of this machine's clock",
            _utc(iat),
        )
    if exp <= context.now:
        context.add(
            "expired",
            f"exp passed {context.now - exp:.0f} s ago, and an assertion lives "
            f"at most {MAX_LIFETIME} s",
            _utc(exp),
        )


def _looks_like_zone_offset(offset: float) -> bool:
    """Return whether ``offset`` seconds look like a UTC offset, not clock drift.

    An iat ahead by a whole number of quarter hours is one. An iat behind
    counts only when it matches this machine's own UTC offset, because an
    assertion signed a while ago is behind too.
    """
    if abs(offset) < _QUARTER_HOUR:
        return False
    remainder = abs(offset) % _QUARTER_HOUR
    if min(remainder, _QUARTER_HOUR - remainder) > _ZONE_MATCH:
        return False
    if offset > 0:
        return True
    local = datetime.now().astimezone().utcoffset()
    local_seconds = abs(local.total_seconds()) if local is not None else 0.0
    return abs(abs(offset) - local_seconds) <= _ZONE_MATCH


def _check_jti(assertion: _Assertion, context: _Context) -> None:
    jti = assertion.claims.get("jti")
    if not isinstance(jti, str) or not jti:
        context.add(
            "jti_present",
            "a unique jti lets the tenant reject a replayed assertion, and Qlik "
            "requires it",
            jti if jti is not None else sorted(assertion.claims),
        )
    elif jti in context.sent_jtis:
        context.add(
            "jti_reused",
            "the tenant accepts each jti once and rejects a replayed assertion",
            jti,
        )
