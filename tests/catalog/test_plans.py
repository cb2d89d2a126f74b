"""The plans page, the pricing-plans API and seeding."""

from __future__ import annotations

import re

from storefront.extensions import db
from storefront.models import PricingPlan

PLANS_URL = "/api/finances/api/pricing-plans/"


def test_api_lists_default_plans_in_order_with_contract_fields(client, seeded):
    response = client.get(PLANS_URL)
    assert response.status_code == 200
    plans = response.get_json()
    assert [p["name"] for p in plans] == [
        "Basic Package", "Standard Package", "Premium Package", "Intensive Package",
        "Monthly Unlimited", "Student Subscription", "Family Subscription",
    ]
    basic = plans[0]
    assert basic == {
        "id": seeded["Basic Package"], "name": "Basic Package",
        "description": basic["description"], "plan_type": "package",
        "plan_type_display": "Package", "hours_included": "5.00", "price_eur": "75.00",
        "validity_days": 30, "display_order": 1, "is_featured": False,
        "price_per_hour": "15.00", "prices": {"eur": "75.00"},
    }
    monthly = plans[4]
    assert (monthly["plan_type"], monthly["plan_type_display"], monthly["validity_days"],
            monthly["is_featured"], monthly["price_per_hour"]) == (
        "subscription", "Subscription", None, True, "6.63")


def test_price_per_hour_rounds_half_up_to_cents(app, client, seeded):
    with app.app_context():
        plan = db.session.get(PricingPlan, seeded["Basic Package"])
        plan.price_minor, plan.minutes_included = 1001, 120  # 5.005 per hour
        db.session.commit()
    basic = client.get(PLANS_URL).get_json()[0]
    assert (basic["price_eur"], basic["hours_included"], basic["price_per_hour"]) == (
        "10.01", "2.00", "5.01")


def test_plan_change_invalidates_the_cache_at_once(app, client, seeded):
    assert len(client.get(PLANS_URL).get_json()) == 7  # now cached
    with app.app_context():
        db.session.get(PricingPlan, seeded["Premium Package"]).is_active = False
        db.session.get(PricingPlan, seeded["Basic Package"]).price_minor = 8000
        db.session.commit()
    plans = client.get(PLANS_URL).get_json()
    assert "Premium Package" not in [p["name"] for p in plans]
    assert plans[0]["price_eur"] == "80.00"


def test_plans_page_groups_packages_and_subscriptions(client, seeded):
    html = client.get("/").get_data(as_text=True)
    packages, subscriptions = html.split('id="subscriptions-heading"')
    assert "Basic Package" in packages and "Monthly Unlimited" not in packages
    assert "Monthly Unlimited" in subscriptions and "Basic Package" not in subscriptions
    assert "€75.00" in packages and "€15.00" in packages and "valid 30 days" in packages
    assert "5 hours" in packages
    assert "monthly" in subscriptions
    # Two featured plans carry the mark: Standard Package and Monthly Unlimited.
    assert html.count("Most popular") == 2
    # Packages can be bought; subscriptions have no Buy button yet.
    assert f'href="/checkout/{seeded["Basic Package"]}"' in packages
    assert re.search(r">\s*Buy\s*<", subscriptions) is None


def test_page_has_no_inline_script(client, seeded):
    """The page posts nothing, so it carries no CSRF token (test_plans_caching.py)."""
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_seed_plans_is_idempotent(runner, app, seeded):
    result = runner.invoke(args=["seed-plans"])
    assert result.exit_code == 0 and "already exist" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(PricingPlan)) == 7
        db.session.delete(db.session.scalars(
            db.select(PricingPlan).where(PricingPlan.name == "Family Subscription")).one())
        db.session.commit()
    result = runner.invoke(args=["seed-plans"])
    assert "Created 1 plan(s): Family Subscription" in result.output


def test_database_enforces_plan_rules(app, seeded):
    import pytest
    from sqlalchemy.exc import IntegrityError

    bad_plans = [
        dict(plan_type="package", minutes_included=0, price_minor=1000, validity_days=10),
        dict(plan_type="package", minutes_included=60, price_minor=49, validity_days=10),
        dict(plan_type="package", minutes_included=60, price_minor=1_000_001, validity_days=10),
        dict(plan_type="package", minutes_included=60, price_minor=1000, validity_days=None),
        dict(plan_type="subscription", minutes_included=60, price_minor=1000, validity_days=30),
    ]
    with app.app_context():
        for index, values in enumerate(bad_plans):
            db.session.add(PricingPlan(name=f"Bad {index}", currency="eur", **values))
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()


def test_a_package_is_valid_for_at_most_ten_years(app, seeded):
    """The service names the field; the database refuses what gets past it."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from storefront.catalog.services import PlanChanges, save_plan
    from storefront.errors import ValidationError

    changes = PlanChanges(name="Forever", description="", plan_type="package",
                          minutes_included=300, price_minor=7500, validity_days=3651,
                          display_order=9, is_featured=False, is_active=True)
    with app.app_context():
        with pytest.raises(ValidationError) as refused:
            save_plan(None, changes)
        assert refused.value.field_errors == {
            "validity_days": ["A package is valid from 1 to 3650 days."]}
        db.session.rollback()
        assert save_plan(None, PlanChanges(**{**changes.__dict__, "validity_days": 3650}))
        db.session.rollback()
        db.session.add(PricingPlan(name="Forever", description="", plan_type="package",
                                   minutes_included=300, price_minor=7500, currency="eur",
                                   validity_days=3651))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
