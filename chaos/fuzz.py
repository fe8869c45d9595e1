"""Schemathesis over every documented operation of a real `agentledger serve` process: no
5xx, and every response (status, content type, headers, body) matches the OpenAPI
document. The same checks as tests/test_api_fuzz.py, with many more examples."""

from __future__ import annotations

from typing import Any

from chaos.common import NotRun, Result, own_server
from chaos.http import ADMIN, api_server, tenant_with_keys

NAME = "API fuzzing (schemathesis)"
METHOD = (
    "schemathesis generates requests for every operation of the OpenAPI document (event "
    "streams excluded), sent with a tenant admin key (the platform key for /v1/tenants); "
    "checks: no server error, status, content type, headers and body conform"
)


def run(quick: bool) -> Result:
    if quick:
        raise NotRun(
            "left to the full run: the test suite fuzzes every operation already "
            "(tests/test_api_fuzz.py)"
        )
    try:
        import schemathesis
        from hypothesis import HealthCheck, given, settings
        from schemathesis import checks
        from schemathesis.core.result import Ok
    except ImportError as exc:
        raise NotRun(f"schemathesis is not installed (the [test] extra): {exc}") from exc
    examples = 40
    result = Result(NAME, METHOD)
    failures: list[str] = []
    probes = [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_headers_conformance,
        checks.response_schema_conformance,
    ]
    with own_server(durable=False) as own, api_server(own.settings()) as base:
        key = tenant_with_keys(base)["admin"]
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json").exclude(
            path_regex=r"/stream$"
        )
        operations: list[Any] = []
        for loaded in schema.get_all_operations():
            if isinstance(loaded, Ok):
                operations.append(loaded.ok())
            else:  # an operation the document describes wrongly is a finding too
                failures.append(f"unloadable operation: {loaded.err()}"[:600])
        for operation in operations:
            auth = ADMIN if operation.path.startswith("/v1/tenants") else key

            def fuzz(operation: Any = operation, auth: str = auth) -> None:
                @given(case=operation.as_strategy())
                @settings(
                    max_examples=examples,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    derandomize=True,
                    database=None,
                )
                def one(case: Any) -> None:
                    result.operations += 1
                    headers = {"Authorization": f"Bearer {auth}"}
                    case.call_and_validate(headers=headers, checks=probes)

                one()

            try:
                fuzz()
            except Exception as exc:  # every finding collected, then the row fails once
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:600])
    result.faults = len(operations)
    result.details = {"operations_fuzzed": len(operations), "findings": failures[:10]}
    return result.decide(f"{len(failures)} operations with findings" if failures else "")
