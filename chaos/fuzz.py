"""Schemathesis over every documented operation of a real `agentledger serve` process: no
5xx, and every response (status, content type, headers, body) matches the OpenAPI
document. The same checks as tests/test_api_fuzz.py, with many more examples."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from chaos.common import NotRun, Result, own_server
from chaos.http import ADMIN, api_server, tenant_with_keys

NAME = "API fuzzing (schemathesis)"
TENANTS = r"^/v1/tenants|/stream$"
METHOD = (
    "schemathesis generates requests for every operation of the OpenAPI document (event "
    "streams excluded), sent with a tenant admin key (the platform key for /v1/tenants); "
    "checks: no server error, status, content type, headers and body conform, and the key "
    "is not ignored (ignored_auth); then schemathesis's stateful phase chains calls by the "
    "links it infers, adding use-after-free and resource-availability checks"
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
        # Each answered request sent again without the key and with a wrong one: 401.
        checks.ignored_auth,
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
            # Every finding collected, then the row fails once (schemathesis reports a
            # check's failures as a BaseExceptionGroup).
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:600])
        steps, chained = _stateful(base, key, failures, examples)
        result.operations += steps
    result.faults = len(operations)
    result.details = {
        "operations_fuzzed": len(operations),
        "stateful_sequences": steps,
        "stateful_operations": chained,
        "findings": failures[:10],
    }
    return result.decide(f"{len(failures)} operations with findings" if failures else "")


STATEFUL_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,"
    "use_after_free,ensure_resource_availability,ignored_auth"
)


def _stateful(base: str, key: str, failures: list[str], examples: int) -> tuple[int, int]:
    """Schemathesis's own stateful phase (its CLI, which keeps sequences reproducible
    against a live server): calls chained by the links it infers from the document (an id
    a POST answers, fed to the GET, PATCH and DELETE that take it), checked as above plus
    use-after-free (a deleted object stays gone), resource availability (a created one can
    be read) and ignored auth (no key, or a wrong one: 401). The platform's tenant routes
    are left to the per-operation run (they need the platform key). How many sequences and
    operations it tested."""
    with tempfile.TemporaryDirectory() as out:
        report = Path(out) / "stateful.json"
        done = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json"),
                *("--phases", "stateful", "--checks", STATEFUL_CHECKS),
                *("-H", f"Authorization: Bearer {key}", "--exclude-path-regex", TENANTS),
                *("--max-examples", str(examples), "--seed", "1", "--workers", "1"),
                *("--report", "json", "--report-json-path", str(report), "--no-color"),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        if not report.exists():
            failures.append(f"stateful run did not report: {done.stderr[-400:]}")
            return 0, 0
        data = json.loads(report.read_text())
    for failure in data["failures"]:
        failures.append(f"stateful {failure['code']} {failure['title']} x{failure['count']}")
    for error in data["errors"]:
        failures.append(f"stateful error: {json.dumps(error)[:300]}")
    if data["phases"]["stateful"]["status"] not in ("success", "failure"):
        failures.append(f"stateful phase: {data['phases']['stateful']}")
    return data["test_cases"]["generated"], data["operations"]["tested"]
