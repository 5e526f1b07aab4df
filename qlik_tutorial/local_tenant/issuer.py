"""The token endpoint's work: check a token request and issue an access token.

Issued access tokens are random opaque strings (``secrets.token_urlsafe``),
stored only as SHA-256 hashes. Every request is counted by client and
outcome (``issued`` or the error code) for the admin counts endpoint.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from . import rules
from .clients import OAuthClient
from .codes import Rejection, show
from .ratelimit import RateLimiter
from .settings import Settings
from .store import Store

# Requests that name no registered client are counted under this name.
UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True)
class Issued:
    """A successful token response and the client it went to.

    The response contains the access token, so it is left out of ``repr``.
    """

    client_id: str
    response: dict[str, Any] = field(repr=False)


class TokenIssuer:
    """Runs `rules` against a token request and stores the token it issues."""

    def __init__(self, store: Store, settings: Settings, token_url: str) -> None:
        self.store = store
        self.settings = settings
        self.token_url = token_url
        self.rate_limiter = RateLimiter(settings)

    def issue(self, content_type: str, body: bytes) -> Issued:
        """Return the token response, or raise `Rejection`.

        The rejection's ``client_id`` names the registered client the request
        was for, or is None when it named none.
        """
        try:
            return self._issue(content_type, body)
        except Rejection as rejection:
            counted = rejection.client_id or UNKNOWN_CLIENT
            self.store.count_request(counted, rejection.code)
            raise

    def _issue(self, content_type: str, body: bytes) -> Issued:
        request = rules.parse_token_request(content_type, body)
        rules.check_grant(request)
        assertion = rules.parse_assertion(request.client_assertion)
        named = rules.client_id_of(request, assertion)
        client = self.store.client(named)
        if client is None:
            raise rules.unknown_client(named)
        try:
            return self._issue_for(client, request, assertion)
        except Rejection as rejection:
            rejection.client_id = client.client_id
            raise

    def _issue_for(
        self,
        client: OAuthClient,
        request: rules.TokenRequest,
        assertion: rules.Assertion,
    ) -> Issued:
        now = self.settings.now()
        wait = self.rate_limiter.acquire(client.client_id, now)
        if wait is not None:
            raise Rejection(
                "HTTP-429",
                f"Client {show(client.client_id)} sent more than "
                f"{self.settings.rate_limit} token requests in "
                f"{self.settings.rate_window:g} s. Fix: reuse the access token "
                f"until it expires, and retry after {wait} s",
                retry_after=wait,
            )

        rules.check_client(client)
        rules.verify_signature(assertion, client)
        check = rules.ClaimCheck(
            client_id=client.client_id,
            client_id_field=request.client_id,
            token_url=self.token_url,
            now=now,
            leeway=self.settings.leeway,
        )

        jti, expires = rules.check_claims(assertion, check)
        scope = rules.granted_scope(request, client)

        lifetime = self.settings.token_lifetime or client.access_token_lifetime * 60
        token = secrets.token_urlsafe(32)
        forget_after = max(
            expires + self.settings.leeway, now + self.settings.jti_memory
        )
        stored = self.store.issue_token(
            client_id=client.client_id,
            jti=jti,
            forget_jti_after=forget_after,
            token=token,
            scope=scope,
            now=now,
            expires_at=now + lifetime,
        )

        if not stored:
            raise Rejection(
                "OAUTH-32",
                f"jti {show(jti)} was already used by this client. Fix: "
                "sign a new assertion with a new jti (uuid4) for every token request",
            )
        return Issued(
            client.client_id,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime,
                "scope": scope,
            },
        )
