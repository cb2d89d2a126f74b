"""`make bench`: start the production stack on loopback, measure every figure of
docs/BENCHMARKS.md in alternating rounds, stop everything, print one table.

    .venv/bin/python -m tools.bench.run     (ROUNDS=3 DURATION=5 BENCH_PORT_BASE=5240 …)
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from tools.bench import pages, report, seed
from tools.bench.report import Row, median, ratio_row
from tools.bench.stack import BenchError, Ports, Stack
from tools.bench.webhooks import WebhookBench
from tools.bench.wrk import run_wrk, wrk_binary

MEMORY_WARM = 200
MEMORY_TOTAL = int(os.environ.get("BENCH_MEMORY_REQUESTS", "20000"))
BIG_ENTRIES, SMALL_ENTRIES, TOTAL_ENTRIES = 100_000, 10, 1_000_000
# The figure keys BENCH_ONLY may name (the table's rows, in groups).
FIGURES = ("pages", "webhooks", "ledger", "checkout", "memory")


def selected_figures(value: str | None) -> frozenset[str]:
    """The figures BENCH_ONLY names (a comma list of FIGURES); every figure when unset."""
    if not value or not value.strip():
        return frozenset(FIGURES)
    chosen = {key.strip() for key in value.split(",") if key.strip()}
    unknown = chosen - set(FIGURES)
    if unknown:
        raise BenchError(f"BENCH_ONLY: unknown figure {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(FIGURES)})")
    return frozenset(chosen)


def note(message: str) -> None:
    """Progress on stderr (the table alone goes to stdout)."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _checkout_env(stack: Stack, emulator_url: str) -> dict[str, str]:
    """Production refuses the emulator: the checkout app runs as `testing` with every
    production service configured (as tests/ops do) and the initiate limits raised."""
    env = dict(stack.env, STOREFRONT_ENV="testing", STRIPE_SECRET_KEY="sk_test_emulator",
               STRIPE_PUBLISHABLE_KEY="pk_test_emulator", STRIPE_API_BASE=emulator_url,
               PUBLIC_BASE_URL=f"http://127.0.0.1:{stack.ports.checkout}")
    for name in ("RATELIMIT_INITIATE_IP", "RATELIMIT_INITIATE_EMAIL_IP",
                 "RATELIMIT_INITIATE_EMAIL"):
        env[name] = "1000000 per hour"
    return env


def _start(stack: Stack, only: frozenset[str]) -> dict[str, Any]:
    note(f"starting PostgreSQL, Redis, SMTP sink, Stripe emulator in {stack.workdir}")
    database_url = stack.start_postgres()
    redis_url = stack.start_redis()
    stack.start_smtp_sink()
    emulator_url = stack.start_emulator() if "checkout" in only else ""
    stack.production_env(database_url, redis_url)
    stack.flask("db", "upgrade")
    stack.flask("seed-plans")
    counts = {"entries": 0, "big": 0, "small": 0}
    if {"ledger", "memory"} & only:  # the memory figure's mix reads the small student's pages
        note(f"seeding the ledger: {TOTAL_ENTRIES:,} entries, one student with {BIG_ENTRIES:,}")
        counts = seed.seed_ledger_scale(database_url, big_entries=BIG_ENTRIES,
                                        small_entries=SMALL_ENTRIES, total_entries=TOTAL_ENTRIES)
        note(f"seeded {counts}")
    ports = stack.ports
    app = stack.start_gunicorn("app", "tools.bench.bench_wsgi:app", ports.app)
    hello = stack.start_gunicorn("hello", "tools.bench.hello:app", ports.hello, probe="/")
    checkout = (stack.start_gunicorn("checkout", "wsgi:app", ports.checkout,
                                     env=_checkout_env(stack, emulator_url))
                if "checkout" in only else None)
    stack.start_mail_worker()
    with seed.connect(database_url) as conn:
        plan_id, amount = seed.package_plan(conn)
        postgres_version = conn.execute("SHOW server_version").fetchone()[0]
    return {"database_url": database_url, "emulator_url": emulator_url, "app": app,
            "hello": hello, "checkout": checkout, "plan_id": plan_id, "amount": amount,
            "postgres_version": postgres_version, "counts": counts}


def _memory(s: dict[str, Any], cookie: str, workdir) -> tuple[dict, dict]:
    """Worker RSS after 200 mixed requests and after 20,000, on workers that served nothing
    else yet (apart from the logins)."""
    pages.mixed_requests(s["app"], cookie, MEMORY_WARM, workdir)
    warm = pages.workers_rss(s["app"])
    pages.mixed_requests(s["app"], cookie, MEMORY_TOTAL - MEMORY_WARM, workdir)
    return warm, pages.workers_rss(s["app"])


def measure(stack: Stack, rounds: int, duration: float, max_rate: int,
            slow_requests: int, only: frozenset[str] = frozenset(FIGURES)) -> dict[str, Any]:
    """Start everything, then every figure (or those in `only`) in `rounds` alternating
    rounds."""
    s = _start(stack, only)
    s["only"] = only
    app, hello = s["app"], s["hello"]
    cookies = ({name: seed.login_cookie(app.url, f"ledger-{name}@example.com")
                for name in ("big", "small")} if {"ledger", "memory"} & only else {})
    if "memory" in only:
        note(f"memory: {MEMORY_TOTAL:,} mixed requests")
        s["memory"] = _memory(s, cookies["small"], stack.workdir)
    note("warming up")
    for server, path in ((hello, "/"), (app, "/healthz"), (app, "/"),
                         (app, pages.PRICING_PATH)):
        run_wrk(server.url + path, duration=1)
    etag = pages.etag_of(app)
    s["etag"] = etag if etag and pages.revalidates(app, etag) else None
    s["etag_note"] = "no ETag" if not etag else ("ETag not revalidated" if not s["etag"] else "")
    slow = pages.ledger_runs(app, cookies, duration) if "ledger" in only else {}
    webhooks = (WebhookBench(app, s["database_url"], stack.workdir, duration, max_rate)
                if "webhooks" in only else None)
    s["rounds"] = []
    for number in range(rounds):
        result: dict[str, Any] = {}
        if "pages" in only:
            note(f"round {number + 1}/{rounds}: pages")
            result["pages"] = pages.pages_round(app, hello, number, duration, s["etag"])
        if webhooks is not None:
            if "pages" not in only:  # the webhook ÷ Flask hello figure needs this round's hello
                note(f"round {number + 1}/{rounds}: Flask hello")
                result["pages"] = {"hello": run_wrk(hello.url + "/", duration=duration)}
            note(f"round {number + 1}/{rounds}: webhooks")
            result["webhooks"] = webhooks.round(number)
        if "ledger" in only:
            note(f"round {number + 1}/{rounds}: ledger scale")
            result["ledger"] = pages.ledger_round(app, cookies, number, slow, duration,
                                                  slow_requests)
        if "checkout" in only:
            note(f"round {number + 1}/{rounds}: checkout")
            result["checkout"] = pages.checkout_round(s["checkout"], s["emulator_url"],
                                                      s["plan_id"], s["amount"], number,
                                                      duration)
        s["rounds"].append(result)
    return s


def _webhook_rows(s: dict[str, Any]) -> list[Row]:
    rounds = [r["webhooks"] for r in s["rounds"]]
    runs = [{"unique": w.unique, "duplicate": w.duplicate, "minimal": w.minimal,
             "hello": r["pages"]["hello"]} for w, r in zip(rounds, s["rounds"], strict=True)]
    p99 = median([w.unique.p99_ms for w in rounds])
    non_2xx = sum(w.unique.non_2xx + w.unique.socket_errors for w in rounds)
    credited, recorded = sum(w.credited for w in rounds), sum(w.recorded for w in rounds)
    wrong = sum(w.wrong for w in rounds)
    ran_out = any(w.unique.exhausted or w.minimal.exhausted for w in rounds)

    def details() -> tuple[str, bool]:
        text = (f"p99 {p99:.0f} ms (< 50), non-2xx {non_2xx}, credited {credited:,} of "
                f"{recorded:,}" + (f", {wrong} credited twice" if wrong else "")
                + (", events ran out: raise BENCH_MAX_EVENTS_PER_S" if ran_out else ""))
        return text, p99 < 50 and non_2xx == 0 and credited == recorded and not wrong

    dup_errors = sum(w.duplicate.non_2xx + w.duplicate.socket_errors for w in rounds)
    return [
        ratio_row("webhook throughput ÷ minimal webhook (c8)", runs, "unique", "minimal",
                  target=0.5, at_least=True, unit="events/s", extra=details),
        ratio_row("webhook ÷ Flask hello", runs, "unique", "hello", target=0.068,
                  at_least=True, unit="/s"),
        ratio_row("duplicate deliveries ÷ minimal webhook", runs, "duplicate", "minimal",
                  target=0.8, at_least=True, unit="events/s",
                  extra=lambda: (f"non-2xx {dup_errors}", dup_errors == 0)),
    ]


def _ledger_row(s: dict[str, Any], page: str, label: str) -> Row:
    runs = [(r["ledger"][f"{page}-big"], r["ledger"][f"{page}-small"]) for r in s["rounds"]]
    ratio = median([big.mean_ms / small.mean_ms for big, small in runs])
    errors = sum(big.non_2xx + small.non_2xx for big, small in runs)
    measured = (f"{median([b.mean_ms for b, _ in runs]):,.1f} ({runs[0][0].how}) ÷ "
                f"{median([m.mean_ms for _, m in runs]):,.1f} ms ({runs[0][1].how})"
                + (f"; non-2xx {errors}" if errors else ""))
    return Row(f"ledger scale: {label}, 100k entries ÷ 10 (mean latency)", measured, ratio,
               "≤ 1.3", ratio <= 1.3 and not errors)


def _page_rows(s: dict[str, Any]) -> list[Row]:
    page_runs = [r["pages"] for r in s["rounds"]]
    rows = [ratio_row("plans page `/` ÷ `/healthz`", page_runs, "plans", "healthz",
                      target=0.8, at_least=True)]
    if s["etag"]:
        rows.append(ratio_row("plans page revalidation (304) ÷ `/healthz`", page_runs,
                              "revalidate", "healthz", target=0.95, at_least=True))
    else:
        rows.append(Row("plans page revalidation (304) ÷ `/healthz`", s["etag_note"], None,
                        "≥ 0.95", False))
    return rows + [
        ratio_row("pricing JSON ÷ `/healthz`", page_runs, "pricing", "healthz", target=0.9,
                  at_least=True),
        ratio_row("app overhead: `/healthz` ÷ Flask hello", page_runs, "healthz", "hello",
                  target=0.8, at_least=True),
        ratio_row("pricing JSON ÷ Flask hello", page_runs, "pricing", "hello", target=0.51,
                  at_least=True),
    ]


def table(s: dict[str, Any]) -> list[Row]:
    """Every figure's row measured (all, or those BENCH_ONLY named), from the medians of the
    rounds."""
    only = s["only"]
    rows = _page_rows(s) if "pages" in only else []
    if "webhooks" in only:
        rows += _webhook_rows(s)
    if "ledger" in only:
        for page, label in (("dashboard", "dashboard"), ("balance", "balance API")):
            rows.append(_ledger_row(s, page, label))
    if "checkout" in only:
        rows.append(_checkout_row(s))
    if "memory" in only:
        rows.append(_memory_row(s))
    return rows


def _checkout_row(s: dict[str, Any]) -> Row:
    checkout = [r["checkout"] for r in s["rounds"]]
    errors = {side: sum(c[side].non_2xx + c[side].socket_errors for c in checkout)
              for side in ("initiate", "direct")}
    return ratio_row("checkout: initiate ÷ direct PaymentIntent create (emulator)",
                     checkout, "initiate", "direct", target=1.5, at_least=False,
                     latency=True, extra=lambda: (
                         f"non-2xx {errors['initiate']} ÷ {errors['direct']}",
                         not any(errors.values())))


def _memory_row(s: dict[str, Any]) -> Row:
    warm, after = s["memory"]
    ratio = sum(after.values()) / sum(warm.values())
    return Row(f"memory: worker RSS after {MEMORY_TOTAL:,} ÷ after {MEMORY_WARM} requests",
               f"{sum(after.values()) / 1024:.1f} ÷ {sum(warm.values()) / 1024:.1f} MiB "
               f"({len(after)} workers, one run)", ratio, "≤ 1.1", ratio <= 1.1)


def main() -> int:
    """Run the benchmark; exit status 0 when it ran (whatever the verdicts), 2 when it could not."""
    rounds = int(os.environ.get("ROUNDS", "3"))
    duration = float(os.environ.get("DURATION", "5"))
    max_rate = int(os.environ.get("BENCH_MAX_EVENTS_PER_S", "1500"))
    started = time.monotonic()
    try:
        only = selected_figures(os.environ.get("BENCH_ONLY"))
        wrk_binary()
        ports = Ports.from_env()
        ports.check_free()
    except BenchError as error:
        sys.stderr.write(f"bench: {error}\n")
        return 2
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so that every server started is stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    stack = Stack(ports)
    try:
        s = measure(stack, rounds, duration, max_rate,
                    int(os.environ.get("BENCH_SLOW_REQUESTS", "1")), only)
    except BenchError as error:
        sys.stderr.write(f"bench: {error}\n")
        return 2
    finally:
        note("stopping every server")
        stack.close()
    counts = s["counts"]
    extras = f" · ROUNDS={rounds} DURATION={duration:g}s"
    if only != frozenset(FIGURES):
        extras += f" · BENCH_ONLY={','.join(key for key in FIGURES if key in only)}"
    if counts["entries"]:
        extras += (f" · ledger {counts['entries']:,} entries (big {counts['big']:,}, "
                   f"small {counts['small']})")
    print(report.machine_line(s["postgres_version"], extras))
    print()
    print(report.render(table(s)))
    print()
    print(f"make bench took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
