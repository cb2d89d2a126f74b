"""Flask-Login wiring: loading the user of a session and answering the anonymous."""

from __future__ import annotations

from flask import Flask, abort, jsonify, request

from storefront.extensions import db, login_manager
from storefront.models import User


def configure_login(app: Flask) -> None:
    """Bind Flask-Login with strong session protection."""
    login_manager.init_app(app)
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@login_manager.unauthorized_handler
def unauthorized():
    """401 JSON under /api/; a 401 page elsewhere."""
    if request.path.startswith("/api/"):
        return jsonify({"detail": "Authentication credentials were not provided."}), 401
    abort(401)
