"""Endpoints of the local tenant, free of HTTP plumbing.

=======================================  ======================================
``GET /``                                reachability check, no auth
``POST /oauth/token``                    token endpoint (form or JSON body)
``GET /api/v1/users/me``                 301 to the token's user (bearer token)
``GET /api/v1/users/{id}``               the token's user (bearer token)
``GET|POST /api/v1/oauth-clients``       list or create clients (admin key)
``GET|PATCH|DELETE .../oauth-clients/X``  read, JSON-Patch or delete (admin key)
``GET|DELETE /api/v1/local-tenant/token-requests``  counts by client and outcome
``GET|PATCH /api/v1/local-tenant/settings``  read or change test settings
=======================================  ======================================
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError
from .clients import OAuthClient, apply_patch, client_from_body
from .codes import Rejection, show, show_id, show_path
from .issuer import TokenIssuer
from .settings import OPTIONS_BY_MEMBER, Settings, convert
from .state import StateFiles, read_admin_key
from .store import Store, TokenRecord, User

logger = logging.getLogger(__name__)

USER_STATUS = "active"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class Request:
    """An HTTP request: method, path without query, headers (lower-case names), body.

    Headers and body are left out of ``repr``: they can hold the admin key, an
    access token or a client assertion.
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower()) or ""


@dataclass
class Response:
    """An HTTP response, with the client ID and error code for the request log.

    The body is left out of ``repr``: a token response contains the access token.
    """

    status: int
    body: Any = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict)
    client_id: str | None = None
    error_code: str | None = None

    @classmethod
    def rejected(
        cls, rejection: Rejection, headers: Mapping[str, str] | None = None
    ) -> Response:
        extra = dict(headers or {})
        if rejection.retry_after is not None:
            extra["Retry-After"] = str(rejection.retry_after)
        if rejection.code.startswith("AUTH-"):
            extra["WWW-Authenticate"] = "Bearer"
        return cls(
            rejection.status,
            rejection.body(),
            extra,
            client_id=rejection.client_id,
            error_code=rejection.code,
        )


Handler = Callable[[Request, re.Match[str]], Response]


class Routes:
    """Dispatches a `Request` to the endpoint for its path and method."""

    def __init__(
        self,
        files: StateFiles,
        store: Store,
        settings: Settings,
        url: str,
        instance_id: str,
    ) -> None:
        self.files = files
        self.store = store
        self.settings = settings
        self.url = url
        self.instance_id = instance_id
        self.issuer = TokenIssuer(store, settings, url + "/oauth/token")
        self._table: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"/"), {"GET": self.home, "HEAD": self.home}),
            (re.compile(r"/oauth/token"), {"POST": self.token}),
            (re.compile(r"/api/v1/users/me"), {"GET": self.me}),
            (re.compile(r"/api/v1/users/(?P<id>[^/]+)"), {"GET": self.user}),
            (
                re.compile(r"/api/v1/oauth-clients"),
                {"GET": self.list_clients, "POST": self.create_client},
            ),
            (
                re.compile(r"/api/v1/oauth-clients/(?P<id>[^/]+)"),
                {
                    "GET": self.get_client,
                    "PATCH": self.patch_client,
                    "DELETE": self.delete_client,
                },
            ),
            (
                re.compile(r"/api/v1/local-tenant/token-requests"),
                {"GET": self.request_counts, "DELETE": self.reset_request_counts},
            ),
            (
                re.compile(r"/api/v1/local-tenant/settings"),
                {"GET": self.get_settings, "PATCH": self.patch_settings},
            ),
        ]

    def dispatch(self, request: Request) -> Response:
        """Return the response of the endpoint for ``request``, errors included."""
        try:
            for pattern, handlers in self._table:
                match = pattern.fullmatch(request.path)
                if match is None:
                    continue
                handler = handlers.get(request.method)
                if handler is None:
                    allowed = ", ".join(handlers)
                    return Response.rejected(
                        Rejection(
                            "HTTP-405",
                            f"{request.method} is not allowed on "
                            f"{show_path(request.path)!r}. Fix: use {allowed}",
                        ),
                        {"Allow": allowed},
                    )
                return handler(request, match)
            raise Rejection(
                "HTTP-404",
                f"Path {show_path(request.path)!r} does not exist. Fix: use "
                "/oauth/token or /api/v1/users/me (GET / lists the endpoints)",
            )
        except Rejection as rejection:
            return Response.rejected(rejection)

    # Public endpoints

    def home(self, request: Request, match: re.Match[str]) -> Response:
        return Response(
            200,
            {
                "name": "qlik-tutorial local tenant",
                "tenantId": self.store.tenant_id,
                "instanceId": self.instance_id,
                "tokenEndpoint": self.issuer.token_url,
                "endpoints": [
                    "POST /oauth/token",
                    "GET /api/v1/users/me",
                    "GET /api/v1/users/{id}",
                    "GET|POST /api/v1/oauth-clients (admin key)",
                    "GET|PATCH|DELETE /api/v1/oauth-clients/{id} (admin key)",
                    "GET|DELETE /api/v1/local-tenant/token-requests (admin key)",
                    "GET|PATCH /api/v1/local-tenant/settings (admin key)",
                ],
            },
        )

    def token(self, request: Request, match: re.Match[str]) -> Response:
        try:
            issued = self.issuer.issue(request.header("Content-Type"), request.body)
        except Rejection as rejection:
            return Response.rejected(rejection, _NO_STORE)
        return Response(
            200, issued.response, dict(_NO_STORE), client_id=issued.client_id
        )

    def _bearer(self, request: Request) -> TokenRecord:
        scheme, _, token = request.header("Authorization").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Rejection(
                "AUTH-1",
                "The Authorization header is missing or not 'Bearer <access token>'. "
                "Fix: send Authorization: Bearer <access_token from /oauth/token>",
            )
        record = self.store.token(token)
        if record is None:
            raise Rejection(
                "AUTH-2",
                "The access token is not one this tenant issued. Fix: request a new "
                "access token from this tenant's /oauth/token",
            )
        now = self.settings.now()
        if now >= record.expires_at:
            rejection = Rejection(
                "AUTH-3",
                f"The access token expired {now - record.expires_at:.0f} s ago. Fix: "
                "sign a new client assertion and request a new access token",
            )
            rejection.client_id = record.client_id
            raise rejection
        return record

    def me(self, request: Request, match: re.Match[str]) -> Response:
        record = self._bearer(request)
        return Response(
            301,
            headers={"Location": f"/api/v1/users/{record.user_id}"},
            client_id=record.client_id,
        )

    def user(self, request: Request, match: re.Match[str]) -> Response:
        record = self._bearer(request)
        user = self.store.user(match["id"])
        if user is None or user.id != record.user_id:
            rejection = Rejection(
                "HTTP-404",
                f"User {show_id(match['id'])} was not found. Fix: call "
                "/api/v1/users/me to find the token's user",
            )
            rejection.client_id = record.client_id
            raise rejection
        return Response(
            200, user.to_json(self.store.tenant_id), client_id=record.client_id
        )

    # Admin endpoints

    def _check_admin(self, request: Request) -> None:
        scheme, _, key = request.header("Authorization").partition(" ")
        expected = read_admin_key(self.files)
        valid = (
            bool(expected)
            and scheme.lower() == "bearer"
            and hmac.compare_digest(
                key.strip().encode("utf-8"), expected.encode("utf-8")
            )
        )
        if not valid:
            raise Rejection(
                "AUTH-10",
                "The admin API needs 'Authorization: Bearer <admin key>'. Fix: send "
                f"the key stored in {self.files.admin_key}",
            )

    def _json_body(self, request: Request) -> Any:
        try:
            return json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Rejection(
                "OAUTH-1", "The request body is not JSON. Fix: send a JSON body"
            ) from None

    def _client(self, client_id: str) -> OAuthClient:
        client = self.store.client(client_id)
        if client is None:
            raise Rejection(
                "HTTP-404",
                f"OAuth client {show_id(client_id)} was not found. Fix: list clients "
                "with GET /api/v1/oauth-clients",
            )
        return client

    def list_clients(self, request: Request, match: re.Match[str]) -> Response:
        self._check_admin(request)
        return Response(200, {"data": [c.to_json() for c in self.store.clients()]})

    def create_client(self, request: Request, match: re.Match[str]) -> Response:
        self._check_admin(request)
        now = self.settings.now()
        client = client_from_body(
            self._json_body(request),
            client_id=secrets.token_hex(16),
            user_id=secrets.token_hex(12),
            created_at=now,
        )
        user = User(
            id=client.user_id,
            client_id=client.client_id,
            name=f"{client.client_name} (OAuth client)",
            subject=f"local-tenant\\{client.client_id}",
            email=f"{client.client_id}@local-tenant.invalid",
            status=USER_STATUS,
            created_at=now,
        )
        self.store.add_client(client, user)
        logger.info(
            "created OAuth client %s (%s)", client.client_id, client.client_name
        )
        return Response(
            201,
            client.to_json(),
            {"Location": f"/api/v1/oauth-clients/{client.client_id}"},
            client_id=client.client_id,
        )

    def get_client(self, request: Request, match: re.Match[str]) -> Response:
        self._check_admin(request)
        client = self._client(match["id"])
        return Response(200, client.to_json(), client_id=client.client_id)

    def patch_client(self, request: Request, match: re.Match[str]) -> Response:
        self._check_admin(request)
        client = apply_patch(self._client(match["id"]), self._json_body(request))
        self.store.replace_client(client)
        logger.info("patched OAuth client %s", client.client_id)
        return Response(200, client.to_json(), client_id=client.client_id)

    def delete_client(self, request: Request, match: re.Match[str]) -> Response:
        self._check_admin(request)
        client = self._client(match["id"])
        self.store.delete_client(client.client_id)
        logger.info("deleted OAuth client %s", client.client_id)
        return Response(204, client_id=client.client_id)

    def request_counts(self, request: Request, match: re.Match[str]) -> Response:
        self._check_admin(request)
        counts = self.store.request_counts()
        total: dict[str, int] = {}
        for outcomes in counts.values():
            for outcome, count in outcomes.items():
                total[outcome] = total.get(outcome, 0) + count
        return Response(200, {"clients": counts, "total": total})

    def reset_request_counts(self, request: Request, match: re.Match[str]) -> Response:
        self._check_admin(request)
        self.store.reset_request_counts()
        return Response(204)

    def get_settings(self, request: Request, match: re.Match[str]) -> Response:
        self._check_admin(request)
        return Response(200, self.settings.public_view())

    def patch_settings(self, request: Request, match: re.Match[str]) -> Response:
        """Change test settings at run time, such as ``{"clockOffset": 400}``.

        ``tokenLifetime`` and ``idleTimeout`` accept null to restore the default.
        """
        self._check_admin(request)
        body = self._json_body(request)
        if not isinstance(body, dict) or not body:
            raise Rejection(
                "OAUTH-1",
                "The settings body is not a JSON object. Fix: send members such as "
                '{"clockOffset": 400}',
            )
        changes: dict[str, float | int | None] = {}
        for member, value in body.items():
            option = OPTIONS_BY_MEMBER.get(member)
            if option is None:
                raise Rejection(
                    "OAUTH-1",
                    f"Unknown setting {show(member)}. Fix: use "
                    + ", ".join(OPTIONS_BY_MEMBER),
                )
            nullable = option.field in ("token_lifetime", "idle_timeout")
            if value is None and nullable:
                changes[option.field] = None
                continue
            try:
                changes[option.field] = convert(option, value, member)
            except ConfigurationError as error:
                raise Rejection("OAUTH-1", str(error)) from None
        for name, value in changes.items():
            setattr(self.settings, name, value)
        logger.info("settings changed: %s", ", ".join(sorted(body)))
        return Response(200, self.settings.public_view())
