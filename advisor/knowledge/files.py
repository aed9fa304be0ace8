"""Whole-file writes and pruning for the caches under the data folder.

Several workers may write the same cache file at once, and readers in other processes may
open it at any moment, so every write goes to a process-unique temporary name and is
renamed into place: a reader sees the old file or the new one, never a part, and two
threads writing the same file do not share a temporary one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Create ``path`` (and its folder) with ``write(file)``, then rename it into place.

    Raises OSError; the temporary file is removed on any failure.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def keep_newest(folder: Path, pattern: str, keep: int) -> None:
    """Remove all but the ``keep`` most recently written entries of ``folder`` matching
    ``pattern`` (files or folders); best effort, as another worker may be pruning too."""
    with contextlib.suppress(OSError):
        found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
        for old in found[:-keep] if keep else found:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


def digest_folder(digest: Any, folder: Path, pattern: str = "*.yaml") -> Any:
    """Feed each file of ``folder`` matching ``pattern`` (name, then bytes) into ``digest``
    (a ``hashlib`` object), in name order; return it. Names models by their training data."""
    for path in sorted(folder.glob(pattern)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest
