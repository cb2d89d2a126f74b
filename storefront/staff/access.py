"""Only staff may pass: anonymous users go to login (401 on the API), others get 403."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def staff_required(view):
    """Require a logged-in staff member."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@staff_required
def only_staff() -> None:
    """A blueprint's before_request hook: every page of it is for staff only."""
