"""Fuzzing the JSON API against its OpenAPI document (schemathesis driving Hypothesis).

Every documented operation, as an anonymous caller, a logged-in student and a staff member
(session cookie and CSRF header), gets schema-valid and schema-breaking input over HTTP:
no answer may be a 5xx, and every answer must be one the document describes (status code,
content type and body). FUZZ_EXAMPLES sets the examples per operation and mode.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import PASSWORD

SCHEMA_PATH = "/api/finances/api/schema/"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Cases run per (role, operation), for the summary line at the end of the run.
CASES: Counter[tuple[str, str]] = Counter()
STATUSES: defaultdict[tuple[str, str], Counter[int]] = defaultdict(Counter)
# Requests that succeed for the right caller, so that the success answers are checked too
# (random input rarely names a real plan, student or session). The student "sam" owns
# purchase 1 and its lesson-1 session.
KNOWN_GOOD = {
    "POST /api/finances/api/purchase/initiate/": {"body": {
        "plan_id": 1, "student_info": {"name": "Ana Silva", "email": "ana@example.com"}}},
    "GET /api/finances/api/student-balance/": {"query": {"email": "sam@example.com"}},
    "GET /api/finances/api/student-balance/purchases/": {"query": {
        "email": "sam@example.com", "include_consumption": "true"}},
    "GET /api/finances/api/student-balance/check-booking/": {"query": {
        "duration_hours": "1.5"}},
    "POST /api/finances/api/admin/consume/": {"body": {
        "email": "sam@example.com", "minutes": 30, "session_ref": "lesson-1"}},
    "POST /api/finances/api/admin/packages/{purchase_id}/extend/": {
        "path_parameters": {"purchase_id": 1},
        "body": {"extension_days": 5, "reason": "Fuzzing"}},
    "POST /api/finances/api/admin/consume/{session_ref}/cancel/": {
        "path_parameters": {"session_ref": "lesson-1"}, "body": {"email": "sam@example.com"}},
}


def _logged_in(base_url: str, email: str) -> tuple[requests.Session, dict[str, str]]:
    """A browser-like session logged in through the login page; its CSRF header."""
    session = requests.Session()
    page = session.get(f"{base_url}/account/login", timeout=30).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = session.post(f"{base_url}/account/login", timeout=30, allow_redirects=False,
                            data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    page = session.get(f"{base_url}/account", timeout=30).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return session, {"X-CSRFToken": token}


@pytest.fixture
def caller(request, live_server, make_user, buy):
    """(session, headers) of the role under test; the student has a paid package."""
    buy("Basic Package", email="sam@example.com")
    role = request.param
    if role == "anonymous":
        return requests.Session(), {}
    if role == "staff":
        make_user("staff@example.com", "Stella Staff", staff=True)
        return _logged_in(live_server.url, "staff@example.com")
    make_user("kim@example.com", "Kim Student")
    return _logged_in(live_server.url, "kim@example.com")


@pytest.mark.parametrize("caller", ["anonymous", "student", "staff"], indirect=True)
def test_no_input_gets_an_answer_outside_the_contract(request, live_server, caller):
    session, headers = caller
    role = request.node.callspec.params["caller"]
    schema = schemathesis.openapi.from_url(live_server.url + SCHEMA_PATH)
    operations = [result.ok() for result in schema.get_all_operations()]
    document = session.get(live_server.url + SCHEMA_PATH, timeout=30).json()
    documented = {f"{method.upper()} {path}" for path, item in document["paths"].items()
                  for method in item}
    # schemathesis leaves out the document's own URL; everything else is fuzzed.
    assert {o.label for o in operations} == documented - {f"GET {SCHEMA_PATH}"}
    for operation in operations:
        if operation.label in KNOWN_GOOD:
            case = operation.Case(**KNOWN_GOOD[operation.label])
            response = case.call_and_validate(base_url=live_server.url, session=session,
                                              headers=headers, checks=CHECKS, timeout=30)
            CASES[(role, operation.label)] += 1
            STATUSES[(role, operation.label)][response.status_code] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, live_server.url, session, headers, role)


def _fuzz(operation, mode, base_url, session, headers, role) -> None:
    """Run one operation's generated cases of one mode; fail on the first bad answer."""
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case):
        CASES[(role, operation.label)] += 1
        response = case.call_and_validate(base_url=base_url, session=session,
                                          headers=headers, checks=CHECKS, timeout=30)
        STATUSES[(role, operation.label)][response.status_code] += 1

    try:
        call()
    except Unsatisfiable:
        # Nothing the document describes can be broken (no parameters, or only free text).
        assert mode is GenerationMode.NEGATIVE, operation.label
