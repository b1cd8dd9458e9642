"""Durable writes: every file the warehouse replaces is written by `atomic_write`, so a crash at any moment
leaves the old file or the new one, never half of one (and never an empty or missing file).

`atomic_write(path, data)` writes `data` (bytes or text), or lets a writer callback write a temporary file,
next to `path` (same folder, so the rename cannot cross file systems), fsyncs it, `os.replace`s it over
`path` and fsyncs the folder (so the rename itself survives a power cut). A writer that raises leaves the
old file untouched and no temporary file behind. A process killed half way may leave its temporary file:
its name holds PARTIAL_MARK (`.<name>.partial-<pid>-<random>`), and `remove_partials` deletes such
leftovers (call it only while holding the warehouse lock, so nobody else is writing).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

PARTIAL_MARK = ".partial-"

Writer = Callable[[Path], object]


def fsync(path: Path) -> None:
    """fsync a file or a directory (opened read-only; Linux allows fsync on a directory descriptor)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(path: Path) -> Path:
    """A fresh temporary name next to `path`: `.<name>.partial-<pid>-<random>` (hidden, never globbed as data)."""
    return path.with_name(f".{path.name}{PARTIAL_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def _remove_temp(tmp: Path) -> None:
    """The temporary file and what a writer may have put beside it under its name (a DuckDB `.wal`)."""
    for p in [tmp, *tmp.parent.glob(f"{_glob_escape(tmp.name)}.*")]:
        if p.is_symlink() or p.is_file():
            p.unlink(missing_ok=True)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def atomic_write(
    path: str | os.PathLike,
    data: bytes | str | Writer,
    *,
    mode: int | None = None,
    temp_name: str | None = None,
    encoding: str = "utf-8",
) -> Path:
    """Replace `path` with new content, atomically and durably; returns `path`.

    `data`: bytes, text (encoded with `encoding`), or a writer `writer(tmp_path)` that creates the file
    `tmp_path` (a DuckDB COPY, `pq.write_table`, a copy, a hard link or a symlink) and closes it.
    `mode`: permission bits of the new file; by default those of the file it replaces (a new file keeps
    what its writer gave it). `temp_name`: the temporary file's name in the same folder, for callers whose
    leftover clean-up looks for a name of their own; by default `temp_path(path)`.
    A symlink written by a writer is renamed in as it is (no chmod, no fsync of its target)."""
    path = Path(path)
    tmp = path.with_name(temp_name) if temp_name else temp_path(path)
    if tmp.parent != path.parent:
        raise ValueError(f"{temp_name!r}: the temporary file must be a plain name in {path.parent}")
    _remove_temp(tmp)
    if mode is None and path.is_file() and not path.is_symlink():
        mode = path.stat().st_mode & 0o7777
    try:
        if callable(data):
            data(tmp)
            if not tmp.is_symlink() and not tmp.exists():
                raise FileNotFoundError(f"{tmp}: the writer for {path} did not create its file")
        else:
            payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
            with open(tmp, "xb") as fh:
                fh.write(payload)
        if not tmp.is_symlink():
            if mode is not None:
                os.chmod(tmp, mode)
            if tmp.is_file():
                fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        _remove_temp(tmp)
        raise
    fsync(path.parent)
    return path


def remove_partials(root: Path, *, recursive: bool = True) -> list[Path]:
    """Delete the temporary files killed writers left under `root` (names holding PARTIAL_MARK).

    Only call this while holding the warehouse lock: a running writer's temporary file looks the same."""
    if not root.is_dir():
        return []
    found = root.rglob(f".*{PARTIAL_MARK}*") if recursive else root.glob(f".*{PARTIAL_MARK}*")
    removed = []
    for p in sorted(found):
        if p.is_symlink() or p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
