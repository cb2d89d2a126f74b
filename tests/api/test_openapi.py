"""The OpenAPI document: served at /api/finances/api/schema/, and in step with the URL map
(every API route is documented, every documented operation exists)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from storefront.api.views import PREFIX

SCHEMA_URL = "/api/finances/api/schema/"
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


def _routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every rule of the app under the API prefix."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(path, method.lower()) for method in rule.methods - IMPLICIT_METHODS}
    return found


def _documented(document: dict) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {(path, method) for path, item in document["paths"].items()
            for method in item if method in methods}


def test_the_schema_is_served_as_openapi_3_1(client):
    response = client.get(SCHEMA_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"]


def test_every_api_route_is_documented_and_nothing_else(app, client):
    document = client.get(SCHEMA_URL).get_json()
    routes, documented = _routes(app), _documented(document)
    assert routes - documented == set(), "API routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations the app does not serve"
    assert (SCHEMA_URL, "get") in routes


def test_every_operation_documents_its_success_and_errors(client):
    document = client.get(SCHEMA_URL).get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert any(s.startswith("2") for s in statuses), (method, path)
            assert {"413", "500"} <= statuses, (method, path)
            if method == "post":
                assert {"403", "415"} <= statuses, (method, path)


def test_the_schema_is_package_data():
    """An installed app (not a checkout) finds the document: setup.cfg ships it."""
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[2] / "setup.cfg")
    assert "openapi.json" in setup["options.package_data"].get("storefront.api", "")
