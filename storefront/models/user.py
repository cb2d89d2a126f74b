"""People: students (with or without a password) and staff."""

from __future__ import annotations

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def is_guest(self) -> bool:
        """True for an account created by a purchase and not yet claimed with a password."""
        return self.password_hash is None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
