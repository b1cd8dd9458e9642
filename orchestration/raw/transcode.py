"""Stream an extract file once: hash it, check it decodes, and give DuckDB a UTF-8 copy if needed.

DuckDB reads UTF-8 only here (its encodings extension cannot be installed offline), so GBK files and
gzip files are transcoded to a plain UTF-8 scratch file with Python's incremental codecs, chunk by chunk.
Undecodable bytes stop the file with an error naming the file, line and byte offset.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from orchestration.errors import CrmWarehouseError

CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class PreparedFile:
    source: Path  # the file in the landing folder
    readable: Path  # what DuckDB reads: the source itself or a UTF-8 scratch copy
    sha256: str  # of the source file's bytes as delivered
    header: str  # the first line, decoded (without BOM or newline)


def _decode_error(
    source: Path, encoding: str, exc: UnicodeDecodeError, chunk: bytes, offset: int, newlines: int, line_start: int
) -> CrmWarehouseError:
    """The error for undecodable bytes: file, line, column (byte in the line) and byte offset in the file.

    The incremental decoder reports positions in what it decoded: the bytes it held back from the previous
    chunk (an incomplete character, never a newline) plus `chunk`; at the end of the file (`chunk` empty)
    only the held-back bytes, i.e. the file ends inside a multi-byte character.
    """
    data = exc.object
    held_back = len(data) - len(chunk)  # negative when the decoder dropped a BOM
    bad = offset - held_back + exc.start
    before = data[: exc.start]
    line = newlines + before.count(b"\n") + 1
    if b"\n" in before:
        line_start = offset - held_back + before.rindex(b"\n") + 1
    column = bad - line_start + 1
    where = f"{source}: line {line}, column {column} (byte offset {bad})"
    if not chunk:
        return CrmWarehouseError(
            f"{where}: the file ends inside a multi-byte {encoding} character (bytes {data[exc.start:]!r}): "
            "the delivery looks truncated; re-deliver the complete file (and its manifest), then re-run"
        )
    return CrmWarehouseError(
        f"{where}: bytes {data[exc.start:exc.end]!r} are not valid {encoding}; fix or re-deliver the file, "
        "or correct its `encoding` in the manifest (_manifest.json), then re-run"
    )


def prepare(source: Path, encoding: str, scratch_dir: Path) -> PreparedFile:
    """Hash and validate `source`; transcode to UTF-8 in `scratch_dir` when it is gzip or not UTF-8."""
    digest = hashlib.sha256()
    with source.open("rb") as raw:
        for block in iter(lambda: raw.read(CHUNK), b""):
            digest.update(block)
    is_gzip = source.name.endswith(".gz")
    needs_copy = is_gzip or encoding not in ("utf-8", "utf-8-sig")
    target = scratch_dir / (source.parent.name + "__" + source.name.removesuffix(".gz")) if needs_copy else None
    if target is not None:
        scratch_dir.mkdir(parents=True, exist_ok=True)

    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding.startswith("utf-8") else encoding)()
    header_parts: list[str] = []
    header_done = False
    offset = 0  # bytes consumed before the current chunk
    newlines = 0  # newline bytes before the current chunk
    line_start = 0  # byte offset where the line holding the current chunk's first byte starts
    opener = gzip.open if is_gzip else open
    out = target.open("w", encoding="utf-8", newline="") if target else None
    try:
        with opener(source, "rb") as stream:
            while True:
                chunk = stream.read(CHUNK)
                final = not chunk
                try:
                    text = decoder.decode(chunk, final=final)
                except UnicodeDecodeError as exc:
                    raise _decode_error(source, encoding, exc, chunk, offset, newlines, line_start) from None
                except (EOFError, OSError, gzip.BadGzipFile) as exc:
                    raise CrmWarehouseError(f"{source}: cannot be read as gzip ({exc})") from None
                if not header_done:
                    header_parts.append(text)
                    joined = "".join(header_parts)
                    if "\n" in joined or final:
                        header_parts = [joined.split("\n", 1)[0].rstrip("\r")]
                        header_done = True
                if out is not None:
                    out.write(text)
                if final:
                    break
                if b"\n" in chunk:
                    line_start = offset + chunk.rindex(b"\n") + 1
                offset += len(chunk)
                newlines += chunk.count(b"\n")
    except (EOFError, gzip.BadGzipFile) as exc:
        raise CrmWarehouseError(f"{source}: cannot be read as gzip ({exc})") from None
    finally:
        if out is not None:
            out.close()
    header = "".join(header_parts).lstrip("\ufeff")
    return PreparedFile(source, target or source, digest.hexdigest(), header)
