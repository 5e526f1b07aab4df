"""Atomic file writes, so a crash never leaves a half-written key or token."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import WorkspaceError

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644


def write_atomic(
    path: Path, data: bytes | str, *, secret: bool, overwrite: bool = True
) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Secret files get mode 0600 before any byte is written. With
    ``overwrite=False`` an existing file is left untouched and
    `WorkspaceError` is raised; the check and the rename are one atomic
    ``os.link`` so two writers cannot both win.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        os.fchmod(descriptor, SECRET_MODE if secret else PUBLIC_MODE)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise WorkspaceError(
                    "Refusing to overwrite an existing file",
                    value=str(path),
                    cause="the file already exists and may hold a key in use",
                    fix="move it aside first, or pass force to back it up",
                ) from None
            os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path
