"""The tidy results table: one Parquet part file per finished run, read back as one DataFrame.

Layout of a sweep's ``out`` folder::

    out/runs/<hash>.parquet     one per finished (or failed) run, written atomically
    out/summary.csv, *.png      written by the CLI after the sweep

A part file holds one row per logged step of that run — ``run`` (the hash), the
run's ``label``, every setting the grid named (one column each), ``seed``,
``status`` ("ok" / "failed"), ``error`` (one line, empty when ok), ``seconds``,
``grad_variance`` (per run, repeated on its rows), ``step`` and every statistic
the algorithm logged (``reward/mean``, ``entropy``, ``grad_norm`` …). A run that
failed before its first step still gets one row (``step`` = −1), so its error is kept.

Because each part is named by the run's hash and replaced atomically (written to a
temporary name, then ``os.replace``), a rerun never duplicates rows: a resumed sweep
skips the hashes it finds (:func:`finished`), and a retried failure overwrites its part.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .grid import RunSpec

PARTS = "runs"
META = ("run", "label", "seed", "status", "error", "seconds", "grad_variance", "step")


def prepare_out(out: str | Path) -> Path:
    """Create ``out`` (and ``out/runs``) if needed; a file in the way or an unwritable folder is a ValueError."""
    if not str(out).strip():
        raise ValueError("out must name a folder, got an empty string")
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a folder, but {out} is a file")
    try:
        (out / PARTS).mkdir(parents=True, exist_ok=True)
        probe = out / PARTS / f".pglab-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"out {out} is not a writable folder ({err.strerror or err})") from None
    return out


def part_path(out: str | Path, run: str) -> Path:
    return Path(out) / PARTS / f"{run}.parquet"


def rows_of(spec: RunSpec, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The tidy rows of one run's result (see the module docstring)."""
    base = {"run": spec.hash, "label": spec.label, **{k: v for k, v in spec.settings.items()},
            "seed": spec.seed, "status": result["status"], "error": result["error"],
            "seconds": result["seconds"], "grad_variance": result["grad_variance"]}
    steps = result["rows"] or [None]
    return [{**base, "step": i if row is not None else -1, **(row or {})} for i, row in enumerate(steps)]


def write_run(out: str | Path, spec: RunSpec, result: dict[str, Any]) -> Path:
    """Write one run's rows to ``out/runs/<hash>.parquet`` atomically; returns the path."""
    path = part_path(out, spec.hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([_plain(r) for r in rows_of(spec, result)])
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.hash}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.chmod(tmp, 0o666 & ~_umask())                       # mkstemp makes 0600; a part is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process's umask (``os`` has no getter: set it and put it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Settings may mix types across runs (None for "not set"); store them as given, lists never."""
    return {k: (str(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in row.items()}


def finished(out: str | Path, *, include_failed: bool = False) -> set[str]:
    """Hashes of the runs with a part file in ``out`` ("ok" ones only unless ``include_failed``)."""
    folder = Path(out) / PARTS
    if not folder.is_dir():
        return set()
    done = set()
    for path in folder.glob("*.parquet"):
        try:
            status = pq.read_table(path, columns=["status"]).column("status")[0].as_py()
        except Exception:                                      # noqa: BLE001 — an unreadable part is redone
            continue
        if status == "ok" or include_failed:
            done.add(path.stem)
    return done


def load(out: str | Path, runs: Iterable[RunSpec] | None = None) -> pd.DataFrame:
    """All part files in ``out`` as one DataFrame (``runs``: only these runs, labelled as in this grid).

    Relabelling from ``runs`` means renaming a variant in the grid does not rerun it:
    its hash is the same, and its rows take the new name.
    """
    folder = Path(out) / PARTS
    paths = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    wanted = None if runs is None else {s.hash: s for s in runs}
    if wanted is not None:
        paths = [p for p in paths if p.stem in wanted]
    if not paths:
        return pd.DataFrame(columns=list(META))
    table = pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")
    frame = table.to_pandas()
    if wanted is not None:                                     # every row is a wanted run: relabel column-wise
        frame["label"] = frame["run"].map({run: spec.label for run, spec in wanted.items()})
        for key in dict.fromkeys(k for spec in wanted.values() for k in spec.settings):
            frame[key] = frame["run"].map({run: spec.settings.get(key) for run, spec in wanted.items()})
        order = {run: i for i, run in enumerate(wanted)}          # the grid's order: settings, then seeds
        frame["_order"] = frame["run"].map(order)
        return frame.sort_values(["_order", "step"], kind="stable").drop(columns="_order").reset_index(drop=True)
    return frame.sort_values(["label", "seed", "step"], kind="stable").reset_index(drop=True)
