"""Data the figures need, written straight into PostgreSQL with set-based SQL: students who
can log in, pending purchases for webhook rounds, and a ledger of about a million entries."""

from __future__ import annotations

import re

import psycopg
import requests

from storefront.account.passwords import HASHERS

BENCH_PASSWORD = "bench-password-not-secret-7431"  # noqa: S105 (a throwaway database's user)



def plain_url(database_url: str) -> str:
    """The libpq form of a SQLAlchemy URL."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def connect(database_url: str) -> psycopg.Connection:
    """A psycopg connection to the bench database."""
    return psycopg.connect(plain_url(database_url))


def package_plan(conn: psycopg.Connection) -> tuple[int, int]:
    """The first active package plan: (id, price in minor units)."""
    row = conn.execute("SELECT id, price_minor FROM pricing_plans WHERE plan_type = 'package' "
                       "AND is_active ORDER BY display_order, id LIMIT 1").fetchone()
    return row[0], row[1]


def create_minimal_webhook_table(conn: psycopg.Connection) -> None:
    """The minimal webhook's own table (not part of the product's schema)."""
    conn.execute("CREATE TABLE IF NOT EXISTS bench_events (id text PRIMARY KEY, "
                 "received_at timestamptz NOT NULL DEFAULT now())")
    conn.commit()


def pending_purchases(conn: psycopg.Connection, tag: str, count: int, plan_id: int,
                      ) -> list[tuple[int, str, int, str]]:
    """`count` new guests, each with a pending purchase of the plan and its PaymentIntent id:
    (purchase id, payment intent id, amount, currency)."""
    rows = conn.execute("""
        WITH guests AS (
            INSERT INTO users (email, name, password_hash, is_staff, session_token,
                               link_secret, created_at)
            SELECT 'wh-' || %(tag)s || '-' || g || '@example.com', 'Bench Guest', NULL,
                   false, md5(random()::text), md5(random()::text) || md5(random()::text),
                   now()
            FROM generate_series(1, %(count)s) AS g
            RETURNING id)
        INSERT INTO purchases (student_id, plan_id, plan_name, plan_type, minutes, price_minor,
                              currency, validity_days, status, attempt_key, payment_intent_id,
                              refunded_minor, created_at, updated_at, paid_at, expires_at)
        SELECT guests.id, p.id, p.name, p.plan_type, p.minutes_included, p.price_minor,
               p.currency, p.validity_days, 'pending', 'bench-' || %(tag)s || '-' || guests.id,
               'pi_bench_' || %(tag)s || '_' || guests.id, 0, now(), now(), NULL, NULL
        FROM guests CROSS JOIN pricing_plans AS p WHERE p.id = %(plan)s
        RETURNING id, payment_intent_id, price_minor, currency
        """, {"tag": tag, "count": count, "plan": plan_id}).fetchall()
    conn.commit()
    return [tuple(r) for r in rows]


def credit_check(conn: psycopg.Connection, tag: str) -> tuple[int, int, int]:
    """For one webhook round: (events the server recorded, purchases credited, purchases
    credited more than once or inconsistently)."""
    recorded = conn.execute("SELECT count(*) FROM webhook_events WHERE stripe_event_id LIKE %s",
                            (f"evt_bench_{tag}_%",)).fetchone()[0]
    credited, wrong = conn.execute("""
        SELECT count(*) FILTER (WHERE p.status = 'completed' AND credits.n = 1
                                AND lots.n = 1),
               count(*) FILTER (WHERE credits.n > 1 OR lots.n > 1
                                OR (p.status = 'completed') <> (credits.n = 1))
        FROM purchases AS p
        CROSS JOIN LATERAL (SELECT count(*) AS n FROM ledger_entries AS e
                            WHERE e.idempotency_key = 'purchase_credit:' || p.payment_intent_id
                           ) AS credits
        CROSS JOIN LATERAL (SELECT count(*) AS n FROM lots WHERE lots.purchase_id = p.id) AS lots
        WHERE p.attempt_key LIKE %s
        """, (f"bench-{tag}-%",)).fetchone()
    return recorded, credited, wrong


def create_student(conn: psycopg.Connection, email: str, name: str) -> int:
    """A student with a password (hashed as the site hashes it), who can log in."""
    password_hash = HASHERS["strong"].hash(BENCH_PASSWORD)
    row = conn.execute(
        "INSERT INTO users (email, name, password_hash, is_staff, session_token, link_secret, "
        "created_at) VALUES (%s, %s, %s, false, md5(random()::text), "
        "md5(random()::text) || md5(random()::text), now()) RETURNING id",
        (email, name, password_hash)).fetchone()
    return row[0]


def _seed_ledger(conn: psycopg.Connection, email_like: str, lots: int, entries_per_lot: int,
                 plan_id: int) -> None:
    """For every student whose email matches: `lots` paid purchases, each with a lot, its
    credit and entries_per_lot - 1 one-minute sessions; lots, balances and entries agree."""
    conn.execute("""
        INSERT INTO purchases (student_id, plan_id, plan_name, plan_type, minutes, price_minor,
                              currency, validity_days, status, attempt_key, payment_intent_id,
                              refunded_minor, created_at, updated_at, paid_at, expires_at)
        SELECT u.id, p.id, p.name, p.plan_type, %(minutes)s, p.price_minor, p.currency, 365,
               'completed', 'seed-' || u.id || '-' || k, 'pi_seed_' || u.id || '_' || k, 0,
               now() - interval '60 days', now() - interval '60 days',
               now() - interval '60 days' + k * interval '1 second',
               now() + interval '305 days' + k * interval '1 hour'
        FROM users AS u CROSS JOIN generate_series(1, %(lots)s) AS k
        CROSS JOIN pricing_plans AS p
        WHERE u.email LIKE %(like)s AND p.id = %(plan)s
        """, {"minutes": 10 * entries_per_lot, "lots": lots, "like": email_like,
              "plan": plan_id})
    conn.execute("""
        INSERT INTO lots (student_id, purchase_id, minutes_granted, minutes_remaining,
                          minutes_on_hold, expires_at, created_at)
        SELECT p.student_id, p.id, p.minutes, p.minutes - (%(sessions)s), 0, p.expires_at,
               p.paid_at
        FROM purchases AS p JOIN users AS u ON u.id = p.student_id
        WHERE u.email LIKE %(like)s
        """, {"sessions": entries_per_lot - 1, "like": email_like})
    conn.execute("""
        INSERT INTO ledger_entries (student_id, lot_id, kind, minutes, reference, session_ref,
                                    idempotency_key, note, created_at)
        SELECT l.student_id, l.id, 'purchase_credit', l.minutes_granted, p.payment_intent_id,
               NULL, 'purchase_credit:' || p.payment_intent_id,
               p.plan_name || ' (purchase ' || p.id || ')', p.paid_at
        FROM lots AS l JOIN purchases AS p ON p.id = l.purchase_id
        JOIN users AS u ON u.id = l.student_id WHERE u.email LIKE %(like)s
        """, {"like": email_like})
    conn.execute("""
        INSERT INTO ledger_entries (student_id, lot_id, kind, minutes, reference, session_ref,
                                    idempotency_key, note, created_at)
        SELECT l.student_id, l.id, 'consumption', -1, 'session-' || l.id || '-' || s,
               'session-' || l.id || '-' || s,
               'consumption:' || l.student_id || ':session-' || l.id || '-' || s || ':lot:' || l.id,
               NULL, l.created_at + s * interval '1 minute'
        FROM lots AS l JOIN users AS u ON u.id = l.student_id
        CROSS JOIN generate_series(1, %(sessions)s) AS s
        WHERE u.email LIKE %(like)s
        """, {"sessions": entries_per_lot - 1, "like": email_like})
    conn.execute("""
        INSERT INTO balances (student_id, available_minutes, updated_at)
        SELECT l.student_id, sum(l.minutes_remaining), now()
        FROM lots AS l JOIN users AS u ON u.id = l.student_id WHERE u.email LIKE %(like)s
        GROUP BY l.student_id
        """, {"like": email_like})


def seed_ledger_scale(database_url: str, *, big_entries: int, small_entries: int,
                      total_entries: int) -> dict[str, int]:
    """Two students who log in (big: `big_entries` entries, small: `small_entries`, both in
    two lots) among filler students (100 entries each) up to `total_entries`; one transaction."""
    with connect(database_url) as conn:
        plan_id, _ = package_plan(conn)
        create_student(conn, "ledger-big@example.com", "Big Ledger")
        create_student(conn, "ledger-small@example.com", "Small Ledger")
        filler = max(0, -(-(total_entries - big_entries - small_entries) // 100))
        conn.execute(
            "INSERT INTO users (email, name, password_hash, is_staff, session_token, "
            "link_secret, created_at) SELECT 'filler-' || g || '@example.com', 'Filler', NULL, "
            "false, md5(random()::text), md5(random()::text) || md5(random()::text), now() "
            "FROM generate_series(1, %s) AS g", (filler,))
        _seed_ledger(conn, "ledger-big@%", 2, big_entries // 2, plan_id)
        _seed_ledger(conn, "ledger-small@%", 2, small_entries // 2, plan_id)
        _seed_ledger(conn, "filler-%", 1, 100, plan_id)
        conn.commit()
        conn.execute("ANALYZE")
        counts = {"entries": conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]}
        for name in ("big", "small"):
            counts[name] = conn.execute(
                "SELECT count(*) FROM ledger_entries AS e JOIN users AS u "
                "ON u.id = e.student_id WHERE u.email = %s",
                (f"ledger-{name}@example.com",)).fetchone()[0]
    return counts


def login_cookie(base_url: str, email: str) -> str:
    """Log in through the real login form; return the Cookie header value of the session."""
    client = requests.Session()
    page = client.get(f"{base_url}/account/login", timeout=30)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    answer = client.post(f"{base_url}/account/login", allow_redirects=False, timeout=60, data={
        "csrf_token": token.group(1), "email": email, "password": BENCH_PASSWORD, "next": ""},
        # The session cookie is Secure (production): requests would not send it back over
        # plain HTTP on its own, so it goes in by hand.
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())})
    if answer.status_code != 302:
        raise RuntimeError(f"login as {email} failed: {answer.status_code}")
    return "; ".join(f"{k}={v}" for k, v in answer.cookies.items())
