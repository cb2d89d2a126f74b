"""gunicorn settings for `gunicorn wsgi:app -c gunicorn.conf.py` (the Procfile's web process).

Everything comes from the environment: BIND (host:port) or PORT (all interfaces, as platforms
that route to $PORT expect; default 127.0.0.1:8000), WEB_CONCURRENCY workers (default 2),
GUNICORN_TIMEOUT and GUNICORN_GRACEFUL_TIMEOUT in seconds. No access log: the app writes one
line per request itself, with its request id and link tokens redacted (storefront/logs.py).
"""

from __future__ import annotations

import gc
import os


def _bind() -> str:
    if os.environ.get("BIND"):
        return os.environ["BIND"]
    if os.environ.get("PORT"):
        # A platform's router forwards to $PORT on the container's own interface.
        return f"0.0.0.0:{int(os.environ['PORT'])}"
    return "127.0.0.1:8000"


bind = [_bind()]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
# A request that takes longer than this (Stripe's own timeout is 20 s) is killed.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (a deploy), requests in flight get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Only the app's own process: a worker imports wsgi.py (load_dotenv, create_app) itself, so
# a restarted worker reads the same environment and nothing is shared across a fork.
preload_app = False


def post_worker_init(worker) -> None:
    """Once the worker has loaded the app, its objects (modules, routes, SQLAlchemy's
    mappings: about 145,000) go to the collector's permanent generation. They live as long
    as the worker anyway; left in the oldest generation, every full collection a busy
    worker triggers walked them all again (about 120 ms, some 25 µs per request)."""
    gc.collect()
    gc.freeze()
