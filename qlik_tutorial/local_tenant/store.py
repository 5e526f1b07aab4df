"""SQLite state of a local tenant: clients, users, used jti values, tokens, counts.

The database uses write-ahead logging and a busy timeout, so concurrent
request threads (and a second process reading it) wait for the write lock
instead of failing. Access tokens are stored only as SHA-256 hashes. A jti
is stored per client, and the primary key makes its first use win: when two
requests carry the same assertion at the same moment, exactly one inserts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clients import OAuthClient, client_from_json, iso_time

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 10.0
# Expired access tokens are kept this long, so a late call gets "expired"
# (AUTH-3) rather than "unknown" (AUTH-2).
EXPIRED_TOKEN_RETENTION = 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE REFERENCES clients(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS used_jti (
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    jti TEXT NOT NULL,
    used_at REAL NOT NULL,
    forget_after REAL NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX IF NOT EXISTS used_jti_forget ON used_jti(forget_after);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens(expires_at);
CREATE TABLE IF NOT EXISTS request_counts (
    client_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (client_id, outcome)
);
"""


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which an access token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    """The user that a client's access tokens act as (one per client)."""

    id: str
    client_id: str
    name: str
    subject: str
    email: str
    status: str
    created_at: float

    def to_json(self, tenant_id: str) -> dict[str, Any]:
        """Return the user as ``GET /api/v1/users/{id}`` shows it."""
        created = iso_time(self.created_at)
        return {
            "id": self.id,
            "tenantId": tenant_id,
            "name": self.name,
            "subject": self.subject,
            "email": self.email,
            "status": self.status,
            "createdAt": created,
            "lastUpdatedAt": created,
            "links": {"self": {"href": f"/api/v1/users/{self.id}"}},
        }


@dataclass(frozen=True)
class TokenRecord:
    """Record of an issued access token as the store keeps it (never the token)."""

    client_id: str
    user_id: str
    scope: str
    issued_at: float
    expires_at: float


class Store:
    """Access to one local tenant's SQLite database, safe to share across threads.

    Each operation borrows a connection from a small pool and returns it, so
    request threads never share a connection at the same time.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('tenant_id', ?)",
                (secrets.token_hex(16),),
            )
            row = connection.execute(
                "SELECT value FROM meta WHERE key = 'tenant_id'"
            ).fetchone()
        self.tenant_id: str = row[0]

    def close(self) -> None:
        """Close every pooled connection."""
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = self._pool.get_nowait()
        except queue.Empty:
            connection = self._open()
        try:
            yield connection
        except BaseException:
            connection.close()
            raise
        self._pool.put(connection)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction that takes the write lock at once."""
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    # Clients and users

    def add_client(self, client: OAuthClient, user: User) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO clients(id, body, created_at) VALUES (?, ?, ?)",
                (client.client_id, json.dumps(client.to_json()), client.created_at),
            )
            connection.execute(
                "INSERT INTO users(id, client_id, name, subject, email, status, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    user.id,
                    user.client_id,
                    user.name,
                    user.subject,
                    user.email,
                    user.status,
                    user.created_at,
                ),
            )

    def replace_client(self, client: OAuthClient) -> None:
        with self._transaction() as connection:
            connection.execute(
                "UPDATE clients SET body = ? WHERE id = ?",
                (json.dumps(client.to_json()), client.client_id),
            )

    def delete_client(self, client_id: str) -> bool:
        """Delete a client with its user, tokens and used jti values."""
        with self._transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM clients WHERE id = ?", (client_id,)
            )
            return cursor.rowcount > 0

    def client(self, client_id: str) -> OAuthClient | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT body, created_at FROM clients WHERE id = ?", (client_id,)
            ).fetchone()
        return client_from_json(json.loads(row[0]), row[1]) if row else None

    def clients(self) -> list[OAuthClient]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT body, created_at FROM clients ORDER BY created_at, id"
            ).fetchall()
        return [client_from_json(json.loads(body), created) for body, created in rows]

    def user(self, user_id: str) -> User | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT id, client_id, name, subject, email, status, created_at "
                "FROM users WHERE id = ?",
                (user_id,),
            ).fetchone()
        return User(*row) if row else None

    # Tokens and jti values

    def issue_token(
        self,
        *,
        client_id: str,
        jti: str,
        forget_jti_after: float,
        token: str,
        scope: str,
        now: float,
        expires_at: float,
    ) -> bool:
        """Record the jti and the token's hash in one transaction.

        Returns False, storing nothing, when the client already used ``jti``.
        Forgotten jti values and long-expired tokens are purged on the way.
        """
        with self._transaction() as connection:
            connection.execute("DELETE FROM used_jti WHERE forget_after < ?", (now,))
            connection.execute(
                "DELETE FROM tokens WHERE expires_at < ?",
                (now - EXPIRED_TOKEN_RETENTION,),
            )
            try:
                connection.execute(
                    "INSERT INTO used_jti(client_id, jti, used_at, forget_after) "
                    "VALUES (?, ?, ?, ?)",
                    (client_id, jti, now, forget_jti_after),
                )
            except sqlite3.IntegrityError:
                return False
            connection.execute(
                "INSERT INTO tokens(hash, client_id, scope, issued_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (hash_token(token), client_id, scope, now, expires_at),
            )
            self._count(connection, client_id, "issued")
        return True

    def token(self, token: str) -> TokenRecord | None:
        """Return the record of an access token, looked up by its hash."""
        with self._connection() as connection:
            row = connection.execute(
                "SELECT tokens.client_id, users.id, scope, issued_at, expires_at "
                "FROM tokens JOIN users ON users.client_id = tokens.client_id "
                "WHERE hash = ?",
                (hash_token(token),),
            ).fetchone()
        return TokenRecord(*row) if row else None

    def used_jtis(self, client_id: str) -> list[str]:
        """Return the jti values a client has used and that are still remembered."""
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT jti FROM used_jti WHERE client_id = ? ORDER BY used_at",
                (client_id,),
            ).fetchall()
        return [row[0] for row in rows]

    def token_count(self, client_id: str) -> int:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT COUNT(*) FROM tokens WHERE client_id = ?", (client_id,)
            ).fetchone()
        return int(row[0])

    # Token-request counts

    @staticmethod
    def _count(connection: sqlite3.Connection, client_id: str, outcome: str) -> None:
        connection.execute(
            "INSERT INTO request_counts(client_id, outcome, count) VALUES (?, ?, 1) "
            "ON CONFLICT(client_id, outcome) DO UPDATE SET count = count + 1",
            (client_id, outcome),
        )

    def count_request(self, client_id: str, outcome: str) -> None:
        """Count one token request of ``client_id`` that ended with ``outcome``."""
        with self._transaction() as connection:
            self._count(connection, client_id, outcome)

    def request_counts(self) -> dict[str, dict[str, int]]:
        """Return ``{client ID: {outcome: count}}`` for every token request counted."""
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT client_id, outcome, count FROM request_counts "
                "ORDER BY client_id, outcome"
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for client_id, outcome, count in rows:
            counts.setdefault(client_id, {})[outcome] = count
        return counts

    def reset_request_counts(self) -> None:
        with self._transaction() as connection:
            connection.execute("DELETE FROM request_counts")
