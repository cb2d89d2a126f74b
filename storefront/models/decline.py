"""Declined card payments, kept to notice card testing (many declines from one source)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storefront.extensions import db
from storefront.models.base import UTCDateTime, utcnow


class PaymentDecline(db.Model):
    """One declined payment attempt, counted against the buyer's IP, email and purchase."""

    __tablename__ = "payment_declines"
    __table_args__ = (
        Index("ix_payment_declines_client_ip_at", "client_ip", "declined_at"),
        Index("ix_payment_declines_email_at", "email", "declined_at"),
        Index("ix_payment_declines_purchase_at", "purchase_id", "declined_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One row per decline, whoever reports it (webhook, complete page, test-mode confirm):
    # the declined charge's id, else the PaymentIntent's id.
    decline_key: Mapped[str] = mapped_column(String(255), unique=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"))
    payment_intent_id: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    decline_code: Mapped[str | None] = mapped_column(String(64))
    reported_by: Mapped[str] = mapped_column(String(20))
    declined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


ATTEMPT_LABELS = {
    "start_page": "Start a purchase (page)",
    "start_api": "Start a purchase (API)",
    "pay_page": "Open the payment page",
    "confirm": "Confirm a payment",
}


class RefusedAttempt(db.Model):
    """A purchase start or payment refused during a decline cool-down, kept for staff."""

    __tablename__ = "refused_payment_attempts"
    __table_args__ = (Index("ix_refused_payment_attempts_at", "refused_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt: Mapped[str] = mapped_column(String(20))  # a key of ATTEMPT_LABELS
    client_ip: Mapped[str | None] = mapped_column(String(45))
    email: Mapped[str | None] = mapped_column(String(254))
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    refused_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def label(self) -> str:
        return ATTEMPT_LABELS.get(self.attempt, self.attempt)
