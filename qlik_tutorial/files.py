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
    `WorkspaceError` is raised. The check and the rename are one atomic
    ``os.link``, so two writers cannot both win. A write that fails (a
    read-only folder, a full disk, a folder in the file's place) raises
    `WorkspaceError` naming ``path`` and leaves no temporary file behind.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise _write_error(path, error) from None
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
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise _write_error(path, error) from None
        raise
    return path


def _write_error(path: Path, error: OSError) -> WorkspaceError:
    """Describe a failed write by the path the user chose, not a temporary name."""
    if isinstance(error, IsADirectoryError) or path.is_dir():
        symptom = f"Cannot write {path.name}: the path is a folder"
        cause = "a folder has the file's name"
        fix = "move the folder away, or choose another workspace"
    elif isinstance(error, FileExistsError | NotADirectoryError):
        symptom = f"Cannot write {path.name}: its folder is a file"
        cause = f"{error.filename or path.parent} is a file, not a folder"
        fix = "move the file away, or choose another folder"
    else:
        symptom = f"Cannot write {path.name}"
        cause = error.strerror or type(error).__name__
        fix = "check that the folder is writable and the disk has space, or "
        fix += "choose another folder"
    return WorkspaceError(symptom, value=str(path), cause=cause, fix=fix)


def ensure_folder(path: Path, mode: int = 0o700) -> Path:
    """Create ``path`` and its missing parents, the new folders with ``mode``.

    Raises `WorkspaceError` when a file is in the way or the folder cannot be
    created.
    """
    path = Path(path)
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as error:
        if isinstance(error, FileExistsError | NotADirectoryError):
            blocker = next(
                (
                    folder
                    for folder in (path, *path.parents)
                    if folder.exists() and not folder.is_dir()
                ),
                path,
            )
            raise WorkspaceError(
                "Cannot create the folder: a file is in the way",
                value=str(path),
                cause=f"{blocker} is a file, not a folder",
                fix="move the file away, or choose another folder",
            ) from None
        raise WorkspaceError(
            "Cannot create the folder",
            value=str(path),
            cause=error.strerror or type(error).__name__,
            fix="check that its parent folder is writable, or choose another folder",
        ) from None
    return path
