"""The site's sessions: Flask's signed cookies, with two exceptions that keep responses
cacheable. A probe gets no session at all. A request that brings no session cookie gets an
empty session that only writing fills: reading it (Flask-Login asking who is there, a page
looking for flashed messages) neither creates a cookie nor, on a response that is
explicitly public, adds `Vary: Cookie` — such responses revalidate with us on every use and
carry an ETag that no logged-in page shares (storefront/catalog/caching.py)."""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class CookielessSession(SecureCookieSession):
    """The session of a request without a session cookie: empty until the request writes."""

    read = False

    @property
    def accessed(self) -> bool:
        """Never 'accessed' for Flask: whether a read matters is decided at save time."""
        return False

    @accessed.setter
    def accessed(self, value: bool) -> None:
        self.read = self.read or value


def _is_public(cache_control: str) -> bool:
    # Cheaper than parsing the header into Response.cache_control on every response.
    return "public" in cache_control and "public" in (
        directive.strip().lower() for directive in cache_control.split(","))


class SiteSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions; none for probes; a cookieless one when no cookie came."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """No session for the probes; an empty one, unsigned and unparsed, without a cookie."""
        if request.path in PROBE_PATHS:
            return self.make_null_session(app)
        if self.get_cookie_name(app) not in request.cookies:
            return CookielessSession()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """As Flask does; a cookieless session only read varies on Cookie unless public."""
        if (isinstance(session, CookielessSession) and session.read and not session.modified
                and not _is_public(response.headers.get("Cache-Control", ""))):
            response.vary.add("Cookie")
        super().save_session(app, session, response)
