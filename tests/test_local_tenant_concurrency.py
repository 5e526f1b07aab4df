"""Concurrent token requests against one local tenant over real HTTP."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from local_tenant_helpers import (
    ASSERTION_TYPE,
    HTTP_TIMEOUT,
    RegisteredClient,
    Tenant,
    local_tenant,
)

from qlik_tutorial.local_tenant.settings import Settings
from qlik_tutorial.local_tenant.store import Store

THREADS = 8
REQUESTS_PER_THREAD = 50


@contextlib.contextmanager
def open_store(tenant: Tenant) -> Iterator[Store]:
    store = Store(tenant.files.database)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    settings = Settings(rate_limit=THREADS * REQUESTS_PER_THREAD + 10)
    with local_tenant(tmp_path / "workspace", settings) as running:
        yield running


def _form(client: RegisteredClient, assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": "user_default",
    }


def test_same_assertion_twice_one_token(tenant: Tenant) -> None:
    client = tenant.register()
    form = _form(client, client.assertion())
    barrier = threading.Barrier(2, timeout=HTTP_TIMEOUT)

    def send(_: int) -> tuple[int, str]:
        with requests.Session() as session:
            session.trust_env = False
            barrier.wait()
            response = session.post(tenant.token_url, data=form, timeout=HTTP_TIMEOUT)
        code = "" if response.ok else response.json()["errors"][0]["code"]
        return response.status_code, code

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(send, range(2)))
    assert outcomes == [(200, ""), (401, "OAUTH-32")]
    with open_store(tenant) as store:
        assert store.token_count(client.client_id) == 1


def test_parallel_fresh_assertions_all_issued(tenant: Tenant) -> None:
    client = tenant.register()

    def send_batch(_: int) -> list[tuple[int, str]]:
        results = []
        with requests.Session() as session:
            session.trust_env = False
            for _ in range(REQUESTS_PER_THREAD):
                claims = client.claims()
                assertion = client.assertion(jti=claims["jti"])
                response = session.post(
                    tenant.token_url,
                    data=_form(client, assertion),
                    timeout=HTTP_TIMEOUT,
                )
                results.append((response.status_code, claims["jti"]))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = [
            item for batch in pool.map(send_batch, range(THREADS)) for item in batch
        ]
    statuses = {status for status, _ in results}
    sent = sorted(jti for _, jti in results)
    with open_store(tenant) as store:
        recorded = store.used_jtis(client.client_id)
        token_count = store.token_count(client.client_id)
    assert len(results) == THREADS * REQUESTS_PER_THREAD
    assert statuses == {200}
    assert sorted(recorded) == sent
    assert len(set(recorded)) == len(recorded)
    assert token_count == THREADS * REQUESTS_PER_THREAD
    counts = tenant.admin("GET", "/api/v1/local-tenant/token-requests").json()
    assert counts["clients"][client.client_id] == {
        "issued": THREADS * REQUESTS_PER_THREAD
    }
