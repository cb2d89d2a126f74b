"""Password hashing: cheap argon2 parameters under test, the strong ones everywhere else."""

from __future__ import annotations

from storefront.account.passwords import hash_password, needs_rehash, verify_password
from tests.conftest import PASSWORD
from tests.test_config import PRODUCTION

STRONG = "$argon2id$v=19$m=19456,t=2,p=1$"


def test_the_test_suite_hashes_cheaply_and_the_hashes_verify(app):
    with app.app_context():
        cheap = hash_password(PASSWORD)
        assert cheap.startswith("$argon2id$") and not cheap.startswith(STRONG)
        assert verify_password(cheap, PASSWORD) and not verify_password(cheap, "other-one-1")


def test_a_cheap_hash_verifies_in_production_and_is_upgraded(app):
    from storefront import create_app

    with app.app_context():
        cheap = hash_password(PASSWORD)
    with create_app(PRODUCTION).app_context():
        assert verify_password(cheap, PASSWORD)
        assert needs_rehash(cheap)
        assert hash_password(PASSWORD).startswith(STRONG)
