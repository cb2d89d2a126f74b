"""The one table `make bench` prints: each figure's measurements, ratio, target and verdict."""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tools.bench.stack import BIN, ROOT
from tools.bench.wrk import WrkResult


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    figure: str
    measured: str
    ratio: float | None
    target: str
    ok: bool

    def cells(self) -> list[str]:
        """The row as text cells."""
        ratio = "—" if self.ratio is None else f"{self.ratio:.3g}"
        return [self.figure, self.measured, ratio, self.target, "PASS" if self.ok else "MISS"]


def median(values: Sequence[float]) -> float:
    """The median (of the rounds)."""
    return statistics.median(values)


def ratio_row(figure: str, rounds: Sequence[dict[str, WrkResult]], a: str, b: str, *,
              target: float, at_least: bool, latency: bool = False, unit: str = "req/s",
              extra: Callable[[], tuple[str, bool]] | None = None) -> Row:
    """A ÷ B per round (rates, or mean latencies), median over the rounds, against a target."""
    def value(result: WrkResult) -> float:
        return result.mean_ms if latency else result.rate

    ratio = median([value(r[a]) / value(r[b]) for r in rounds])
    unit = "ms" if latency else unit
    measured = (f"{median([value(r[a]) for r in rounds]):,.1f} ÷ "
                f"{median([value(r[b]) for r in rounds]):,.1f} {unit}")
    ok = ratio >= target if at_least else ratio <= target
    target_text = f"{'≥' if at_least else '≤'} {target:g}"
    if extra:
        note, extra_ok = extra()
        measured += f"; {note}"
        ok = ok and extra_ok
    return Row(figure, measured, ratio, target_text, ok)


def render(rows: Sequence[Row]) -> str:
    """A Markdown table (readable in a terminal, pasteable into docs/BENCHMARKS.md)."""
    header = ["figure", "measured (median of rounds)", "ratio", "target", "verdict"]
    lines = [header, ["---"] * len(header), *[row.cells() for row in rows]]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _version(command: list[str], pattern: str = r"\d+(\.\d+)+") -> str:
    if not shutil.which(command[0]) and not Path(command[0]).exists():
        return "?"
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(0) if match else "?"


def machine_line(postgres_version: str, extras: str = "") -> str:
    """Date, machine, versions and the commit measured."""
    cpu = "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else "?"
    redis = _version(["redis-server", "--version"], r"v=\S+")[2:]
    wrk = _version(["wrk", "-v"], r"\d+\.\d+\.\d+")
    rev = _version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], r"[0-9a-f]{7,}")
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · commit {rev} · {cpu}, "
            f"{os.cpu_count()} cores · {platform.system()} {platform.release()} · "
            f"Python {platform.python_version()} · gunicorn "
            f"{_version([str(BIN / 'gunicorn'), '--version'])} · PostgreSQL {postgres_version} · "
            f"Redis {redis} · "
            f"wrk {wrk}{extras}")
