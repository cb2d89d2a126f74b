"""Logging: a request id for every request (taken from a valid incoming X-Request-ID, else
made here; sent back as X-Request-ID and on every log line of the request), one log line per
request, JSON lines in production, and no secret in a request line: link tokens in paths are
replaced by [redacted], and query strings (Stripe's return URL carries the client secret) are
left out."""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
REDACTED = "[redacted]"
# A proxy's or client's id: letters, digits and . _ : - only, so that it cannot forge or break
# a log line; anything else gets an id of our own.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Route arguments that are secrets (emailed links: claim, password reset, confirmation).
SECRET_ROUTE_ARGUMENTS = frozenset({"token"})
TEXT_FORMAT = "[%(asctime)s] %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# A request line of the development server: "GET /path?query HTTP/1.1" (maybe colored).
_REQUEST_LINE_QUERY = re.compile(r"([A-Z]+ /[^?\s\"]*)\?[^\s\"\x1b]*")

log = logging.getLogger("storefront.requests")
# One encoder for every line (json.dumps with options builds a new one per call).
_JSON_LINE = json.JSONEncoder(ensure_ascii=False)


def current_request_id() -> str | None:
    """The id of the request being handled (made on first use), or None outside a request."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = _request_id(incoming)
    return g.request_id


def _request_id(incoming: str) -> str:
    # 32 hex digits, as uuid4().hex gave, for a third of its cost.
    return incoming if _VALID_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(16)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (as request_id; "-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or "-"
        return True


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, request fields."""

    FIELDS = ("method", "path", "status", "duration_ms")

    _second: tuple[int, str] = (0, "")  # a second, and its date and time

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        line.update({key: getattr(record, key) for key in self.FIELDS if hasattr(record, key)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _JSON_LINE.encode(line)

    def _time(self, created: float) -> str:
        """ISO 8601 in UTC to the millisecond (as datetime writes it); the date and time to
        the second are worked out once per second, not for every line."""
        fraction, whole = math.modf(created)
        second, micro = int(whole), round(fraction * 1_000_000)
        if micro >= 1_000_000:
            second, micro = second + 1, micro - 1_000_000
        cached_second, text = self._second
        if second != cached_second:
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, text)
        return f"{text}.{micro // 1000:03d}Z"


class PathRedactor:
    """Replaces the secret segments of paths (emailed links' tokens) with [redacted]."""

    def __init__(self, app: Flask) -> None:
        prefixes = sorted({
            re.escape(rule.rule.split(f"<{argument}>")[0])
            for rule in app.url_map.iter_rules()
            for argument in SECRET_ROUTE_ARGUMENTS & rule.arguments
        })
        self.pattern = re.compile(rf"({'|'.join(prefixes)})[^/?#\s\"]+") if prefixes else None

    def __call__(self, text: str) -> str:
        return self.pattern.sub(rf"\g<1>{REDACTED}", text) if self.pattern else text


class RequestLineFilter(logging.Filter):
    """For the development server's request lines (the werkzeug logger): tokens redacted,
    query strings left out."""

    def __init__(self, redact: PathRedactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = _REQUEST_LINE_QUERY.sub(r"\1", self.redact(record.getMessage()))
        record.msg, record.args = message, ()
        return True


def _replace(logger: logging.Logger, kind: type, new: object, *, handler: bool) -> None:
    """Swap the logger's earlier filter or handler of this kind (from an earlier app) for new."""
    for old in list(logger.handlers if handler else logger.filters):
        if isinstance(old, kind) or getattr(old, "storefront", False):
            (logger.removeHandler if handler else logger.removeFilter)(old)
    (logger.addHandler if handler else logger.addFilter)(new)


def configure_logging(app: Flask, *, json_lines: bool) -> None:
    """The storefront's log handler (JSON lines or text, with request ids) and quiet,
    redacted third-party loggers."""
    handler = logging.StreamHandler()
    handler.storefront = True
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonLineFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    app.logger.setLevel(logging.INFO)
    _replace(app.logger, logging.StreamHandler, handler, handler=True)
    # stripe's debug lines carry whole API responses, client secrets included.
    logging.getLogger("stripe").setLevel(logging.INFO)


def register_request_log(app: Flask) -> None:
    """Give every request an id and log one line for it when its response is ready."""

    redact = None

    @app.before_request
    def start_clock() -> None:
        context = g._get_current_object()
        context.request_started = time.perf_counter()
        if "request_id" not in context:
            context.request_id = _request_id(request.headers.get(REQUEST_ID_HEADER, ""))

    @app.after_request
    def log_request(response):
        nonlocal redact
        context = g._get_current_object()
        request_id = getattr(context, "request_id", None) or current_request_id()
        response.headers[REQUEST_ID_HEADER] = request_id
        if not log.isEnabledFor(logging.INFO):
            return response
        started = getattr(context, "request_started", None)
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else 0.0
        redact = redact or app.extensions["storefront.redact_paths"]
        method, path, status = request.method, redact(request.path), response.status_code
        # makeRecord and handle rather than log.info: the same record without the search
        # for the caller's file and line on every request (no log line shows them).
        log.handle(log.makeRecord(
            log.name, logging.INFO, __file__, 0, "%s %s %s %.1fms",
            (method, path, status, duration_ms), None,
            extra={"request_id": request_id, "method": method, "path": path,
                   "status": status, "duration_ms": duration_ms}))
        return response


def redact_request_lines(app: Flask) -> None:
    """Once the routes are known: redact their secret segments in our request log and in the
    development server's request lines."""
    redactor = PathRedactor(app)
    app.extensions["storefront.redact_paths"] = redactor
    _replace(logging.getLogger("werkzeug"), RequestLineFilter, RequestLineFilter(redactor),
             handler=False)
