"""HTTP responses: parse error bodies and raise the kit's errors.

Two error body shapes are understood: Qlik's
``{"errors": [{"code", "title", "detail", "status"}], "traceId"}`` and
RFC 6749's ``{"error", "error_description"}``. Any other response is reported
by its status and a short excerpt with secrets redacted.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import requests

from .errors import (
    APIRequestError,
    RateLimitedError,
    ResponseFormatError,
    ServerError,
    TokenRequestError,
)
from .redact import redact_secrets, safe_excerpt
from .troubleshooting import ADMIN, API, TOKEN, case_for

logger = logging.getLogger(__name__)

DETAIL_LENGTH = 300
# Cases whose cause may be a clock offset, which the response's Date header shows.
CLOCK_CASES = ("assertion_expired", "issued_in_future")
NOT_JSON_FIX = (
    "check that the tenant URL points at a Qlik Cloud tenant; a proxy, "
    "captive portal or load balancer may have responded instead"
)


@dataclass(frozen=True)
class ErrorResponse:
    """The parts of an HTTP error response, all safe to show.

    ``code``/``title``/``detail`` come from Qlik's body, ``error`` and
    ``detail`` from an RFC 6749 body, ``excerpt`` from any other body.
    """

    status: int
    url: str
    code: str | None = None
    title: str | None = None
    detail: str | None = None
    error: str | None = None
    trace_id: str | None = None
    excerpt: str | None = None
    retry_after: float | None = None
    body: Any = None

    def summary(self) -> str:
        """Return one line naming the status, code, title and detail."""
        text = f"HTTP {self.status}"
        label = self.code or self.error
        if label:
            text += f" {label}"
        text += f" from {self.url}"
        words = [part for part in (self.title, self.detail) if part and part != label]
        if words:
            text += ": " + ". ".join(part.rstrip(".") for part in words)
        elif self.excerpt:
            text += f": {self.excerpt}"
        if self.trace_id:
            text += f" (traceId {self.trace_id})"
        return text


def parse_error_response(
    response: requests.Response, *, now: Callable[[], float] = time.time
) -> ErrorResponse:
    """Parse an error response's body and its Retry-After header."""
    url = redact_secrets(response.url or "")
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)
    try:
        body = response.json()
    except (ValueError, RecursionError):
        # RecursionError: arrays or objects nested thousands deep.
        body = None
    if isinstance(body, Mapping):
        qlik = _first_qlik_error(body)
        if qlik is not None:
            return ErrorResponse(
                status=response.status_code,
                url=url,
                code=_text(qlik.get("code")),
                title=_text(qlik.get("title")),
                detail=_text(qlik.get("detail")),
                trace_id=_text(body.get("traceId")),
                retry_after=retry_after,
                body=body,
            )
        if isinstance(body.get("error"), str):
            return ErrorResponse(
                status=response.status_code,
                url=url,
                error=_text(body.get("error")),
                detail=_text(body.get("error_description")),
                retry_after=retry_after,
                body=body,
            )
    return ErrorResponse(
        status=response.status_code,
        url=url,
        excerpt=safe_excerpt(response.text) or response.reason or None,
        retry_after=retry_after,
    )


def parse_retry_after(
    value: str | None, *, now: Callable[[], float] = time.time
) -> float | None:
    """Return the seconds to wait that a Retry-After header requests, or None.

    The header contains either seconds or an HTTP date, and a date in the past
    means zero seconds.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        # HTTP dates are in UTC (RFC 9110 section 5.6.7), also the asctime
        # form and "-0000", for which the parser returns a naive datetime.
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def raise_for_answer(
    response: requests.Response,
    *,
    error_class: type[ServerError],
    tenant: str | None = None,
    action: str | None = None,
    now: Callable[[], float] = time.time,
) -> None:
    """Raise ``error_class`` for an error response; return for a 2xx response.

    The response is matched to its troubleshooting case, whose symptom, cause
    and fix become the error's. ``tenant`` fills the tenant origin into the
    fix. A 429 response from the token endpoint raises `RateLimitedError`.
    """
    if 200 <= response.status_code < 300:
        return
    parsed = parse_error_response(response, now=now)
    endpoint = _endpoint_for(error_class)
    case = case_for(
        parsed.status,
        parsed.code,
        parsed.title,
        parsed.detail,
        parsed.error,
        endpoint=endpoint,
    )
    if parsed.status == 429 and issubclass(error_class, TokenRequestError):
        error_class = RateLimitedError
    fix = case.fix_for(tenant)
    if parsed.retry_after is not None:
        fix += f" (Retry-After: {parsed.retry_after:g} s)"
    symptom = f"{action} failed: {case.symptom}" if action else case.symptom
    cause = case.cause
    if case.name in CLOCK_CASES:
        # Imported here because diagnostics imports modules that import this one.
        from .diagnostics import clock_offset_note

        note = clock_offset_note(response, now=now)
        cause += f"; {note}" if note else ""
    logger.debug("%s -> case %s", parsed.summary(), case.name)
    raise error_class(
        symptom,
        value=parsed.summary(),
        cause=cause,
        fix=fix,
        status=parsed.status,
        url=parsed.url,
        code=parsed.code or parsed.error,
        title=parsed.title,
        detail=parsed.detail,
        trace_id=parsed.trace_id,
        case=case.name,
        retry_after=parsed.retry_after,
        body=parsed.body,
    )


def json_body(response: requests.Response, *, what: str) -> Any:
    """Return a successful response's JSON body.

    A body that is not JSON raises `ResponseFormatError` with the status and
    a short excerpt, never the body itself.
    """
    try:
        return response.json()
    except (ValueError, RecursionError):
        excerpt = safe_excerpt(response.text) or "(empty body)"
        url = redact_secrets(response.url or "")
        raise ResponseFormatError(
            f"{what} is not JSON",
            value=f"HTTP {response.status_code} from {url}: {excerpt}",
            cause="the response body could not be parsed as JSON",
            fix=NOT_JSON_FIX,
            status=response.status_code,
            url=url,
        ) from None


def _endpoint_for(error_class: type[ServerError]) -> str:
    if issubclass(error_class, TokenRequestError):
        return TOKEN
    if issubclass(error_class, APIRequestError):
        return API
    return ADMIN


def _first_qlik_error(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return errors[0]
    return None


def _text(value: object) -> str | None:
    """Return a body member as short redacted text, or None when absent."""
    if value is None or value == "":
        return None
    text = redact_secrets(str(value))
    if len(text) > DETAIL_LENGTH:
        text = text[: DETAIL_LENGTH - 1] + "…"
    return text
