"""Flask-Login wiring: loading the user of a session and answering the anonymous."""

from __future__ import annotations

import hmac

from flask import Flask, jsonify, redirect, request, url_for

from storefront.extensions import db, login_manager
from storefront.models import User


def configure_login(app: Flask) -> None:
    """Bind Flask-Login with basic session protection.

    "Strong" protection would log a student out whenever their IP or browser string changes,
    as when a phone moves from Wi-Fi to mobile data in the middle of paying. Sessions end
    instead through the server-side session token (logout, new password), and account
    changes ask for the current password.
    """
    login_manager.init_app(app)
    login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The user whose id and current session token the session holds."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(user.session_token, token):
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """401 JSON under /api/; elsewhere, the login page, coming back here afterwards."""
    if request.path.startswith("/api/"):
        return jsonify({"detail": "Authentication credentials were not provided."}), 401
    return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
