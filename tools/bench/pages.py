"""Page figures (plans page, its revalidation, pricing JSON, app overhead), the ledger-scale
latencies, the checkout overhead and worker memory."""

from __future__ import annotations

import secrets
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import stripe

from storefront.config import EMULATOR_SECRET_KEY, STRIPE_API_VERSION
from tools.bench.stack import BenchError, Server, rss_kib
from tools.bench.wrk import WrkResult, run_wrk

PRICING_PATH = "/api/finances/api/pricing-plans/"
BALANCE_PATH = "/api/finances/api/student-balance/"
DASHBOARD_PATH = "/account"
INITIATE_PATH = "/api/finances/api/purchase/initiate/"


def etag_of(server: Server) -> str | None:
    """The plans page's ETag, if it serves one."""
    return requests.get(server.url + "/", timeout=30).headers.get("ETag")


def revalidates(server: Server, etag: str) -> bool:
    """Whether the plans page answers If-None-Match with 304 Not Modified."""
    answer = requests.get(server.url + "/", headers={"If-None-Match": etag}, timeout=30)
    return answer.status_code == 304


def pages_round(app: Server, hello: Server, number: int, duration: float,
                etag: str | None) -> dict[str, WrkResult]:
    """wrk -t2 -c16 on each page, in alternating order from round to round."""
    runs: list[tuple[str, Server, str, dict[str, str]]] = [
        ("hello", hello, "/", {}),
        ("healthz", app, "/healthz", {}),
        ("plans", app, "/", {}),
        ("pricing", app, PRICING_PATH, {}),
    ]
    if etag:
        runs.append(("revalidate", app, "/", {"If-None-Match": etag}))
    if number % 2:
        runs.reverse()
    return {name: run_wrk(server.url + path, duration=duration, headers=headers)
            for name, server, path, headers in runs}


@dataclass(frozen=True)
class Latency:
    """Mean latency of one ledger run, and how it was taken."""

    mean_ms: float
    requests: int
    how: str  # "wrk -c2" or "sequential" (for pages too slow for a wrk run)
    non_2xx: int = 0


def _one_request_ms(url: str, cookie: str) -> float:
    started = time.perf_counter()
    answer = requests.get(url, headers={"Cookie": cookie}, allow_redirects=False, timeout=600)
    if answer.status_code != 200:
        raise BenchError(f"GET {url} as a logged-in student answered {answer.status_code}")
    return (time.perf_counter() - started) * 1000


def ledger_runs(app: Server, cookies: dict[str, str], duration: float) -> dict[str, bool]:
    """Which ledger runs are too slow for wrk (a request longer than a quarter of DURATION):
    those are timed one request at a time instead."""
    return {f"{page}-{student}": _one_request_ms(app.url + path, cookie) > duration * 250
            for student, cookie in cookies.items()
            for page, path in (("dashboard", DASHBOARD_PATH), ("balance", BALANCE_PATH))}


def ledger_round(app: Server, cookies: dict[str, str], number: int, slow: dict[str, bool],
                 duration: float, slow_requests: int) -> dict[str, Latency]:
    """Mean latency of the dashboard and the balance API for the big and small student:
    wrk -t2 -c2 for DURATION, or `slow_requests` sequential requests when too slow."""
    runs = [(f"{page}-{student}", path, cookie)
            for page, path in (("dashboard", DASHBOARD_PATH), ("balance", BALANCE_PATH))
            for student, cookie in cookies.items()]
    if number % 2:
        runs.reverse()
    results = {}
    for name, path, cookie in runs:
        if slow[name]:
            times = [_one_request_ms(app.url + path, cookie) for _ in range(slow_requests)]
            results[name] = Latency(sum(times) / len(times), len(times), "sequential")
        else:
            run = run_wrk(app.url + path, duration=duration, threads=2, connections=2,
                          headers={"Cookie": cookie})
            results[name] = Latency(run.mean_ms, run.requests, "wrk -c2",
                                    run.non_2xx + run.socket_errors)
    return results


def checkout_round(checkout: Server, emulator_url: str, plan_id: int, amount: int, number: int,
                   duration: float) -> dict[str, WrkResult]:
    """Latency (wrk -c1) of initiate on the emulator-backed app and of a direct
    PaymentIntent create at the emulator through the stripe library, in alternating order."""
    tag = secrets.token_hex(3)

    def initiate() -> WrkResult:
        return run_wrk(checkout.url + INITIATE_PATH, duration=duration, threads=1,
                       connections=1, script="initiate.lua", args=[str(plan_id), tag])

    def direct() -> WrkResult:
        return direct_creates(emulator_url, amount, duration)

    if number % 2:
        return {"direct": direct(), "initiate": initiate()}
    return {"initiate": initiate(), "direct": direct()}


def direct_creates(emulator_url: str, amount: int, duration: float) -> WrkResult:
    """PaymentIntent creates one after another for `duration` seconds, made as the app makes
    them (the stripe library, one kept-alive connection, an idempotency key each): the least
    a purchase start can cost."""
    client = stripe.StripeClient(
        EMULATOR_SECRET_KEY, stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": emulator_url}, http_client=stripe.RequestsClient(timeout=30))
    params = {"amount": amount, "currency": "eur", "payment_method_types": ["card"],
              "metadata": {"purchase_id": "1", "student_id": "1", "plan_id": "1"}}
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            client.v1.payment_intents.create(
                params=params, options={"idempotency_key": secrets.token_hex(16)})
        except stripe.StripeError:
            errors += 1
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return WrkResult(
        requests=len(latencies), rate=len(latencies) / duration,
        mean_ms=statistics.fmean(latencies), p50_ms=statistics.median(latencies),
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        non_2xx=errors, socket_errors=0)


def mixed_requests(app: Server, cookie: str, count: int, workdir: Path) -> WrkResult:
    """`count` requests over the plans page, probes, pricing JSON, dashboard and balance API
    (the small student logged in); wrk is stopped once every thread has sent its share."""
    # Mostly the anonymous pages, as a shop sees them; one request in six is a student's.
    paths = ["/", "/healthz", PRICING_PATH, "/", PRICING_PATH, DASHBOARD_PATH,
             "/", "/healthz", PRICING_PATH, "/readyz", PRICING_PATH, BALANCE_PATH]
    marker = workdir / f"mixed-{secrets.token_hex(3)}-"
    return run_wrk(app.url + "/", duration=600, headers={"Cookie": cookie}, script="mixed.lua",
                   args=[str(count // 2), str(marker), *paths],
                   until=[Path(f"{marker}{i}") for i in range(2)])


def workers_rss(app: Server) -> dict[int, int]:
    """VmRSS (KiB) of each worker."""
    return {pid: rss_kib(pid) for pid in app.workers()}
