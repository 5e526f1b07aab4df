"""`diagnose`: every pre-flight check on a client assertion and its token request.

Besides running the checks on the header, key, signature and claims, this
module checks the configuration (client ID, tenant) and the token request's
``client_assertion_type`` and content type.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from ..assertion import ASSERTION_TYPE, build_client_assertion
from ..errors import ConfigurationError, TenantURLError
from ..keys import SigningKey
from ..tenant import token_endpoint
from ..workspace import ClientConfig
from .checks import _Context, _split_assertion
from .claim_checks import (
    _check_audience,
    _check_issuer,
    _check_jti,
    _check_required_claims,
    _check_times,
)
from .findings import Finding, finding_for_error
from .key_checks import (
    _check_alg,
    _check_key_fits_alg,
    _check_kid,
    _check_registered_alg,
    _check_registered_key,
    _check_signature,
)

logger = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
GRANT_TYPE_URN = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _check_request(context: _Context, assertion_type: str, content_type: str) -> None:
    if assertion_type != ASSERTION_TYPE:
        if assertion_type == GRANT_TYPE_URN:
            cause = "that is the URN of the JWT bearer grant, not of the assertion type"
        elif assertion_type.strip().lower() == ASSERTION_TYPE:
            cause = "the value differs in case or white space"
        else:
            cause = "the token endpoint accepts only the JWT bearer assertion type"
        context.add("assertion_type", cause, assertion_type)
    if content_type.split(";")[0].strip().lower() != FORM_CONTENT_TYPE:
        context.add(
            "form_encoded",
            f"RFC 6749 token requests are {FORM_CONTENT_TYPE}, as the tutorial "
            "sends them",
            content_type,
        )


def _check_configuration(context: _Context) -> None:
    """Check the client ID and tenant; forget a tenant that is not usable."""
    if context.client_id is not None and not context.client_id.strip():
        context.add(
            "client_id",
            "iss, sub and the client_id field all carry the client ID",
            context.client_id,
        )
    if context.tenant is not None:
        try:
            token_endpoint(context.tenant)
        except TenantURLError as error:
            context.findings.append(finding_for_error(error))
            context.tenant = None


def diagnose(
    assertion: str | None = None,
    *,
    key: SigningKey | None = None,
    tenant: str | None = None,
    client_id: str | None = None,
    registered_jwks: Iterable[Mapping[str, Any]] | None = None,
    client: ClientConfig | None = None,
    sent_jtis: Collection[str] = (),
    assertion_type: str = ASSERTION_TYPE,
    content_type: str = FORM_CONTENT_TYPE,
    now: Callable[[], float] = time.time,
) -> list[Finding]:
    """Check an assertion and its token request before sending; return the problems.

    ``key`` is the signing key, ``tenant`` and ``client_id`` the configured
    ones, ``registered_jwks`` the public JWKs registered with the client (only
    ``kid`` and ``alg`` are read) and ``sent_jtis`` the jti values of
    assertions already sent. ``client``, a workspace's client.json, supplies
    the tenant, client ID and registered kid and alg that are not given
    otherwise. Leave out what is unknown: the checks that need it are
    skipped. Without ``assertion`` one is built from key, tenant and client
    ID, which checks the configuration. An empty list means that no check
    fired.
    """
    if client is not None:
        tenant = tenant if tenant is not None else client.tenant
        client_id = client_id if client_id is not None else client.client_id
        if registered_jwks is None:
            registered_jwks = [{"kid": client.kid, "alg": client.alg}]
    registered: dict[str, str | None] = {}
    for jwk in registered_jwks or ():
        kid, alg = jwk.get("kid"), jwk.get("alg")
        if isinstance(kid, str):
            registered[kid] = alg if isinstance(alg, str) else None
    context = _Context(key, tenant, client_id, registered, sent_jtis, now())
    _check_configuration(context)
    _check_request(context, assertion_type, content_type)
    _check_registered_key(context)
    if assertion is None:
        if key is None or context.tenant is None or not client_id:
            return context.findings
        try:
            assertion = build_client_assertion(key, client_id, context.tenant, now=now)
        except ConfigurationError as error:
            context.findings.append(finding_for_error(error))
            return context.findings
    parts = _split_assertion(assertion)
    if isinstance(parts, Finding):
        context.findings.append(parts)
        return context.findings
    _check_alg(parts, context)
    key_fits = _check_key_fits_alg(parts, context)
    _check_registered_alg(parts, context)
    _check_kid(parts, context)
    _check_signature(parts, context, key_fits)
    _check_required_claims(parts, context)
    _check_issuer(parts, context)
    _check_audience(parts, context)
    _check_times(parts, context)
    _check_jti(parts, context)
    logger.debug("diagnose found %d problems", len(context.findings))
    return context.findings
