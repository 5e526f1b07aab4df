"""SQLite settings of the local tenant's store, read from the database it opens."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_tenant_helpers import Tenant, local_tenant

from qlik_tutorial.local_tenant.store import BUSY_TIMEOUT_SECONDS


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    with local_tenant(tmp_path / "workspace") as running:
        yield running


def test_store_journal_mode_wal(tenant: Tenant) -> None:
    # WAL is a property of the database file, so a new connection reads it.
    connection = sqlite3.connect(tenant.files.database)
    try:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        connection.close()
    assert mode == "wal"


def test_store_busy_timeout(tenant: Tenant) -> None:
    # The busy timeout belongs to each connection, so one of the store's is read.
    with tenant.server.store._connection() as connection:
        timeout = connection.execute("PRAGMA busy_timeout").fetchone()[0]
    assert timeout == BUSY_TIMEOUT_SECONDS * 1000
