"""Light and fast, measured in a real Chromium: each page's own weight (its HTML, our CSS, our
JavaScript and images, all served from 127.0.0.1) stays under 50 KB, and the plans page's Largest
Contentful Paint stays under 1.5 s on a slow 4G connection. Both are printed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from storefront.extensions import db
from storefront.models import Purchase
from tests.browser.pages import enter_card, log_in

pytestmark = pytest.mark.browser

PAGE_BUDGET_BYTES = 50 * 1024
# What a page is made of; calls the page's scripts make to our API are data, not weight.
OWN_RESOURCES = {"document", "stylesheet", "script", "image", "font"}
# The offline stand-in for Stripe.js is not part of any page in production, where Stripe.js
# itself (also not ours to weigh) is loaded instead.
NOT_OURS = re.compile(r"/static/js/stripe-test-mode\.js$")

# Lighthouse's "slow 4G" (mobile) profile: 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up
# (Lighthouse counts 1 kbit as 1024 bits). Chromium's throughputs are in bytes per second.
SLOW_4G = {"offline": False, "latency": 150,
           "downloadThroughput": 1.6 * 1024 * 1024 / 8,
           "uploadThroughput": 750 * 1024 / 8}
LCP_BUDGET_MS = 1500


@dataclass
class Weighing:
    """The bytes of every resource of ours that the pages loaded, by page."""

    current: list[tuple[str, str, int]] | None = None  # None: between the pages weighed
    pages: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)

    def seen(self, response: Response) -> None:
        request = response.request
        if (self.current is None or urlsplit(response.url).hostname != "127.0.0.1"
                or response.status != 200 or request.resource_type not in OWN_RESOURCES
                or NOT_OURS.search(response.url)):
            return
        self.current.append((request.resource_type, urlsplit(response.url).path,
                             len(response.body())))

    def page(self, page: Page, name: str, load: Callable[[], None]) -> int:
        """Load one page with `load`, wait until it is quiet, and keep what it weighed."""
        self.current = []
        load()
        page.wait_for_load_state("networkidle")
        self.pages[name], self.current = self.current, None
        return sum(size for _, _, size in self.pages[name])

    def table(self) -> str:
        lines = [f"{'page':<16}{'html':>9}{'css':>9}{'js':>9}{'images':>9}{'total':>10}"]
        for name, resources in self.pages.items():
            kinds = {kind: sum(s for k, _, s in resources if k == kind)
                     for kind in ("document", "stylesheet", "script")}
            images = sum(s for k, _, s in resources if k in ("image", "font"))
            total = sum(s for _, _, s in resources)
            lines.append(f"{name:<16}" + "".join(
                f"{value / 1024:>8.1f}K" for value in (*kinds.values(), images))
                + f"{total / 1024:>9.1f}K")
        return "\n".join(lines)


def _without_cache(page: Page):
    """A DevTools session on the page with the browser cache off: every page load fetches all
    it needs, as a first visit does."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    return cdp


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def test_every_page_weighs_under_50_kb(page: Page, app, seeded, make_user, live_server):
    base = live_server.url
    student_id = make_user("sam@example.com", "Sam Student")
    make_user("staff@example.com", "Stella Staff", staff=True)
    _without_cache(page)
    weighing = Weighing()
    page.on("response", weighing.seen)

    log_in(page, base, "sam@example.com")
    weighing.page(page, "plans", lambda: page.goto(base + "/"))
    weighing.page(page, "checkout", lambda: page.get_by_role(
        "link", name="Buy Standard Package").click())
    weighing.page(page, "pay", lambda: page.get_by_role(
        "button", name="Continue to payment").click())
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_enabled()
    enter_card(page)

    def pay() -> None:
        page.get_by_role("button", name=re.compile("^Pay")).click()
        expect(page.get_by_role("heading", name="Payment received")).to_be_visible()

    weighing.page(page, "complete", pay)
    with app.app_context():
        purchase_id = db.session.scalars(db.select(Purchase.id)).one()
    weighing.page(page, "dashboard", lambda: page.goto(base + "/account"))
    expect(page.get_by_text("10 hours left")).to_be_visible()
    weighing.page(page, "receipt", lambda: page.goto(f"{base}/account/purchases/{purchase_id}"))
    expect(page.get_by_role("heading", name=re.compile("Receipt"))).to_be_visible()
    _log_out(page)

    log_in(page, base, "staff@example.com")
    weighing.page(page, "staff student", lambda: page.goto(f"{base}/staff/students/{student_id}"))
    expect(page.get_by_role("heading", name="Sam Student")).to_be_visible()

    print("\nPage weight (our own bytes, as served; Stripe.js and its stand-in excluded)")
    print(weighing.table())
    for name, resources in weighing.pages.items():
        assert any(kind == "document" for kind, _, _ in resources), f"{name}: no HTML weighed"
        assert any(kind == "stylesheet" for kind, _, _ in resources), f"{name}: no CSS weighed"
        total = sum(size for _, _, size in resources)
        assert total < PAGE_BUDGET_BYTES, f"{name} weighs {total} bytes: {resources}"
    assert any(kind == "script" for kind, _, _ in weighing.pages["pay"]), "checkout.js not weighed"


LARGEST_CONTENTFUL_PAINT = """() => new Promise(resolve => {
    new PerformanceObserver(list => {
        const entries = list.getEntries();
        const last = entries[entries.length - 1];
        resolve({ms: last.startTime, element: last.element ? last.element.outerHTML.slice(0, 80)
                                                          : last.url});
    }).observe({type: 'largest-contentful-paint', buffered: true});
})"""


def test_plans_page_paints_its_largest_content_within_1_5_s_on_slow_4g(page: Page, seeded,
                                                                         live_server):
    cdp = _without_cache(page)
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    page.goto(live_server.url + "/", wait_until="load")
    expect(page.get_by_role("heading", name="Packages")).to_be_visible()
    lcp = page.evaluate(LARGEST_CONTENTFUL_PAINT)
    print(f"\nPlans page on slow 4G (150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up): Largest "
          f"Contentful Paint {lcp['ms']:.0f} ms ({lcp['element']})")
    assert 0 < lcp["ms"] < LCP_BUDGET_MS
