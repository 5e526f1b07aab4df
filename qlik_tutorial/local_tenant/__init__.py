"""The local tenant: an offline stand-in for Qlik Cloud on 127.0.0.1.

It serves the token endpoint, the users API and an admin API for OAuth
clients, enforces the Private Key JWT rules each with its own error, and
keeps its state in SQLite inside the workspace. Notebooks use the tenant
value ``"local"``, which means `ensure_local_tenant`::

    url = ensure_local_tenant(workspace)          # http://127.0.0.1:PORT
    client_id = register_client(workspace, public_jwk)
    ...
    stop_local_tenant(workspace)
"""

from .process import (
    StartResult,
    ensure_local_tenant,
    local_tenant_status,
    start_local_tenant,
    stop_local_tenant,
)
from .registration import register_client, registered_client
from .settings import Settings
from .state import admin_key

__all__ = [
    "Settings",
    "StartResult",
    "admin_key",
    "ensure_local_tenant",
    "local_tenant_status",
    "register_client",
    "registered_client",
    "start_local_tenant",
    "stop_local_tenant",
]
