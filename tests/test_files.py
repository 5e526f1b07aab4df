"""Atomic writes: modes, refusal to overwrite, and errors for unusable paths."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from qlik_tutorial.errors import WorkspaceError
from qlik_tutorial.files import write_atomic


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_file_mode(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "token.json", "{}", secret=True)
    assert mode(path) == 0o600


def test_public_file_mode_ignores_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        path = write_atomic(tmp_path / "public_jwk.json", "{}", secret=False)
    finally:
        os.umask(previous)
    assert mode(path) == 0o644


def test_no_overwrite_keeps_file(tmp_path: Path) -> None:
    path = tmp_path / "private_key.pem"
    path.write_text("old")
    with pytest.raises(WorkspaceError, match="Refusing to overwrite"):
        write_atomic(path, "new", secret=True, overwrite=False)
    assert path.read_text() == "old"


def test_no_temporary_file_left(tmp_path: Path) -> None:
    path = tmp_path / "private_key.pem"
    path.write_text("old")
    with pytest.raises(WorkspaceError):
        write_atomic(path, "new", secret=True, overwrite=False)
    assert sorted(tmp_path.iterdir()) == [path]


def test_parent_is_file(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text("a file, not a folder")
    with pytest.raises(WorkspaceError, match="Cannot write") as caught:
        write_atomic(tmp_path / "keys" / "private_key.pem", "x", secret=True)
    assert str(tmp_path / "keys") in str(caught.value)


def test_target_is_folder(tmp_path: Path) -> None:
    (tmp_path / "token.json").mkdir()
    with pytest.raises(WorkspaceError, match="is a folder"):
        write_atomic(tmp_path / "token.json", "{}", secret=True)
    assert [path.name for path in tmp_path.iterdir()] == ["token.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(WorkspaceError, match="Permission denied"):
            write_atomic(folder / "token.json", "{}", secret=True)
    finally:
        folder.chmod(0o700)


def test_interrupt_leaves_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "token.json"
    path.write_text("old")

    def interrupted(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new", secret=True)
    assert path.read_text() == "old"
    assert sorted(tmp_path.iterdir()) == [path]


def test_replaces_symlink_not_target(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("keep")
    link = tmp_path / "token.json"
    link.symlink_to(target)
    write_atomic(link, "new", secret=True)
    assert target.read_text() == "keep"
    assert not link.is_symlink()
