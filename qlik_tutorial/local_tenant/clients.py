"""OAuth clients as the admin API creates, reads and patches them.

The JSON members follow Qlik's ``/api/v1/oauth-clients`` API (``appType``,
``clientName``, ``allowedAuthMethods``, ``publicKeys``, ``allowedGrantTypes``,
``allowedScopes``, ``connectionConfig.consentMethod``). Two members are the
local tenant's own, because the sources the kit follows name no field for
them: ``accessTokenLifetime`` (minutes, 15 to 1440, default 360, as the
console's access-token duration) and ``enabled`` (default true).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .codes import Rejection, show
from .jwks import check_key_set

APP_TYPE = "web"
AUTH_METHODS = ("private_key_jwt", "client_secret")
GRANT_TYPES = ("client_credentials", "urn:qlik:oauth:user-impersonation")
CONSENT_METHOD = "trusted"
DEFAULT_SCOPES = ("user_default",)
DEFAULT_LIFETIME_MINUTES = 360
MIN_LIFETIME_MINUTES = 15
MAX_LIFETIME_MINUTES = 1440
MAX_NAME_LENGTH = 256

# Members a client body may carry; the read-only ones are set by the server.
EDITABLE_MEMBERS = (
    "clientName",
    "description",
    "allowedAuthMethods",
    "allowedGrantTypes",
    "allowedScopes",
    "publicKeys",
    "connectionConfig",
    "accessTokenLifetime",
    "enabled",
)
READ_ONLY_MEMBERS = ("clientId", "appType", "userId", "createdAt")

# An array index in a JSON pointer: ASCII digits without leading zeros (RFC 6901).
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class OAuthClient:
    """A registered OAuth client; ``access_token_lifetime`` is in minutes."""

    client_id: str
    client_name: str
    description: str
    allowed_auth_methods: tuple[str, ...]
    allowed_grant_types: tuple[str, ...]
    allowed_scopes: tuple[str, ...]
    public_keys: tuple[dict[str, Any], ...]
    consent_method: str
    access_token_lifetime: int
    enabled: bool
    user_id: str
    created_at: float

    def key_for(self, kid: str) -> dict[str, Any] | None:
        """Return the registered JWK whose ``kid`` is ``kid``, if any."""
        for jwk in self.public_keys:
            if jwk.get("kid") == kid:
                return jwk
        return None

    def to_json(self) -> dict[str, Any]:
        """Return the client as the admin API shows it (Qlik's member names)."""
        return {
            "clientId": self.client_id,
            "appType": APP_TYPE,
            "clientName": self.client_name,
            "description": self.description,
            "allowedAuthMethods": list(self.allowed_auth_methods),
            "allowedGrantTypes": list(self.allowed_grant_types),
            "allowedScopes": list(self.allowed_scopes),
            "publicKeys": [dict(jwk) for jwk in self.public_keys],
            "connectionConfig": {"consentMethod": self.consent_method},
            "accessTokenLifetime": self.access_token_lifetime,
            "enabled": self.enabled,
            "userId": self.user_id,
            "createdAt": iso_time(self.created_at),
        }


def iso_time(seconds: float) -> str:
    """Format Unix seconds as ISO 8601 UTC with milliseconds, as Qlik's APIs do."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _invalid(member: str, value: object, expected: str) -> Rejection:
    return Rejection(
        "OAUTH-1", f"Member {member!r} is {show(value)}. Fix: send {expected}"
    )


def _string_list(
    body: Mapping[str, Any],
    member: str,
    allowed: tuple[str, ...] | None,
    default: tuple[str, ...],
) -> tuple[str, ...]:
    value = body.get(member, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _invalid(member, value, "a list of strings")
    if allowed is not None:
        for item in value:
            if item not in allowed:
                raise _invalid(
                    member, item, "only " + ", ".join(repr(a) for a in allowed)
                )
    return tuple(dict.fromkeys(value))


def _check_members(body: Mapping[str, Any]) -> None:
    unknown = [
        name for name in body if name not in EDITABLE_MEMBERS + READ_ONLY_MEMBERS
    ]
    if unknown:
        raise Rejection(
            "OAUTH-1",
            f"Unknown member {show(unknown[0])}. Fix: send only "
            + ", ".join(("appType", *EDITABLE_MEMBERS)),
        )


def client_from_body(
    body: object, *, client_id: str, user_id: str, created_at: float
) -> OAuthClient:
    """Check a ``POST /api/v1/oauth-clients`` body and return the new client.

    Missing members take the console's choices for a Private Key JWT client:
    ``allowedAuthMethods`` ["private_key_jwt"], ``allowedGrantTypes``
    ["client_credentials"], ``allowedScopes`` ["user_default"], consent
    method trusted, 360-minute tokens. ``clientName`` and ``publicKeys`` are
    required. Raises `Rejection` OAUTH-1 for a bad member, OAUTH-40 for a bad JWK.
    """
    if not isinstance(body, Mapping):
        raise Rejection(
            "OAUTH-1",
            f"Request body is {show(body)}. Fix: send a JSON object describing "
            "the client",
        )
    _check_members(body)
    app_type = body.get("appType", APP_TYPE)
    if app_type != APP_TYPE:
        raise _invalid(
            "appType", app_type, "'web': only Web clients can use Private Key JWT"
        )
    return _build(body, client_id=client_id, user_id=user_id, created_at=created_at)


def _build(
    body: Mapping[str, Any], *, client_id: str, user_id: str, created_at: float
) -> OAuthClient:
    name = body.get("clientName")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise _invalid(
            "clientName", name, f"a name of 1 to {MAX_NAME_LENGTH} characters"
        )

    description = body.get("description", "")
    if not isinstance(description, str):
        raise _invalid("description", description, "a string")

    methods = _string_list(
        body, "allowedAuthMethods", AUTH_METHODS, ("private_key_jwt",)
    )
    grants = _string_list(
        body, "allowedGrantTypes", GRANT_TYPES, ("client_credentials",)
    )
    scopes = _string_list(body, "allowedScopes", None, DEFAULT_SCOPES)
    for scope in scopes:
        if " " in scope:
            raise _invalid("allowedScopes", scope, "scopes without spaces")

    keys = tuple(check_key_set(body.get("publicKeys")))
    config = body.get("connectionConfig", {"consentMethod": CONSENT_METHOD})
    consent = config.get("consentMethod") if isinstance(config, Mapping) else None
    if consent != CONSENT_METHOD:
        raise _invalid(
            "connectionConfig",
            config,
            '{"consentMethod": "trusted"}, the only consent method for '
            "machine-to-machine clients",
        )

    lifetime = body.get("accessTokenLifetime", DEFAULT_LIFETIME_MINUTES)
    if (
        isinstance(lifetime, bool)
        or not isinstance(lifetime, int)
        or not MIN_LIFETIME_MINUTES <= lifetime <= MAX_LIFETIME_MINUTES
    ):
        raise _invalid(
            "accessTokenLifetime",
            lifetime,
            f"whole minutes from {MIN_LIFETIME_MINUTES} to {MAX_LIFETIME_MINUTES}",
        )

    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _invalid("enabled", enabled, "true or false")
    return OAuthClient(
        client_id=client_id,
        client_name=name,
        description=description,
        allowed_auth_methods=methods,
        allowed_grant_types=grants,
        allowed_scopes=scopes,
        public_keys=keys,
        consent_method=consent,
        access_token_lifetime=lifetime,
        enabled=enabled,
        user_id=user_id,
        created_at=created_at,
    )


def client_from_json(data: Mapping[str, Any], created_at: float) -> OAuthClient:
    """Rebuild a stored client from `OAuthClient.to_json` output."""
    return _build(
        data,
        client_id=str(data["clientId"]),
        user_id=str(data["userId"]),
        created_at=created_at,
    )


def apply_patch(client: OAuthClient, operations: object) -> OAuthClient:
    """Apply a JSON Patch (RFC 6902: add, remove, replace, test) and recheck.

    Paths may name any editable member, such as ``/publicKeys``,
    ``/publicKeys/-`` (append a key), ``/publicKeys/0`` or ``/enabled``.
    Read-only members (``clientId``, ``appType``, ``userId``, ``createdAt``)
    cannot change. The patched client passes the same checks as a new one.
    """
    if not isinstance(operations, list) or not operations:
        raise Rejection(
            "OAUTH-1",
            f"Patch body is {show(operations)}. Fix: send a JSON Patch list such "
            'as [{"op": "add", "path": "/publicKeys/-", "value": {...}}]',
        )
    document = {
        name: value
        for name, value in client.to_json().items()
        if name in EDITABLE_MEMBERS
    }
    for index, operation in enumerate(operations):
        _apply_operation(document, operation, index)
    return _build(
        document,
        client_id=client.client_id,
        user_id=client.user_id,
        created_at=client.created_at,
    )


def _pointer(path: object, index: int) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise Rejection(
            "OAUTH-1",
            f"Patch operation {index} has path {show(path)}. Fix: use a JSON "
            "pointer such as '/publicKeys/-'",
        )
    segments = [s.replace("~1", "/").replace("~0", "~") for s in path[1:].split("/")]
    if segments[0] not in EDITABLE_MEMBERS:
        raise Rejection(
            "OAUTH-1",
            f"Patch operation {index} targets {show(path)}. Fix: patch only "
            + ", ".join("/" + m for m in EDITABLE_MEMBERS),
        )
    return segments


def _apply_operation(document: dict[str, Any], operation: object, index: int) -> None:
    if not isinstance(operation, Mapping) or operation.get("op") not in (
        "add",
        "remove",
        "replace",
        "test",
    ):
        raise Rejection(
            "OAUTH-1",
            f"Patch operation {index} is {show(operation)}. Fix: use op add, "
            "remove, replace or test with a path",
        )
    op = operation["op"]
    segments = _pointer(operation.get("path"), index)
    if op != "remove" and "value" not in operation:
        raise Rejection(
            "OAUTH-1", f"Patch operation {index} ({op}) has no value. Fix: add one"
        )
    value = copy.deepcopy(operation.get("value"))
    parent: Any = document
    for segment in segments[:-1]:
        parent = _child(parent, segment, index)
    last = segments[-1]
    if op == "test":
        if _child(parent, last, index) != value:
            raise Rejection(
                "OAUTH-1",
                f"Patch operation {index} test failed at {operation['path']!r}. "
                "Fix: read the client again and patch the current value",
            )
    elif isinstance(parent, list):
        _apply_to_list(parent, op, last, value, index)
    elif isinstance(parent, dict):
        if op in ("remove", "replace") and last not in parent:
            raise _missing(last, index)
        if op == "remove":
            del parent[last]
        else:
            parent[last] = value
    else:
        raise _missing(last, index)


def _apply_to_list(
    items: list[Any], op: str, segment: str, value: Any, index: int
) -> None:
    if op == "add" and segment == "-":
        items.append(value)
        return
    position = _list_index(items, segment, index, allow_end=op == "add")
    if op == "add":
        items.insert(position, value)
    elif op == "remove":
        del items[position]
    else:
        items[position] = value


def _list_index(items: list[Any], token: str, index: int, *, allow_end: bool) -> int:
    limit = len(items) if allow_end else len(items) - 1
    if not _ARRAY_INDEX.fullmatch(token) or int(token) > limit:
        raise Rejection(
            "OAUTH-1",
            f"Patch operation {index} uses list index {token!r} of {len(items)} "
            "items. Fix: use an existing index, or '-' to append",
        )
    return int(token)


def _child(parent: Any, token: str, index: int) -> Any:
    if isinstance(parent, dict) and token in parent:
        return parent[token]
    if isinstance(parent, list):
        return parent[_list_index(parent, token, index, allow_end=False)]
    raise _missing(token, index)


def _missing(token: str, index: int) -> Rejection:
    return Rejection(
        "OAUTH-1",
        f"Patch operation {index} names missing member {token!r}. Fix: read the "
        "client and patch a path it has",
    )
