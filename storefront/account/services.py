"""Accounts: registration, login, password links, and what a credited purchase tells its owner.

Nothing here reveals whether an email has an account: registration and reset answer the
same way for every address and say the rest by email.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from storefront import ledger
from storefront.account.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from storefront.account.students import find_by_email
from storefront.account.tokens import (
    InvalidToken,
    digest_matches,
    link_digest,
    make_token,
    read_token,
)
from storefront.extensions import db
from storefront.mail import outbox_row, queue_mail
from storefront.models import OutgoingMail, PendingRegistration, Purchase, User
from storefront.models.base import utcnow
from storefront.web import absolute_url


def password_link(purpose: str, user: User) -> str:
    """A claim or reset link for the user, valid until a password is set (with it or not)."""
    token = make_token(purpose, {"uid": user.id, "ls": link_digest(purpose, user.link_secret)})
    endpoint = "account.claim" if purpose == "claim" else "account.reset_password"
    return absolute_url(endpoint, token=token)


def register(*, name: str, email: str, password: str) -> None:
    """Email a confirmation link (new address), a claim link (guest account) or a reminder
    (existing account). The account exists only once the link is followed."""
    password_hash = hash_password(password)  # always, so every branch takes as long
    user = find_by_email(email)
    if user is None:
        token = secrets.token_urlsafe(32)
        db.session.add(PendingRegistration(token_hash=_digest(token), email=email, name=name,
                                           password_hash=password_hash))
        db.session.flush()
        queue_mail(email, "register_confirm", name=name,
                   link=absolute_url("account.confirm_registration", token=token))
    elif user.is_guest:
        queue_mail(email, "claim", user=user, purchase=None, link=password_link("claim", user))
    else:
        queue_mail(email, "already_registered", user=user,
                   login_link=absolute_url("account.login"),
                   reset_link=absolute_url("account.forgot_password"))


REGISTRATION_LINK_LIFETIME = timedelta(days=2)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def pending_registration(token: str) -> PendingRegistration:
    """The registration a link confirms, if it is unused and younger than its limit."""
    pending = db.session.scalars(
        select(PendingRegistration).where(PendingRegistration.token_hash == _digest(token))
        .with_for_update()).first()
    if pending is None:
        raise InvalidToken("This link is not valid.")
    if pending.used_at is not None:
        raise InvalidToken("This link has already been used. Log in instead.")
    if pending.created_at < utcnow() - REGISTRATION_LINK_LIFETIME:
        raise InvalidToken("This link has expired.")
    return pending


def confirm_registration(token: str) -> User:
    """Create the account a registration link describes (or give a guest account its
    password). A second use of the link fails."""
    pending = pending_registration(token)
    pending.used_at = utcnow()
    user = find_by_email(pending.email)
    if user is None:
        user = User(email=pending.email, name=pending.name, password_hash=pending.password_hash)
        db.session.add(user)
        db.session.flush()
        ledger.open_balance(user)
    elif user.is_guest:
        user.name = pending.name
        user.set_password_hash(pending.password_hash)
    else:
        raise InvalidToken("This account already exists. Log in instead.")
    db.session.flush()
    return user


def user_for_link(purpose: str, token: str) -> User:
    """The user a claim or reset link is for, if the link is still good."""
    payload = read_token(purpose, token)
    user_id = payload.get("uid")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not digest_matches(purpose, user.link_secret, payload.get("ls")):
        raise InvalidToken("This link has already been used or is no longer valid.")
    if purpose == "claim" and not user.is_guest:
        raise InvalidToken("This account already has a password. Log in instead.")
    return user


def set_password_from_link(purpose: str, token: str, password: str) -> User:
    """Set the password a claim or reset link allows; ends the user's other sessions."""
    user = user_for_link(purpose, token)
    user.set_password_hash(hash_password(check_new_password(password)))
    db.session.flush()
    return user


class WrongPassword(Exception):
    """The current password given to confirm an account change is not right."""


def change_password(user: User, *, current_password: str, new_password: str) -> None:
    """Set a new password after checking the current one; ends every session and every
    emailed link of the user (the caller starts a new session for this browser)."""
    if not verify_password(user.password_hash, current_password):
        raise WrongPassword("Your current password is not right.")
    user.set_password_hash(hash_password(check_new_password(new_password)))
    db.session.flush()


def authenticate(email: str, password: str) -> User | None:
    """The user if the password is right; None for a wrong password or an unknown email,
    which take the same time. Upgrades the hash when its parameters are outdated."""
    user = find_by_email(email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.flush()
    return user


def request_password_reset(email: str) -> None:
    """Email a reset link (or a claim link for a guest account); silent for unknown emails."""
    user = find_by_email(email)
    if user is None:
        return
    if user.is_guest:
        queue_mail(email, "claim", user=user, purchase=None, link=password_link("claim", user))
    else:
        queue_mail(email, "reset", user=user, link=password_link("reset", user))


def purchase_credited_mail(purchase: Purchase) -> dict[str, object]:
    """The outbox row telling the student their hours arrived (a guest's also carries the
    link to claim the account), for the caller to write with the credit."""
    student = purchase.student
    if student.is_guest:
        return outbox_row(student.email, "claim", user=student, purchase=purchase,
                          link=password_link("claim", student))
    return outbox_row(student.email, "hours_added", user=student, purchase=purchase,
                      link=absolute_url("account.dashboard"))


def bank_payment_failed(purchase: Purchase) -> None:
    """Tell the student a bank payment failed after clearing for a while, so its pending
    hours were removed."""
    queue_mail(purchase.student.email, "bank_payment_failed", user=purchase.student,
               purchase=purchase, link=absolute_url("catalog.plans"))


def purchase_credited(purchase: Purchase) -> None:
    """Tell the student their hours arrived; a guest also gets the link to claim the account."""
    db.session.add(OutgoingMail(**purchase_credited_mail(purchase)))
