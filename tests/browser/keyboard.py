"""Moving through a page with the keyboard alone, and checking that every stop shows a focus
ring a sighted keyboard user can see: one that is measurable (a solid outline at least 2px
wide, or a box shadow), that was not there before the element had focus, and whose colour
stands out at least 3:1 from what is around it (WCAG 2.2: 1.4.11, 2.4.7, 2.4.13)."""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Page

FOCUSABLE = ("a[href], button, input:not([type=hidden]), select, textarea, summary, "
             "[tabindex]:not([tabindex='-1'])")
# The ring's colour against the background next to it (WCAG 1.4.11, non-text contrast).
RING_CONTRAST = 3.0
MIN_RING_PX = 2.0

_STYLE_JS = """
window.__ring = el => {
    const s = getComputedStyle(el);
    return {outline: [s.outlineStyle, s.outlineWidth, s.outlineColor, s.outlineOffset].join(' '),
            shadow: s.boxShadow, outlineStyle: s.outlineStyle,
            outlineWidth: parseFloat(s.outlineWidth) || 0, outlineColor: s.outlineColor};
};
"""

_SNAPSHOT_JS = _STYLE_JS + """
selector => {
    window.__unfocused = window.__unfocused || new Map();
    for (const el of document.querySelectorAll(selector)) {
        if (el !== document.activeElement) window.__unfocused.set(el, window.__ring(el));
    }
}
"""

_FOCUSED_JS = """
() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
        const f = v => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const contrast = (a, b) => {
        const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
        return (hi + 0.05) / (lo + 0.05);
    };
    // The background the ring is drawn on: the nearest ancestor that paints one.
    let background = [255, 255, 255];
    for (let node = el.parentElement; node; node = node.parentElement) {
        const c = rgb(getComputedStyle(node).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) { background = c.slice(0, 3); break; }
    }
    const now = window.__ring(el);
    const box = el.getBoundingClientRect();
    return {
        element: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.getAttribute(
            'aria-label') || el.innerText || el.value || el.name || '').trim().slice(0, 40)}"`,
        id: el.id, label: el.getAttribute('aria-label'), text: (el.innerText || '').trim(),
        before: window.__unfocused ? window.__unfocused.get(el) || null : null, now,
        focusVisible: el.matches(':focus-visible'),
        ringContrast: now.outlineStyle === 'none' || now.outlineStyle === 'auto' ? 0
            : contrast(rgb(now.outlineColor).slice(0, 3), background),
        onScreen: box.width >= 1 && box.height >= 1 && box.bottom > 0 && box.right > 0
            && box.top < window.innerHeight && box.left < window.innerWidth,
    };
}
"""


@dataclass(frozen=True)
class Stop:
    """The element that has keyboard focus, and how its focus ring looks."""

    element: str
    id: str
    label: str | None
    text: str
    before: dict | None
    now: dict
    focus_visible: bool
    ring_contrast: float
    on_screen: bool

    def ring_problem(self) -> str | None:
        """Why this element's focus ring is not good enough, or None when it is."""
        if self.before is None:
            return f"{self.element}: not seen unfocused (snapshot the page first)"
        if not self.focus_visible:
            return f"{self.element}: focused but not :focus-visible"
        if not self.on_screen:
            return f"{self.element}: focused but not on screen"
        if self.now["outline"] == self.before["outline"] and (
                self.now["shadow"] == self.before["shadow"]):
            return f"{self.element}: looks the same focused and unfocused"
        solid = self.now["outlineStyle"] in ("solid", "double", "dashed", "dotted")
        if solid and self.now["outlineWidth"] >= MIN_RING_PX:
            if self.ring_contrast < RING_CONTRAST:
                return (f"{self.element}: ring contrast {self.ring_contrast:.2f}:1 "
                        f"under {RING_CONTRAST}:1")
            return None
        if self.now["shadow"] not in ("none", self.before["shadow"]):
            return None
        return (f"{self.element}: no measurable ring (outline {self.now['outline']}, "
                f"shadow {self.now['shadow']})")


def snapshot(page: Page) -> None:
    """Remember how every focusable element on the page looks without focus."""
    page.evaluate(_SNAPSHOT_JS, FOCUSABLE)


def focused(page: Page) -> Stop | None:
    """The element with focus now (None: nothing, the page itself)."""
    data = page.evaluate(_FOCUSED_JS)
    if data is None:
        return None
    return Stop(element=data["element"], id=data["id"], label=data["label"], text=data["text"],
                before=data["before"], now=data["now"], focus_visible=data["focusVisible"],
                ring_contrast=data["ringContrast"], on_screen=data["onScreen"])


def press(page: Page, key: str) -> Stop:
    """Press a key (Tab, Shift+Tab…) and return the new stop, whose ring must be visible."""
    page.keyboard.press(key)
    stop = focused(page)
    assert stop is not None, f"{key} left nothing focused on {page.url}"
    problem = stop.ring_problem()
    assert problem is None, f"after {key} on {page.url}: {problem}"
    return stop


def tab_to(page: Page, wanted, *, key: str = "Tab", limit: int = 40) -> Stop:
    """Press Tab (or Shift+Tab) until wanted(stop) is true, checking the ring at every stop."""
    seen = []
    for _ in range(limit):
        stop = press(page, key)
        if wanted(stop):
            return stop
        seen.append(stop.element)
    raise AssertionError(f"{key} never reached the element on {page.url}; stops: {seen}")


def every_stop(page: Page, limit: int = 80) -> list[Stop]:
    """Tab from the top of the page through every stop until focus leaves the page or comes
    back to the first; every stop's ring is checked."""
    stops: list[Stop] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = focused(page)
        if stop is None or (stops and stop.element == stops[0].element):
            return stops
        problem = stop.ring_problem()
        assert problem is None, f"on {page.url}: {problem}"
        stops.append(stop)
    raise AssertionError(f"more than {limit} tab stops on {page.url}")
