"""Where raw rows live on disk, and how they are written: atomically, never overwritten.

Layout (docs/design.md section 4), named by kit.results.cells.CellKey:
results/<run_id>/raw/<framework>/<scenario>/<payload>/<rate>/rep<k>.parquet.
Every file is written under a unique temporary name in its own folder, fsynced, then hard-linked to
its final name. A crash or a full disk so leaves the whole file or none (never a truncated parquet
file that a later scan would choke on), and the link, unlike a rename, fails instead of replacing a
file that appeared meanwhile: raw rows, once written, are evidence and are never rewritten.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from kit.errors import KitError, write_error
from kit.results.cells import CellKey
from kit.results.schema import RAW_SCHEMA, check_version, raw_file_version, raw_metadata

#: Depth of the layout under raw/: framework, scenario, payload, rate, then the rep files.
RAW_GLOB = "*/*/*/*/rep*.parquet"
RAW_LAYOUT = "raw/<framework>/<scenario>/<payload>/<rate>/rep<k>.parquet"


def write_raw(df: pl.DataFrame, path: Path) -> None:
    """Write one cell's rows, stamped with the schema version they follow (schema.raw_metadata).
    The caller conforms them to RAW_SCHEMA (kit.load.engine_rows does)."""
    _write_once(path, lambda tmp: df.write_parquet(tmp, metadata=raw_metadata()), "raw file")


def write_sidecar(path: Path, text: str | bytes) -> None:
    """Keep a tool's own output (engine CSV, vegeta JSON lines, summary JSON) beside the raw rows."""
    data = text.encode() if isinstance(text, str) else text

    def dump(tmp: Path) -> None:
        tmp.write_bytes(data)

    _write_once(path, dump, "tool output")


def raw_files(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "raw").glob(RAW_GLOB))


@dataclass(frozen=True)
class RawFile:
    """A raw file that opened, with its cell (from its place in the layout) and its row count."""

    path: Path
    cell: CellKey
    rows: int


def inspect_raw(run_dir: Path) -> tuple[list[RawFile], list[str]]:
    """The run's raw files that can be read, and a line for each that cannot (truncated, foreign,
    misplaced), so that a report shows every other cell. A file of an unknown schema version is not
    a problem to step around but an error: it may hold rows this kit would misread."""
    good: list[RawFile] = []
    problems: list[str] = []
    for path in raw_files(run_dir):
        cell = CellKey.from_path(run_dir / "raw", path)
        if cell is None:
            problems.append(f"{path} is not where a raw file goes ({RAW_LAYOUT})")
            continue
        try:
            meta = pl.read_parquet_metadata(path)
            columns = pl.read_parquet_schema(path)
            rows = int(pl.scan_parquet(path, glob=False).select(pl.len()).collect().item())
        except (OSError, pl.exceptions.PolarsError) as exc:
            problems.append(f"raw file {path} is unreadable (truncated or not parquet: {_first_line(exc)})")
            continue
        version, written_by = raw_file_version(meta)
        check_version(path, version, written_by)
        missing = [c for c in RAW_SCHEMA if c not in columns]
        if missing:
            problems.append(f"raw file {path} lacks columns {missing}")
            continue
        good.append(RawFile(path, cell, rows))
    return good, problems


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def scan_raw(run_dir: Path) -> pl.LazyFrame:
    """All raw rows of a run, lazily: the aggregations push their filters into the parquet scan."""
    files = raw_files(run_dir)
    if not files:
        raise KitError(
            f"run {run_dir.name} has no raw rows under {run_dir / 'raw'}",
            "Bench first (`kit bench FRAMEWORK SCENARIO`), or check the run id",
        )
    # The glob is expanded by pathlib and Polars told not to expand again, so that a copied run folder
    # whose name holds glob characters ("run [old]") still reads. No hive partitioning: not key=value dirs.
    return pl.scan_parquet(files, glob=False, hive_partitioning=False)


def _write_once(path: Path, write: Callable[[Path], object], kind: str) -> None:
    if path.exists():
        raise _exists(path, kind)
    tmp = _temp_beside(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        _fsync(tmp)
        _publish(tmp, path)
        _fsync(path.parent)
    except FileExistsError:
        raise _exists(path, kind) from None
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise (io_failure(path, exc) or exc) from exc
    finally:
        with contextlib.suppress(OSError):  # a read-only folder cannot lose what it never got
            tmp.unlink(missing_ok=True)


def io_failure(path: Path, exc: BaseException) -> KitError | None:
    """The KitError for a write to `path` that failed with `exc`, or None when `exc` is no I/O error.
    Polars reports an I/O failure as its own error (or an OSError without errno), with the OS error
    only inside the message: "... (os error 28): ..."."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and isinstance(exc, (OSError, pl.exceptions.PolarsError)):
        found = re.search(r"\(os error (\d+)\)", str(exc))
        code = int(found.group(1)) if found else None
    if code is not None:
        return write_error(path, code, os.strerror(code))
    return write_error(path, None, str(exc)) if isinstance(exc, OSError) else None


def _publish(tmp: Path, path: Path) -> None:
    """Give the finished file its name without ever replacing one that is there."""
    try:
        os.link(tmp, path)
    except OSError as exc:
        # A filesystem without hard links (FAT, some network shares): check, then rename. The
        # window between the two is a few microseconds, and one cell has a single writer anyway.
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(path)) from None
        os.rename(tmp, path)


def _temp_beside(path: Path) -> Path:
    """A hidden name in the target's folder (so the rename stays on one filesystem), unique per writer
    and ignored by RAW_GLOB. Not mkstemp: its 0600 mode would make results unreadable to the group."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")


def _exists(path: Path, kind: str) -> KitError:
    return KitError(
        f"{kind} {path} exists already: {kind}s are never rewritten",
        "Bench into a new run (the default), or move the old run away first",
    )


def _fsync(path: Path) -> None:
    """Flush a file's bytes, or a folder's entry for a new name, to the disk before relying on them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
