"""Signed, expiring, single-use links sent by email (claim, reset).

A link carries the user's id and a digest of the user's link secret, a random value kept
only in the database. Setting a password rotates the secret, so a link works once, and the
signing key alone (without the database) cannot forge a link.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

DAY = 24 * 3600
MAX_AGE = {"claim": 7 * DAY, "reset": 2 * 3600}


class InvalidToken(Exception):
    """The link is malformed, forged, expired or already used."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"], purpose)


@functools.lru_cache(maxsize=16)
def _serializer_for(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    # Built once per key and purpose rather than for every link.
    return URLSafeTimedSerializer(secret_key, salt=f"account-{purpose}")


def link_digest(purpose: str, link_secret: str) -> str:
    """What a link of this purpose carries in place of the user's link secret."""
    return hmac.new(link_secret.encode(), f"account-{purpose}".encode(),
                    hashlib.sha256).hexdigest()


def digest_matches(purpose: str, link_secret: str, digest: object) -> bool:
    """Whether a link's digest was made from this link secret (compared in constant time)."""
    return isinstance(digest, str) and hmac.compare_digest(
        link_digest(purpose, link_secret), digest)


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    """A signed token of this purpose carrying the payload."""
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str) -> dict[str, Any]:
    """The payload of a valid token of this purpose; InvalidToken otherwise."""
    try:
        payload = _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired:
        raise InvalidToken("This link has expired.") from None
    except BadSignature:
        raise InvalidToken("This link is not valid.") from None
    if not isinstance(payload, dict):
        raise InvalidToken("This link is not valid.")
    return payload
