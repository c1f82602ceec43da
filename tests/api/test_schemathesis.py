"""Schemathesis against /api/openapi.json of the running server, with a valid write token:
generated requests (valid and invalid: any path parameter, query, header or body the
schema allows or breaks) never get a 5xx, and every answer matches the schema (its
status is documented, its body and headers conform). Bounded: a few examples per
operation, well under a minute on each backend."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from tests.api.conftest import PROJECT, item
from tests.factories import chat, seed_item

CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
]
EXAMPLES = 12  # per operation, fixed parameters and generation mode


@pytest.fixture
def served(open_world):
    # A limit the generated traffic never reaches: 429 is tested elsewhere.
    with open_world(quorum_api_rate=100_000, quorum_api_burst=100_000) as world:
        seed_item(
            world.sandbox.ctx.engine,
            world.sandbox.clock,
            PROJECT,
            external_id="t-signed",
            content=chat("signed off"),
            answers=[("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "other")],
        )
        yield world


def _fixed(operation: Any) -> list[dict[str, Any]]:
    """Runs of one operation: everything generated, then the real project (so requests
    get past the 404 of an unknown project), then a real item or a valid body."""
    runs: list[dict[str, Any]] = [{}]
    if "{project}" in operation.path:
        runs.append({"path_parameters": {"project": PROJECT}})
    if "{id}" in operation.path:
        runs.append({"path_parameters": {"project": PROJECT, "id": "t-signed"}})
    if operation.method.upper() == "POST":
        body = {"items": [item(1), item(2, text="another")]}
        runs.append({"path_parameters": {"project": PROJECT}, "body": body})
    return runs


def _explore(operation: Any, mode: Any, fixed: dict[str, Any], token: str) -> tuple[int, list[str]]:
    """Generated requests to one operation: (how many were sent, the failures)."""
    failures: list[str] = []
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseException as exc:  # schemathesis' FailureGroup: collected, reported below
            failures.append(
                f"{operation.label} {mode.value} {json.dumps(fixed)[:80]}: "
                f"{response.status_code} {str(exc)[:600]}"
            )

    call()
    return sent, failures


def test_no_input_gets_a_server_error_or_an_answer_outside_the_schema(served):
    token = served.token("write")
    schema = schemathesis.openapi.from_url(f"{served.server.url}/api/openapi.json")
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for fixed in _fixed(operation):
            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            ):
                calls, found = _explore(operation, mode, fixed, token)
                sent += calls
                failures += found
    assert sent > 200
    assert failures == [], "\n\n".join(failures[:5])
