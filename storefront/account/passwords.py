"""Password hashing (argon2id, OWASP parameters) and the rules a new password must meet."""

from __future__ import annotations

import gzip
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from storefront.validation import FieldError

MIN_LENGTH = 8
MAX_LENGTH = 128

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# The test suite's setting (PASSWORD_HASH_COST = "cheap"): the same algorithm at a fraction of
# the cost. Its hashes verify everywhere and are upgraded at the next login in production.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
HASHERS = {"strong": HASHER, "cheap": CHEAP_HASHER}


def _hasher() -> PasswordHasher:
    return HASHERS[current_app.config.get("PASSWORD_HASH_COST", "strong")]


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when no account matches, so unknown emails take as long as wrong
    passwords."""
    return hasher.hash("storefront-timing-equaliser")


@cache
def common_passwords() -> frozenset[str]:
    """The 19,000+ most common passwords (Django's list, BSD-licensed), lower-cased."""
    data = files("storefront.account").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def check_new_password(password: object) -> str:
    """The password if it may be used; else FieldError. Length only, no composition rules."""
    if not isinstance(password, str) or not password:
        raise FieldError("This field is required.")
    if len(password) < MIN_LENGTH:
        raise FieldError(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise FieldError(f"Use at most {MAX_LENGTH} characters.")
    if password.strip().lower() in common_passwords():
        raise FieldError("This password is too common. Choose one that is harder to guess.")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of the password, with this app's parameters."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; takes the same time when there is no hash to check."""
    hasher = _hasher()
    try:
        return (hasher.verify(password_hash or _dummy_hash(hasher), password)
                and password_hash is not None)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    return _hasher().check_needs_rehash(password_hash)
