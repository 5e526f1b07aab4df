"""The tenant probe: one GET request that checks reachability and clock offset."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

import requests

from ..errors import TenantURLError
from ..tenant import tenant_origin
from ..token_endpoint import plain_http_fix
from .checks import _finding
from .clock import check_clock_offset, estimate_clock_offset
from .findings import Finding, finding_for_error

logger = logging.getLogger(__name__)


def _seconds(timeout: float | tuple[float, float]) -> str:
    if isinstance(timeout, tuple):
        return f"{timeout[0]:g} s to connect and {timeout[1]:g} s to read"
    return f"{timeout:g} s"


def probe_tenant(
    tenant: str,
    *,
    timeout: float | tuple[float, float] = (3.05, 5.0),
    session: requests.Session | None = None,
    now: Callable[[], float] = time.time,
) -> list[Finding]:
    """Check that the tenant responds and that its clock is close to this one.

    Sends one ``GET /`` to the tenant's origin, without credentials and
    without following redirects, as ``curl https://<TENANT>`` in the table
    does. Returns a "timeout", "unreachable" or "clock_offset" finding, or
    nothing.
    """
    try:
        origin = tenant_origin(tenant)
    except TenantURLError as error:
        return [finding_for_error(error)]
    http = session or requests.Session()
    sent_at = now()
    try:
        response = http.get(origin + "/", timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        cause = f"no answer from {origin} within {_seconds(timeout)}: the network "
        cause += "is down, a firewall drops the traffic, or the host does not answer"
        return [_finding("timeout", cause, origin, origin=origin)]
    except requests.ConnectionError as error:
        cause = f"connecting to {origin} failed: the host name is wrong, nothing "
        cause += "listens there, or TLS failed"
        unreachable = _finding("unreachable", cause, origin, origin=origin)
        plain_http = plain_http_fix(error, origin)
        if plain_http is None:
            return [unreachable]
        cause = f"the TLS handshake with {origin} failed: the server answered in "
        cause += "plain http"
        return [replace(unreachable, cause=cause, fix=plain_http)]
    finally:
        if session is None:
            http.close()
    offset = estimate_clock_offset(
        response.headers.get("Date"), sent_at=sent_at, received_at=now()
    )
    logger.debug("GET %s/ -> %s, clock offset %s", origin, response.status_code, offset)
    finding = check_clock_offset(offset) if offset is not None else None
    return [finding] if finding is not None else []
