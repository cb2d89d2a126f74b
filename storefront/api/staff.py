"""Staff JSON endpoints: expiry, extensions, recording and cancelling sessions."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request

from storefront import ledger
from storefront.account.students import find_by_email
from storefront.api.views import api_blueprint
from storefront.errors import NotFound, StorefrontError, ValidationError
from storefront.extensions import db
from storefront.formatting import hours_text, iso_utc
from storefront.models import LedgerEntry, User
from storefront.models.base import utcnow
from storefront.purchases import refunds
from storefront.purchases.refunds import purchase_by_id
from storefront.staff.access import only_staff
from storefront.staff.forms import MAX_EXTENSION_DAYS, MAX_GRACE_HOURS, MAX_SESSION_HOURS
from storefront.staff.queries import lots_past_expiry
from storefront.validation import FieldError, clean_email, parse_int

ADMIN = "/admin"
bp = api_blueprint("api_staff", __name__)
bp.before_request(only_staff)
MAX_SESSION_MINUTES = MAX_SESSION_HOURS * 60


def _body(*, optional: bool = False) -> dict:
    body = request.get_json(silent=True)
    if body is None and optional:
        return {}
    if not isinstance(body, dict):
        raise ValidationError.for_fields({"non_field_errors": ["Send a JSON object."]})
    return body


def _student_by_email(value) -> User:
    try:
        student = find_by_email(clean_email(value))
    except FieldError as error:
        raise ValidationError.for_fields({"email": [str(error)]}) from None
    if student is None:
        raise NotFound("No student with that email.")
    return student


def _entry(entry: LedgerEntry) -> dict:
    return {"id": entry.id, "kind": entry.kind, "minutes": entry.minutes,
            "hours": hours_text(entry.minutes), "lot_id": entry.lot_id,
            "reference": entry.reference, "created_at": iso_utc(entry.created_at)}


def _error(error: StorefrontError, **extra):
    db.session.rollback()
    return jsonify({**error.to_json(), **extra}), error.status


def _grace(value) -> int:
    return parse_int(value, field="grace_hours", minimum=0, maximum=MAX_GRACE_HOURS, default=24)


def _expired_packages(grace_hours: int) -> list[dict]:
    return [{
        "transaction_id": purchase.id, "student_email": student.email,
        "plan_name": purchase.plan_name, "hours_remaining": hours_text(lot.minutes_remaining),
        "expires_at": iso_utc(lot.expires_at),
    } for lot, purchase, student in lots_past_expiry(utcnow(), timedelta(hours=grace_hours))]


@bp.get(f"{ADMIN}/expired-packages/")
def expired_packages():
    """Packages past expiry (plus grace) that still hold hours."""
    try:
        grace_hours = _grace(request.args.get("grace_hours"))
    except StorefrontError as error:
        return _error(error)
    packages = _expired_packages(grace_hours)
    return jsonify({"count": len(packages), "grace_hours": grace_hours, "results": packages})


@bp.post(f"{ADMIN}/process-expired-packages/")
def process_expired_packages():
    """Expire them (idempotent); dry_run only lists."""
    try:
        body = _body()
        grace_hours = _grace(body.get("grace_hours"))
    except StorefrontError as error:
        return _error(error)
    dry_run = body.get("dry_run") is True
    expired = ledger.expire_lots(now=utcnow(), grace=timedelta(hours=grace_hours),
                                 dry_run=dry_run)
    db.session.commit()  # a dry run wrote nothing
    return jsonify({
        "dry_run": dry_run, "grace_hours": grace_hours, "processed": len(expired),
        "hours_expired": hours_text(sum(item.minutes for item in expired)),
        "lots": [{"lot_id": i.lot_id, "student_id": i.student_id,
                  "hours": hours_text(i.minutes)} for i in expired],
    })


@bp.post(f"{ADMIN}/packages/<id:purchase_id>/extend/")
def extend_package(purchase_id: int):
    """Move a package's expiry later, with a reason kept in the ledger."""
    try:
        body = _body()
        days = parse_int(body.get("extension_days"), field="extension_days", minimum=1,
                         maximum=MAX_EXTENSION_DAYS)
        reason = body.get("reason")
        purchase = purchase_by_id(purchase_id)
        entry = refunds.extend_package(purchase=purchase, days=days,
                                       reason=reason if isinstance(reason, str) else "",
                                       now=utcnow(), request_key=body.get("request_id"))
        db.session.commit()
    except StorefrontError as error:
        return _error(error)
    return jsonify({"success": True, "transaction_id": purchase.id,
                    "expires_at": iso_utc(purchase.expires_at), "entry": _entry(entry)})


@bp.post(f"{ADMIN}/consume/")
def consume():
    """Record a session: 201 with the entries; 200 with the original ones on a repeat."""
    try:
        body = _body()
        student = _student_by_email(body.get("email"))
        minutes = parse_int(body.get("minutes"), field="minutes", minimum=1,
                            maximum=MAX_SESSION_MINUTES)
        session_ref = body.get("session_ref")
        if not isinstance(session_ref, str) or not 1 <= len(session_ref.strip()) <= 200:
            raise ValidationError.for_fields({"session_ref": ["This field is required."]})
        result = ledger.consume_minutes(student_id=student.id, minutes=minutes,
                                        session_ref=session_ref.strip(), now=utcnow())
        db.session.commit()
    except ledger.InsufficientBalance as error:
        return _error(error, missing_minutes=error.missing,
                      missing_hours=hours_text(error.missing))
    except StorefrontError as error:
        return _error(error)
    return jsonify({"success": True, "session_ref": session_ref.strip(),
                    "minutes": minutes, "repeated": result.repeated,
                    "entries": [_entry(e) for e in result.entries]}), (
        200 if result.repeated else 201)


def _session_owner(session_ref: str, body: dict) -> int:
    if body.get("email") is not None:
        return _student_by_email(body.get("email")).id
    owners = ledger.session_owners(session_ref)
    if not owners:
        raise NotFound(f"No session {session_ref!r} was recorded.")
    if len(owners) > 1:
        raise ValidationError.for_fields({"email": [
            "Several students have a session with this reference; give the email."]})
    return owners.pop()


@bp.post(f"{ADMIN}/consume/<path:session_ref>/cancel/")
def cancel_consume(session_ref: str):
    """Cancel a recorded session: its minutes return to unexpired lots. Session references
    are per student: {"email": …} names the student when several used the same one."""
    try:
        student_id = _session_owner(session_ref, _body(optional=True))
        reversals = ledger.cancel_consumption(student_id=student_id, session_ref=session_ref,
                                              now=utcnow())
        db.session.commit()
    except StorefrontError as error:
        return _error(error)
    return jsonify({"success": True, "session_ref": session_ref,
                    "minutes_returned": sum(r.minutes for r in reversals),
                    "entries": [_entry(r) for r in reversals]})
