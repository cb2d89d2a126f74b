"""Running wrk (Debian's /usr/bin/wrk) and reading its report."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tools.bench.stack import BenchError

SCRIPTS = Path(__file__).resolve().parent
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    rate: float  # requests per second
    mean_ms: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int
    exhausted: bool = False  # events.lua ran out of events before the time was up


def wrk_binary() -> str:
    """The wrk executable, or a clear error telling how to install it."""
    found = shutil.which(os.environ.get("BENCH_WRK", "wrk"))
    if not found:
        raise BenchError("wrk is not installed: apt-get install wrk (or set BENCH_WRK)")
    return found


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> WrkResult:
    """Read wrk's text report (run with --latency)."""
    try:
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        count = int(re.search(r"(\d+) requests in", output).group(1))
        mean = _ms(re.search(r"Latency\s+(\S+)", output).group(1))
        p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
        p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    except AttributeError:
        raise BenchError(f"unreadable wrk output:\n{output}") from None
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    return WrkResult(
        requests=count, rate=rate, mean_ms=mean, p50_ms=p50, p99_ms=p99,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        exhausted="events exhausted" in output,
    )


def run_wrk(url: str, *, duration: float, connections: int = 16, threads: int = 2,
            script: str | None = None, headers: dict[str, str] | None = None,
            args: list[str] | None = None, until: list[Path] | None = None) -> WrkResult:
    """One wrk run against `url`; `script` names a Lua file in tools/bench, `args` go to it.

    With `until`, wrk is interrupted (and reports) as soon as all those files exist: the Lua
    script creates them when its threads are done (wrk itself always runs for -d)."""
    threads = min(threads, connections)
    command = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               "--latency", "--timeout", "60s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(SCRIPTS / script)]
    command.append(url)
    if args:
        command += ["--", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if until:
            deadline = time.monotonic() + duration + 60
            while (process.poll() is None and time.monotonic() < deadline
                   and not all(path.exists() for path in until)):
                time.sleep(0.05)
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=duration + 120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise BenchError(f"wrk failed ({process.returncode}): {stderr or stdout}")
    return parse(stdout)
