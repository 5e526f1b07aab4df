"""The tenant's clock offset, estimated from the ``Date`` header of its response."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests

from .checks import _finding
from .findings import Finding

# Qlik documents no clock leeway, so the tenant may reject an assertion whose
# iat is ahead of its clock by any amount. Offsets from this size on are shown.
CLOCK_OFFSET_THRESHOLD = 30.0


@dataclass(frozen=True)
class ClockOffset:
    """The tenant's clock minus this machine's, in seconds, with its error bound."""

    seconds: float
    uncertainty: float

    def __str__(self) -> str:
        direction = "ahead of" if self.seconds >= 0 else "behind"
        return (
            f"the tenant's clock is {abs(self.seconds):.0f} s {direction} this "
            f"machine's (±{self.uncertainty:.0f} s)"
        )


def estimate_clock_offset(
    date_header: str | None, *, sent_at: float, received_at: float
) -> ClockOffset | None:
    """Estimate the tenant's clock offset from an HTTP ``Date`` header.

    The header names the second in which the tenant made its response, some
    time between ``sent_at`` and ``received_at`` (epoch seconds by this
    machine's clock). The estimate takes the middle of both, so it is good to
    half the round trip plus half a second. Return ``None`` when the header
    is missing or unreadable.
    """
    if not date_header:
        return None
    try:
        tenant_time = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if tenant_time.tzinfo is None:
        return None
    midpoint = (sent_at + received_at) / 2
    uncertainty = (received_at - sent_at) / 2 + 0.5
    return ClockOffset(tenant_time.timestamp() + 0.5 - midpoint, uncertainty)


def check_clock_offset(
    offset: ClockOffset, *, threshold: float = CLOCK_OFFSET_THRESHOLD
) -> Finding | None:
    """Return a finding when the clock offset is surely ``threshold`` s or more."""
    if abs(offset.seconds) - offset.uncertainty < threshold:
        return None
    if offset.seconds < 0:
        effect = "the tenant sees iat in the future and may reject the assertion"
    else:
        effect = "the tenant sees the assertion as older, so it expires sooner"
    return _finding(
        "clock_offset", f"{offset}, so {effect}", f"{offset.seconds:+.0f} s"
    )


def clock_offset_note(
    response: requests.Response, *, now: Callable[[], float] = time.time
) -> str | None:
    """Return a sentence on the tenant's clock offset when it is large enough to matter.

    The round trip comes from ``response.elapsed``, which requests measures
    from sending the request until the response headers are parsed.
    """
    received_at = now()
    sent_at = received_at - response.elapsed.total_seconds()
    offset = estimate_clock_offset(
        response.headers.get("Date"), sent_at=sent_at, received_at=received_at
    )
    if offset is None or check_clock_offset(offset) is None:
        return None
    return f"{offset}, so synchronise this machine's clock with NTP"
