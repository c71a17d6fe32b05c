"""schemathesis against the served OpenAPI document, once per role: no server errors, every
response conforms to the document (status, content type, schema), malformed input is refused
with a 4xx problem, and authentication is never ignored."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as oas_checks
from schemathesis import checks as core_checks

from .test_admin_support import ThreadedAdmin

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")]

ROLES = ("viewer", "operator", "manager", "admin", "custom")


@pytest.fixture(scope="module")
def threaded_admin(settings):
    server = ThreadedAdmin(settings)
    run = uuid.uuid4().hex[:8]
    brand = f"schema-{run}"
    server.tokens = {
        "viewer": server.token("viewer", [brand]),
        "operator": server.token("operator", [brand]),
        "manager": server.token("manager", [brand]),
        "admin": server.token("admin", [], all_brands=True),
        "custom": server.token("custom", [brand], permissions=["dashboard:read", "drop:control", "audit:read"]),
    }
    yield server
    server.close()
    # the all-brands Admin's examples may set operator-wide budget limits: leave none for other tests
    import asyncio

    import asyncpg

    async def clear() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute("DELETE FROM budget_constraints")
        finally:
            await conn.close()

    asyncio.run(clear())


CHECKS = [
    core_checks.not_a_server_error,
    oas_checks.status_code_conformance,
    oas_checks.content_type_conformance,
    oas_checks.response_schema_conformance,
    oas_checks.response_headers_conformance,
    oas_checks.negative_data_rejection,
    oas_checks.ignored_auth,
]
EXAMPLES = 8


def run_schema(server: ThreadedAdmin, role: str) -> list[str]:
    """Every operation, positive and negative examples; returns the failures (operation: error)."""
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {server.tokens[role]}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            # Negative examples leave the query string alone: every query value is a string on the
            # wire, so "a boolean where a string is expected" cannot be told from a valid string.
            fixed = {"query": {}} if mode == GenerationMode.NEGATIVE else {}

            @given(case=operation.as_strategy(generation_mode=mode, **fixed))
            @hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                       derandomize=True, database=None, phases=[Phase.explicit, Phase.generate])
            def check(case) -> None:
                # wait_s may ask the server to wait up to 30 s for an engine receipt
                case.call_and_validate(base_url=server.url, checks=CHECKS, headers=headers, timeout=45)

            try:
                check()
            except Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body): no negative examples exist
            except Exception as exc:  # a failure of one operation must not hide the others
                inner = getattr(exc, "exceptions", ())
                detail = str(exc) + "".join(f"\n  - {type(e).__name__}: {e}" for e in inner)
                failures.append(f"{operation.label} [{mode.value}]: {detail[:3000]}")
    return failures


@pytest.mark.parametrize("role", ROLES)
def test_api_conforms_to_its_document(threaded_admin, role):
    failures = run_schema(threaded_admin, role)
    assert not failures, "\n\n".join(failures)
