"""HTTP caching of the public catalog (the plans page and the pricing-plans API).

Each answer carries a strong ETag made from what its bytes depend on: the plan list's version
(storefront.catalog.services.PlanListing, shared by every worker through the plan cache),
the currency the page shows prices in (chosen, or from Accept-Language: the page then
varies on it), the release (a digest of the templates, static files and code, computed once
per process), test mode, the locale and the mount point. A matching If-None-Match is
answered 304 before anything is rendered; the rendered bytes themselves are kept per ETag,
so a page that did not change is rendered once per worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

from flask import Response, current_app, request, session
from flask_login import current_user
from flask_login.config import COOKIE_NAME as REMEMBER_COOKIE

from storefront.config import emulator_checkout
from storefront.sessions import CookielessSession

# Any cache may keep the anonymous answer, but must ask us before each use (max-age=0,
# must-revalidate). That costs a 304, which renders nothing, and it is what makes leaving
# out Vary: Cookie safe: a proxy that keeps the anonymous page always revalidates it, and
# the request of a logged-in visitor never matches its ETag (their pages carry none).
PUBLIC = "public, max-age=0, must-revalidate"
# The same for a visitor who brings a session cookie (they may get it back rewritten, so
# no shared cache may keep the answer); their browser still revalidates with the ETag.
PRIVATE = "private, max-age=0, must-revalidate"
# Logged in, or a message waiting: the page is theirs alone and is never answered with 304.
PERSONAL = "private, no-cache"
_MEMO_SIZE = 32


@cache
def release_digest(*roots: str) -> str:
    """A digest of every file under the given folders (read once per process)."""
    digest = hashlib.sha256()
    for root in roots:
        base = Path(root).resolve()
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(base).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _release() -> str:
    app = current_app
    release = app.extensions.get("storefront.release")
    if release is None:
        release = app.extensions["storefront.release"] = release_digest(
            app.root_path, str(Path(app.root_path, app.template_folder)), app.static_folder)
    return release


def catalog_etag(kind: str, version: str, currency: str = "") -> str:
    """The ETag of one kind of catalog answer ("page", "json") for this plan-list version,
    and the currency its prices are shown in (the page)."""
    memo = current_app.extensions.setdefault("storefront.catalog_etags", {})
    key = (kind, version, currency, request.script_root)
    etag = memo.get(key)
    if etag is None:
        config = current_app.config
        parts = (kind, version, currency, _release(),
                 "test" if emulator_checkout(config) else "live",
                 config["BABEL_LOCALE"], request.script_root)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        etag = memo[key] = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    return etag


def is_personal() -> bool:
    """A logged-in visitor, or one with a message waiting: their page is not the public one."""
    if (isinstance(session._get_current_object(), CookielessSession)
            and current_app.config.get("REMEMBER_COOKIE_NAME", REMEMBER_COOKIE)
            not in request.cookies):
        return False  # no cookie that could name a user or hold a message
    return current_user.is_authenticated or "_flashes" in session


def _cache_control() -> str:
    # session is the request's own object: a request without a session cookie gets a
    # CookielessSession, which nothing on these pages writes to.
    return PUBLIC if isinstance(session._get_current_object(), CookielessSession) else PRIVATE


def _mark(response: Response, etag: str, control: str) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = control
    return response


def cached_answer(etag: str, mimetype: str, render: Callable[[], str | bytes]) -> Response:
    """304 when the client holds this ETag; else the bytes kept for it (rendered once)."""
    control = _cache_control()
    if request.if_none_match.contains_weak(etag):
        response = current_app.response_class(status=304)
        del response.headers["Content-Type"]
        return _mark(response, etag, control)
    memo = current_app.extensions.setdefault("storefront.catalog_answers", {})
    body = memo.get(etag)
    if body is None:
        if len(memo) >= _MEMO_SIZE:  # old versions: drop them all, the current one returns
            memo.clear()
        body = memo[etag] = render()
    return _mark(current_app.response_class(body, mimetype=mimetype), etag, control)


def personal_answer(response: Response) -> Response:
    """A page for this visitor alone: no ETag, kept by no shared cache."""
    response.headers["Cache-Control"] = PERSONAL
    return response
