"""`durable.atomic_write`, the one temp-file-and-replace of the code base: text, bytes or a writer callback;
a failing or killed writer leaves the old file; symlinks switch atomically."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.durable import PARTIAL_MARK, atomic_write, remove_partials


def test_atomic_write_replaces_text_bytes_and_writer_output_keeping_the_old_permissions(tmp_path):
    target = tmp_path / "page.html"
    atomic_write(target, "v1")
    target.chmod(0o640)
    atomic_write(target, b"v2")
    assert target.read_bytes() == b"v2" and target.stat().st_mode & 0o777 == 0o640
    atomic_write(target, lambda tmp: tmp.write_text("v3"), mode=0o444)
    assert target.read_text() == "v3" and target.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_a_failing_writer_leaves_the_old_file_intact_and_no_temporary_file(tmp_path):
    target = tmp_path / "data.duckdb"
    target.write_text("old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        Path(f"{tmp}.wal").write_text("log")  # what a DuckDB writer leaves beside its file
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_fail)
    with pytest.raises(FileNotFoundError):
        atomic_write(target, lambda tmp: None)  # a writer that wrote nothing does not replace the file
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.duckdb"]


def test_a_killed_writer_leaves_the_old_file_and_a_partial_file_that_remove_partials_deletes(tmp_path):
    target = tmp_path / "sub" / "list.parquet"
    target.parent.mkdir()
    target.write_text("old")
    code = ("import os, sys; from pathlib import Path; from orchestration.durable import atomic_write\n"
            "def w(tmp):\n    tmp.write_text('half'); os._exit(9)\n"
            "atomic_write(Path(sys.argv[1]), w)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 9
    assert target.read_text() == "old"
    partial = [p for p in target.parent.iterdir() if p != target]
    assert len(partial) == 1 and PARTIAL_MARK in partial[0].name and partial[0].name.startswith(".list.parquet")
    (tmp_path / ".keep.me").write_text("not a partial file")
    assert remove_partials(tmp_path) == partial
    assert sorted(p.name for p in tmp_path.rglob("*")) == [".keep.me", "list.parquet", "sub"]


def test_atomic_write_switches_a_symlink_and_names_its_temporary_file_on_request(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    link = tmp_path / "current"
    os.symlink("a", link)
    atomic_write(link, lambda tmp: os.symlink("b", tmp), temp_name=".current-1")
    assert os.readlink(link) == "b"
    with pytest.raises(ValueError):
        atomic_write(link, "x", temp_name="../elsewhere")
