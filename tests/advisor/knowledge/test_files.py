"""Whole-file cache writes and pruning (advisor.knowledge.files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from advisor.knowledge.files import keep_newest, write_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "v.bin"
    write_atomic(target, lambda fh: fh.write(b"old"))

    def broken(fh: object) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, broken)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["v.bin"]


def test_keep_newest_removes_the_oldest_files_and_folders(tmp_path: Path) -> None:
    for age, name in enumerate(["d", "c", "b", "a"]):  # "a" is the oldest
        path = tmp_path / f"snap-{name}"
        path.mkdir() if name in "ac" else path.write_text(name)
        os.utime(path, (1_000_000 - age * 100, 1_000_000 - age * 100))
    (tmp_path / "other").write_text("not matched")
    keep_newest(tmp_path, "snap-*", 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "snap-c", "snap-d"]


def test_keep_nothing_removes_every_match(tmp_path: Path) -> None:
    (tmp_path / "snap-a").write_text("a")
    (tmp_path / "snap-b").mkdir()
    keep_newest(tmp_path, "snap-*", 0)
    assert list(tmp_path.iterdir()) == []
