"""People: students (with or without a password) and staff."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from storefront.extensions import db
from storefront.models.base import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    """A student or staff member. Email is stored trimmed and lower-cased, so UNIQUE is
    case-insensitive; a guest who bought without an account has no password hash."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lowercase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(150))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    # Part of the login session's id: rotating it ends every session of this user.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(16))
    # Bound into every claim and reset link: rotating it kills every link sent so far, so a
    # link works once and the signing key alone cannot forge one.
    link_secret: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The student's Stripe Customer, created once (storefront.billing.customers).
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the current session token."""
        return f"{self.id}:{self.session_token}"

    def end_sessions(self) -> None:
        """Invalidate every login session of this user, copied cookies included."""
        self.session_token = secrets.token_hex(16)

    def set_password_hash(self, password_hash: str) -> None:
        """Take a new password hash; every emailed link and every session ends with the old one."""
        self.password_hash = password_hash
        self.link_secret = secrets.token_hex(32)
        self.end_sessions()

    @property
    def is_guest(self) -> bool:
        """True for an account created by a purchase and not yet claimed with a password."""
        return self.password_hash is None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class PendingRegistration(db.Model):
    """A registration waiting for its emailed link. Only a hash of the link's token is kept,
    and the password's hash never leaves the server."""

    __tablename__ = "pending_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(150))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
