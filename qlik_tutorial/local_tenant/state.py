"""Files of a local tenant inside a workspace, and its admin key.

Everything lives in ``<workspace>/local-tenant/`` (mode 0700)::

    state.db          SQLite database: clients, users, used jti values,
                      access-token hashes, token-request counts
    admin-key         the admin API key (mode 0600)
    server.json       pid, URL, port and start time of the last process
    local-tenant.log  one line per request, plus starts and stops
    lock              serialises start and stop between processes
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import WorkspaceError
from ..files import write_atomic

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no fcntl
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

STATE_FOLDER = "local-tenant"
FOLDER_MODE = 0o700


class HasRoot(Protocol):
    """Anything with a ``root`` folder, such as a ``workspace.Workspace``."""

    @property
    def root(self) -> Path: ...


WorkspaceLike = str | os.PathLike[str] | HasRoot


def workspace_root(workspace: WorkspaceLike) -> Path:
    """Return the workspace folder as an absolute path."""
    if isinstance(workspace, str | os.PathLike):
        path = Path(workspace)
    else:
        path = Path(workspace.root)
    return path.expanduser().resolve()


@dataclass(frozen=True)
class StateFiles:
    """Paths of one local tenant's files in ``<workspace>/local-tenant/``."""

    directory: Path

    @classmethod
    def for_workspace(cls, workspace: WorkspaceLike) -> StateFiles:
        return cls(workspace_root(workspace) / STATE_FOLDER)

    @property
    def workspace(self) -> Path:
        return self.directory.parent

    @property
    def database(self) -> Path:
        return self.directory / "state.db"

    @property
    def admin_key(self) -> Path:
        return self.directory / "admin-key"

    @property
    def record(self) -> Path:
        return self.directory / "server.json"

    @property
    def log(self) -> Path:
        return self.directory / "local-tenant.log"

    @property
    def lock_file(self) -> Path:
        return self.directory / "lock"

    def ensure(self) -> None:
        """Create the folder (and the workspace) with mode 0700 if missing."""
        if self.directory.is_dir():
            return
        if self.directory.exists():
            raise WorkspaceError(
                "Local tenant folder is not a folder",
                value=str(self.directory),
                cause="a file has the name the local tenant keeps its state under",
                fix="move that file aside",
            )
        self.workspace.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        self.directory.mkdir(mode=FOLDER_MODE, exist_ok=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock so only one process starts or stops at a time."""
        self.ensure()
        with open(self.lock_file, "a") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def read_record(self) -> dict[str, Any] | None:
        """Return ``server.json`` or None when it is missing or unreadable."""
        try:
            data = json.loads(self.record.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            logger.warning("ignoring unreadable %s: %s", self.record, error)
            return None
        return data if isinstance(data, dict) else None

    def write_record(self, record: dict[str, Any]) -> None:
        write_atomic(self.record, json.dumps(record, indent=2) + "\n", secret=False)


def read_admin_key(files: StateFiles) -> str:
    """Return the admin key, creating the 0600 key file on first use.

    An empty key file contains no key, so it is replaced by a new key. An empty
    key would let any request with ``Authorization: Bearer`` use the admin API.
    """
    key: str | None
    try:
        key = files.admin_key.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = None
    if key:
        return key
    files.ensure()
    try:
        write_atomic(
            files.admin_key,
            secrets.token_urlsafe(32) + "\n",
            secret=True,
            overwrite=key is not None,  # "" is an empty file, never a key
        )
        logger.info("created admin key file %s", files.admin_key)
    except WorkspaceError:
        pass  # another process created it first: use theirs
    return files.admin_key.read_text(encoding="utf-8").strip()


def admin_key(workspace: WorkspaceLike) -> str:
    """Return the workspace's local tenant admin key, creating it on first use.

    The admin API (``/api/v1/oauth-clients`` and ``/api/v1/local-tenant/...``)
    requires ``Authorization: Bearer <admin key>``. The key file is
    ``<workspace>/local-tenant/admin-key`` with mode 0600.
    """
    return read_admin_key(StateFiles.for_workspace(workspace))
