"""Finding the student a purchase belongs to, creating a guest account when needed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storefront import ledger
from storefront.extensions import db
from storefront.models import User


def find_by_email(email: str) -> User | None:
    """The account with this (already lower-cased) email, if any."""
    return db.session.scalars(select(User).where(User.email == email.lower())).first()


def resolve_student(*, email: str, name: str, acting_user: User | None) -> User:
    """The logged-in user when the email is theirs; else the account with that email,
    created without a password (a guest) if there is none."""
    if acting_user is not None and acting_user.is_authenticated and acting_user.email == email:
        return acting_user
    student = find_by_email(email)
    if student is not None:
        return student
    try:
        with db.session.begin_nested():
            student = User(email=email, name=name, password_hash=None)
            db.session.add(student)
            db.session.flush()
            ledger.open_balance(student)
    except IntegrityError:
        # Another request created the same guest a moment ago.
        student = find_by_email(email)
        if student is None:
            raise
    return student
