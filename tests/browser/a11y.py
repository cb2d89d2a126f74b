"""Checks of one accessibility concern on the page as it stands: chosen axe-core rules (all
impacts, not only serious ones), headings, labels, live regions and motion."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

from tests.browser.pages import AXE


def axe_rules(page: Page, rules: list[str]) -> list[str]:
    """Every violation of these axe rules on the page, whatever its impact, as text."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'rule', values: rules}, "
        "resultTypes: ['violations']})", rules)
    return [f"{v['id']}: {v['help']} at "
            + ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"])
            for v in result["violations"]]


def heading_levels(page: Page) -> list[tuple[int, str]]:
    """The page's rendered headings in document order, as (level, text)."""
    return [(level, text) for level, text in page.evaluate("""() =>
        [...document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role=heading]')]
            .filter(h => h.getClientRects().length > 0)
            .map(h => [Number(h.getAttribute('aria-level') || h.tagName.slice(1)),
                       h.innerText.trim()])""")]


def heading_problems(levels: list[tuple[int, str]]) -> list[str]:
    """What is wrong with an outline: no h1 first, more than one h1, or a level skipped."""
    if not levels:
        return ["no headings"]
    problems = []
    if levels[0][0] != 1:
        problems.append(f"first heading is h{levels[0][0]} {levels[0][1]!r}, not an h1")
    if sum(1 for level, _ in levels if level == 1) != 1:
        problems.append("not exactly one h1")
    for (before, _), (level, text) in zip(levels, levels[1:], strict=False):
        if level > before + 1:
            problems.append(f"h{level} {text!r} follows an h{before}")
    return problems


def unlabelled_controls(page: Page) -> list[str]:
    """Visible form controls with no accessible name from a label, aria-labelledby or
    aria-label."""
    return page.evaluate("""() => [...document.querySelectorAll(
            'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea')]
        .filter(el => el.getClientRects().length > 0)
        .filter(el => {
            const text = n => (n && n.textContent || '').trim();
            const byLabel = [...(el.labels || [])].some(l => text(l));
            const byIds = (el.getAttribute('aria-labelledby') || '').split(/\\s+/)
                .some(id => text(document.getElementById(id)));
            return !(byLabel || byIds || (el.getAttribute('aria-label') || '').trim());
        })
        .map(el => `${el.tagName.toLowerCase()}#${el.id || el.name}`)""")


def live_region(locator: Locator) -> dict | None:
    """The live region the element is in (itself or an ancestor): its role and aria-live, or
    None when a screen reader would not announce a change to it."""
    return locator.evaluate("""el => {
        for (let n = el; n && n !== document; n = n.parentElement) {
            const role = n.getAttribute('role'), live = n.getAttribute('aria-live');
            if (['alert', 'status', 'log'].includes(role) || (live && live !== 'off'))
                return {role, live};
        }
        return null;
    }""")


def assertive(region: dict | None) -> bool:
    """A region announced at once: role=alert or aria-live=assertive."""
    return region is not None and (region["role"] == "alert" or region["live"] == "assertive")


def motion(page: Page) -> list[str]:
    """Everything on the page that moves: running animations and transitions, elements with a
    transition or animation of non-zero length, and smooth scrolling."""
    return page.evaluate("""() => {
        const found = [];
        const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
            + (el.classList.length ? '.' + [...el.classList].join('.') : '');
        const long = value => value.split(',').some(v => parseFloat(v) > 0);
        for (const el of [document.documentElement, ...document.querySelectorAll('body, body *')]) {
            for (const pseudo of [null, '::before', '::after']) {
                const s = getComputedStyle(el, pseudo);
                if (s.transitionProperty !== 'none' && long(s.transitionDuration))
                    found.push(`${name(el)}${pseudo || ''} transition ${s.transitionDuration}`);
                if (s.animationName !== 'none' && long(s.animationDuration))
                    found.push(`${name(el)}${pseudo || ''} animation ${s.animationName}`);
            }
            if (getComputedStyle(el).scrollBehavior === 'smooth')
                found.push(`${name(el)} scrolls smoothly`);
        }
        for (const a of document.getAnimations()) found.push(`running: ${a.constructor.name}`);
        return found;
    }""")
