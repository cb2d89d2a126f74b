"""What every page a browser test visits is checked for: accessibility (axe-core, vendored
under tests/browser/vendor/), fitting a phone and a desktop window, and a screenshot at each
size for the review."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
# Every screenshot written in this run, listed at the end of the test output.
WRITTEN: list[Path] = []

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
SIZES = {"phone": PHONE, "desktop": DESKTOP}

# WCAG 2.2 A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
SERIOUS = {"serious", "critical"}
# The smallest tap target on a phone, in CSS pixels (WCAG 2.5.5, Apple and Google guidance).
TAP_TARGET = 44

TEST_CARD = "4242 4242 4242 4242"  # the emulator's card that pays
DECLINED_CARD = "4000 0000 0000 0002"  # and the one it declines


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"[{self.impact}] {self.rule}: {self.help} at {', '.join(self.targets)}"


# Resolves once every running CSS transition and animation has finished.
_SETTLED = "() => Promise.all(document.getAnimations().map(a => a.finished.catch(() => null)))"


def _node_text(node: dict) -> str:
    """The element, and for a contrast finding the colours axe measured."""
    target = " ".join(map(str, node["target"]))
    data = next((check.get("data") for check in node.get("any", [])
                 if isinstance(check.get("data"), dict)
                 and "contrastRatio" in check["data"]), None)
    if data:
        target += (f" ({data.get('fgColor')} on {data.get('bgColor')}, "
                   f"{data.get('contrastRatio')}:1)")
    return target


def _axe(page: Page) -> list[Violation]:
    page.evaluate(_SETTLED)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: "
        "['violations']})", AXE_TAGS)
    return [Violation(rule=v["id"], impact=v.get("impact") or "minor", help=v["help"],
                      targets=tuple(_node_text(node) for node in v["nodes"]))
            for v in result["violations"]]


def audit(page: Page, label: str) -> list[Violation]:
    """Run axe-core on the page once nothing on it is moving, print every violation found,
    and fail on a serious or critical one. A colour contrast finding is measured once more
    half a second later: a colour caught changing is not the page's colour, one that stays is."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = _axe(page)
    if any(v.rule == "color-contrast" and v.impact in SERIOUS for v in violations):
        print(f"axe on {label}: contrast measured again in 0.5 s; first: "
              + "; ".join(map(str, violations)))
        page.wait_for_timeout(500)
        violations = _axe(page)
    print(f"axe on {label} ({page.url}): {len(violations)} violation(s)")
    for violation in violations:
        print(f"  {violation}")
    serious = [v for v in violations if v.impact in SERIOUS]
    assert not serious, f"axe on {label}: " + "; ".join(map(str, serious))
    return violations


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scroll)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth")


def small_tap_targets(page: Page) -> list[str]:
    """Visible controls smaller than TAP_TARGET in either direction. Links inside a sentence
    are exempt, as WCAG's inline exception says."""
    return page.evaluate("""min => {
        const inline = el => el.tagName === 'A' && el.closest('p, li p, td, dd, small, .prose');
        return [...document.querySelectorAll(
                'a[href], button, input:not([type=hidden]), select, textarea, summary')]
            .filter(el => el.offsetParent !== null && !inline(el))
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([el, box]) => box.width < min || box.height < min)
            .map(([el, box]) => `${el.tagName.toLowerCase()} "${(el.innerText || el.value
                || el.getAttribute('aria-label') || el.name || '').trim().slice(0, 40)}" `
                + `${Math.round(box.width)}x${Math.round(box.height)}`);
    }""", TAP_TARGET)


def blank_bands(page: Page, selector: str) -> list[str]:
    """Boxes matching selector with blank space inside their padding, above their first or
    below their last visible child (a child's own margin): 'selector top|bottom: Npx'."""
    return page.evaluate("""selector => {
        const bands = [];
        for (const box of document.querySelectorAll(selector)) {
            const kids = [...box.children].filter(kid => kid.getClientRects().length > 0);
            if (box.getClientRects().length === 0 || kids.length === 0) continue;
            const style = getComputedStyle(box), outer = box.getBoundingClientRect();
            const top = kids[0].getBoundingClientRect().top - outer.top
                - parseFloat(style.borderTopWidth) - parseFloat(style.paddingTop);
            const bottom = outer.bottom - kids[kids.length - 1].getBoundingClientRect().bottom
                - parseFloat(style.borderBottomWidth) - parseFloat(style.paddingBottom);
            if (top > 1) bands.push(`${selector} top: ${Math.round(top)}px`);
            if (bottom > 1) bands.push(`${selector} bottom: ${Math.round(bottom)}px`);
        }
        return bands;
    }""", selector)


def screenshot(page: Page, name: str, size: str) -> Path:
    """Save the whole page as test-results/screenshots/<name>-<size>.png and list it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}-{size}.png"
    page.screenshot(path=str(path), full_page=True)
    WRITTEN.append(path)
    return path


def check_page(page: Page, name: str) -> list[Violation]:
    """The page as loaded now, at phone and desktop size: axe finds nothing serious, nothing
    scrolls sideways, every control is big enough to tap on the phone, and a screenshot of each
    size is written. The window is left at phone size."""
    violations = audit(page, name)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        assert horizontal_overflow(page) <= 0, f"{name} scrolls sideways at {size}"
        if size == "phone":
            small = small_tap_targets(page)
            assert small == [], f"{name}: tap targets under {TAP_TARGET}px: {small}"
        screenshot(page, name, size)
    return violations


def enter_card(page: Page, number: str = TEST_CARD) -> None:
    """Type a card into the payment form's fields: the number, expiry 12/34 and CVC 123."""
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry").fill("12 / 34")
    page.get_by_label("CVC").fill("123")


def log_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the login form and wait until the page shows the student logged in."""
    page.goto(base_url + "/account/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
