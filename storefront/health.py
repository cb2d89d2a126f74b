"""Probes for operators and load balancers: /healthz (the process answers) and /readyz (the
database answers and its schema is at the migrations' head). Neither is rate limited, and
neither gets a session (storefront/sessions.py), so they set no cookie."""

from __future__ import annotations

import logging
from functools import cache

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from storefront.extensions import db, limiter

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)
NOT_AT_HEAD = "database schema is not at the migrations' head"


@cache
def migration_heads(directory: str) -> frozenset[str]:
    """The head revisions of the migrations in `directory` (read once per process)."""
    config = Config()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _unavailable(reason: str):
    return jsonify({"status": "unavailable", "reason": reason}), 503


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process is up and serving; the database is not consulted."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Ready for traffic: the database answers and its schema is at the migrations' head."""
    heads = migration_heads(current_app.extensions["migrate"].directory)
    try:
        # Alembic builds its version table anew for every context: kept out of the engine's
        # statement cache, or each probe would add an entry to it (and to the worker's memory).
        with db.engine.connect().execution_options(compiled_cache=None) as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        return _unavailable("database unreachable")
    if current != heads:
        log.warning("readiness: database at %s, migrations' head is %s",
                    sorted(current) or "no revision", sorted(heads))
        return _unavailable(NOT_AT_HEAD)
    return jsonify({"status": "ready"})
