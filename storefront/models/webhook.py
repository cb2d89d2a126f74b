"""Stripe webhook events as received: one row per Stripe event id."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storefront.extensions import db
from storefront.models.base import UTCDateTime, utcnow


class WebhookOutcome(enum.StrEnum):
    PROCESSED = "processed"  # changed something
    IGNORED = "ignored"  # valid, but nothing to do (unhandled type, stale or not ours)
    FAILED = "failed"  # valid, but refused (e.g. amount mismatch); logged as an error


class WebhookEvent(db.Model):
    """A received Stripe event, stored in the same transaction as its effects."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
