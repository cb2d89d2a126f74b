"""Errors as HTML pages on the site and as JSON under /api/; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from storefront.errors import StorefrontError
from storefront.extensions import db

log = logging.getLogger(__name__)

_DETAILS = {
    400: "Bad request.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    415: "Unsupported media type: send application/json.",
    429: "Request was throttled. Please try again later.",
    500: "A server error occurred.",
}

_PAGES = {400, 401, 403, 404, 405, 413, 429, 500}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _respond(error: HTTPException):
    status = error.code or 500
    if _wants_json():
        custom = error.description != type(error).description
        body = jsonify({"detail": error.description if custom else _DETAILS.get(status,
                                                                                 error.name)})
    else:
        template = f"errors/{status if status in _PAGES else 'generic'}.html"
        body = render_template(template, status=status)
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return body, status, headers


def register_error_handlers(app: Flask) -> None:
    """Install the handlers for HTTP errors, CSRF failures and unexpected exceptions."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        log.info("csrf refused: %s", error.description)
        if _wants_json():
            return jsonify({"detail": f"CSRF Failed: {error.description}"}), 403
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(StorefrontError)
    def refused(error: StorefrontError):
        """A service's refusal (e.g. Stripe unreachable) that a view did not handle itself."""
        db.session.rollback()
        if _wants_json():
            return jsonify(error.to_json()), error.status
        return render_template("errors/refused.html", message=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _respond(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(InternalServerError())
