"""The local tenant's token issuer, called directly on the tenant's store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from local_tenant_helpers import ASSERTION_TYPE, Tenant, local_tenant

from qlik_tutorial.local_tenant.issuer import TokenIssuer
from qlik_tutorial.local_tenant.rules import FORM_TYPE


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    with local_tenant(tmp_path / "workspace") as running:
        yield running


def test_issued_repr_hides_token(tenant: Tenant) -> None:
    client = tenant.register()
    issuer = TokenIssuer(tenant.server.store, tenant.settings, tenant.token_url)
    body = urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client.assertion(),
        }
    )
    issued = issuer.issue(FORM_TYPE, body.encode())
    assert issued.response["access_token"] not in repr(issued)
