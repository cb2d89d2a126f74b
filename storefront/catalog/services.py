"""Reading and seeding pricing plans; the active-plan list is cached until a plan changes."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from storefront.catalog.currency import offered_currencies
from storefront.catalog.plan_copy import PlanCopy
from storefront.catalog.prices import set_extra_prices, watch_euro_prices
from storefront.errors import ValidationError
from storefront.extensions import cache, db
from storefront.formatting import amount_text, hours_text, price_per_hour_minor
from storefront.models import PlanPrice, PlanType, PricingPlan
from storefront.models.catalog import MAX_PRICE_MINOR, MAX_VALIDITY_DAYS, MIN_PRICE_MINOR
from storefront.money import BASE_CURRENCY, CURRENCIES

# The active plans and their version, shared by every worker (Redis in production).
ACTIVE_PLANS_CACHE_KEY = "catalog:active-plans:v4"
# Counts plan changes (never expires in Redis); the cached listing names the count it saw.
PLANS_GENERATION_KEY = "catalog:plans-generation"
# Every worker subscribes here (Redis): a message means "drop your copy of the listing".
PLANS_CHANGED_CHANNEL = "catalog:plans-changed"
VALIDITY_RULE = f"A package is valid from 1 to {MAX_VALIDITY_DAYS} days."


@dataclass(frozen=True)
class PlanSummary:
    """An active plan as shown to buyers (plain data, safe to cache)."""

    id: int
    name: str
    description: str
    plan_type: str
    minutes_included: int
    price_minor: int
    currency: str
    validity_days: int | None
    display_order: int
    is_featured: bool
    # Every price of the plan as (currency, minor units), euros first, in CURRENCIES order.
    prices: tuple[tuple[str, int], ...] = ()

    @property
    def is_package(self) -> bool:
        return self.plan_type == PlanType.PACKAGE.value

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.prices)

    def shown_in(self, currency: str) -> PlanSummary:
        """The plan priced in `currency` if it has a price in it, else as it is (euros)."""
        amount = dict(self.prices).get(currency)
        if amount is None or currency == self.currency:
            return self
        return replace(self, price_minor=amount, currency=currency)

    @property
    def price_per_hour_minor(self) -> int:
        return price_per_hour_minor(self.price_minor, self.minutes_included)

    def to_json(self) -> dict:
        """The pricing-plan shape of API.md."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "plan_type": self.plan_type,
            "plan_type_display": PlanType(self.plan_type).display,
            "hours_included": hours_text(self.minutes_included),
            "price_eur": amount_text(self.price_minor),
            "validity_days": self.validity_days,
            "display_order": self.display_order,
            "is_featured": self.is_featured,
            "price_per_hour": amount_text(self.price_per_hour_minor),
            "prices": {code: amount_text(amount, code) for code, amount in self.prices},
        }

    @classmethod
    def of(cls, plan: PricingPlan) -> PlanSummary:
        amounts = {row.currency: row.amount_minor for row in plan.prices}
        amounts[BASE_CURRENCY] = plan.price_minor  # the plan's own, even before a flush
        return cls(
            id=plan.id, name=plan.name, description=plan.description,
            plan_type=plan.plan_type, minutes_included=plan.minutes_included,
            price_minor=plan.price_minor, currency=plan.currency,
            validity_days=plan.validity_days, display_order=plan.display_order,
            is_featured=plan.is_featured,
            prices=tuple((code, amounts[code]) for code in CURRENCIES if code in amounts),
        )


@dataclass(frozen=True)
class PlanListing:
    """The active plans and their version: a digest of their content, so that every worker
    names the same list the same way, whether it read it from the shared cache or the
    database, and a changed plan gives a new version."""

    version: str
    plans: tuple[PlanSummary, ...]

    @functools.cached_property
    def currencies(self) -> tuple[str, ...]:
        """Every currency some plan is priced in, in the shop's order (worked out once per
        listing: each worker keeps its listing between requests)."""
        return offered_currencies(plan.currencies for plan in self.plans)

    @classmethod
    def of(cls, plans: tuple[PlanSummary, ...]) -> PlanListing:
        """The listing of these plans, its version computed from them."""
        return cls(version=hashlib.sha256(repr(plans).encode()).hexdigest()[:20], plans=plans)


def plan_copy(app: Flask) -> PlanCopy:
    """This app's own copy of the listing (storefront/catalog/plan_copy.py)."""
    copy = app.extensions.get("storefront.plan_copy")
    if copy is None:
        config = app.config
        url = config.get("CACHE_REDIS_URL") if config["CACHE_TYPE"] == "RedisCache" else None
        copy = app.extensions["storefront.plan_copy"] = PlanCopy(
            config["PRICING_CACHE_SECONDS"], url, PLANS_CHANGED_CHANNEL)
    return copy


def plan_listing() -> PlanListing:
    """Active plans by display order, then name, with their version: this worker's copy, else
    the shared cache (1 hour by default), else the database. Every copy drops the moment a
    transaction that changed a plan commits (or, in other workers, when Redis tells them)."""
    copy = plan_copy(current_app)
    listing = copy.get()
    if listing is None:
        generation = copy.generation
        listing = _shared_listing()
        copy.keep(listing, generation)
    return listing


def _shared_listing() -> PlanListing:
    # The shared copy carries the plan generation it was read under: one written back by a
    # worker that read the plans just before a change committed is older than the current
    # generation, and is read again rather than served.
    generation, cached = cache.get_many(PLANS_GENERATION_KEY, ACTIVE_PLANS_CACHE_KEY)
    if isinstance(cached, tuple) and cached[0] == generation:
        return cached[1]
    rows = db.session.scalars(
        select(PricingPlan)
        .options(selectinload(PricingPlan.prices))
        .where(PricingPlan.is_active.is_(True))
        .order_by(PricingPlan.display_order, PricingPlan.name)
    )
    listing = PlanListing.of(tuple(PlanSummary.of(row) for row in rows))
    cache.set(ACTIVE_PLANS_CACHE_KEY, (generation, listing),
              timeout=current_app.config["PRICING_CACHE_SECONDS"])
    return listing


def active_plans() -> list[PlanSummary]:
    """Active plans by display order, then name; cached (1 hour by default)."""
    return list(plan_listing().plans)


def plan_summary(plan_id: int) -> PlanSummary | None:
    """One plan, active or not, as plain data."""
    plan = db.session.get(PricingPlan, plan_id)
    return PlanSummary.of(plan) if plan else None


# name, type, minutes, price (minor units, EUR), validity days, featured — API.md's table.
DEFAULT_PLANS: list[tuple[str, str, int, int, int | None, bool, str]] = [
    ("Basic Package", "package", 300, 7500, 30, False,
     "Five hours to get started: a few sessions to work through a topic."),
    ("Standard Package", "package", 600, 14000, 45, True,
     "Ten hours for steady weekly sessions over a month and a half."),
    ("Premium Package", "package", 1200, 26000, 60, False,
     "Twenty hours for a whole course, at a lower price per hour."),
    ("Intensive Package", "package", 2400, 48000, 90, False,
     "Forty hours for exam preparation or an intensive term."),
    ("Monthly Unlimited", "subscription", 1800, 19900, None, True,
     "Thirty hours every month, renewed automatically."),
    ("Student Subscription", "subscription", 900, 11900, None, False,
     "Fifteen hours every month at a student price."),
    ("Family Subscription", "subscription", 3000, 29900, None, False,
     "Fifty hours every month, shared by the whole family."),
]


def seed_default_plans() -> list[str]:
    """Create the default plans whose names are missing; return the names created."""
    existing = set(db.session.scalars(select(PricingPlan.name)))
    created = []
    for order, (name, plan_type, minutes, price, validity, featured, description) in enumerate(
        DEFAULT_PLANS, start=1
    ):
        if name in existing:
            continue
        db.session.add(
            PricingPlan(
                name=name, description=description, plan_type=plan_type,
                minutes_included=minutes, price_minor=price, currency="eur",
                validity_days=validity, display_order=order, is_featured=featured,
                is_active=True,
            )
        )
        created.append(name)
    db.session.flush()
    return created


def _plans_touched(session: Session) -> bool:
    return any(
        isinstance(obj, PricingPlan | PlanPrice)
        for obj in (*session.new, *session.dirty, *session.deleted)
    )


def watch_plan_changes() -> None:
    """Drop the cached plan list whenever a transaction that changed a plan or one of its
    prices commits; keep each plan's euro row in step with the plan."""
    watch_euro_prices()
    if event.contains(Session, "before_flush", _mark_plan_change):
        return
    event.listen(Session, "before_flush", _mark_plan_change)
    event.listen(Session, "after_commit", _invalidate_after_commit)
    event.listen(Session, "after_soft_rollback", _forget_mark)


def _mark_plan_change(session: Session, flush_context, instances) -> None:
    if _plans_touched(session):
        session.info["plans_changed"] = True


def _invalidate_after_commit(session: Session) -> None:
    if session.info.pop("plans_changed", False) and has_app_context():
        cache.cache.inc(PLANS_GENERATION_KEY)
        cache.delete(ACTIVE_PLANS_CACHE_KEY)
        plan_copy(current_app).publish()


def _forget_mark(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop("plans_changed", None)


@dataclass(frozen=True)
class PlanChanges:
    """A plan as staff typed it, already parsed into exact units."""

    name: str
    description: str
    plan_type: str
    minutes_included: int
    price_minor: int
    validity_days: int | None
    display_order: int
    is_featured: bool
    is_active: bool
    rollover_unused: bool = False
    # Prices in the other currencies (minor units; None: no price in it); None: unchanged.
    extra_prices: dict[str, int | None] | None = None


def save_plan(plan: PricingPlan | None, changes: PlanChanges) -> PricingPlan:
    """Create or edit a plan under the plan rules of API.md; the plan cache drops at commit."""
    errors: dict[str, list[str]] = {}
    if not changes.name.strip():
        errors["name"] = ["Give the plan a name."]
    clash = db.session.scalars(select(PricingPlan).where(
        PricingPlan.name == changes.name.strip())).first()
    if clash is not None and clash is not plan:
        errors["name"] = ["Another plan has this name."]
    if changes.plan_type not in (PlanType.PACKAGE.value, PlanType.SUBSCRIPTION.value):
        errors["plan_type"] = ["Choose package or subscription."]
    if changes.minutes_included <= 0:
        errors["hours_included"] = ["Hours must be more than 0."]
    if not MIN_PRICE_MINOR <= changes.price_minor <= MAX_PRICE_MINOR:
        errors["price"] = ["The price must be from 0.50 to 10000.00."]
    if changes.plan_type == PlanType.PACKAGE.value and not (changes.validity_days or 0) >= 1:
        errors["validity_days"] = ["A package needs a validity of at least 1 day."]
    elif changes.plan_type == PlanType.PACKAGE.value and \
            changes.validity_days > MAX_VALIDITY_DAYS:
        errors["validity_days"] = [VALIDITY_RULE]
    if changes.plan_type == PlanType.SUBSCRIPTION.value and changes.validity_days:
        errors["validity_days"] = ["A subscription has no validity in days."]
    if changes.plan_type == PlanType.PACKAGE.value and changes.rollover_unused:
        errors["rollover_unused"] = ["Only a subscription carries unused hours into the next "
                                     "month."]
    if errors:
        raise ValidationError.for_fields(errors)
    if plan is None:
        plan = PricingPlan(currency="eur")
        db.session.add(plan)
    plan.name = changes.name.strip()
    plan.description = changes.description.strip()
    plan.plan_type = changes.plan_type
    plan.minutes_included = changes.minutes_included
    plan.price_minor = changes.price_minor
    plan.validity_days = changes.validity_days if changes.plan_type == "package" else None
    plan.display_order = changes.display_order
    plan.is_featured = changes.is_featured
    plan.is_active = changes.is_active
    plan.rollover_unused = changes.rollover_unused
    if changes.extra_prices is not None:
        set_extra_prices(plan, changes.extra_prices)
    db.session.flush()
    return plan


def all_plans() -> list[PricingPlan]:
    """Every plan, active or not, in display order."""
    return list(db.session.scalars(
        select(PricingPlan).order_by(PricingPlan.display_order, PricingPlan.name)))
