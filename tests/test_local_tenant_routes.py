"""The local tenant's request and response objects, dispatched by its routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from local_tenant_helpers import ASSERTION_TYPE, Tenant, local_tenant

from qlik_tutorial.local_tenant.routes import Request
from qlik_tutorial.local_tenant.rules import FORM_TYPE


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    with local_tenant(tmp_path / "workspace") as running:
        yield running


def token_request(assertion: str) -> Request:
    body = urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
    )
    return Request("POST", "/oauth/token", {"content-type": FORM_TYPE}, body.encode())


def test_request_repr_hides_assertion(tenant: Tenant) -> None:
    assertion = tenant.register().assertion()
    request = token_request(assertion)
    assert assertion.split(".")[1] not in repr(request)


def test_request_repr_hides_admin_key(tenant: Tenant) -> None:
    headers = {"authorization": f"Bearer {tenant.admin_key}"}
    request = Request("GET", "/api/v1/oauth-clients", headers, b"")
    assert tenant.admin_key not in repr(request)


def test_response_repr_hides_token(tenant: Tenant) -> None:
    client = tenant.register()
    response = tenant.server.routes.dispatch(token_request(client.assertion()))
    assert response.body["access_token"] not in repr(response)
