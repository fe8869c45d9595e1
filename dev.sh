#!/usr/bin/env bash
# The two commands a newcomer needs, each installing what it uses into ./.venv:
#   ./dev.sh demo   start the embedded PostgreSQL, migrate, create a demo tenant
#   ./dev.sh test   lint, type-check, check generated code, run the whole test suite with
#                   line coverage held to its floor (./dev.sh test tests/x.py: just those)
#   ./dev.sh bench  every benchmark beside the raw driver and the peers (--quick: minutes)
# Anything else is passed to the agentledger CLI: ./dev.sh db status
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
# Reinstall only when the project's requirements changed.
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    log="$VENV/install.log"
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip \
           && "$VENV/bin/python" -m pip install -q -e '.[test]'; } >"$log" 2>&1; then
        cat "$log" >&2
        exit 1
    fi
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"

cmd=${1:-demo}
shift || true
case "$cmd" in
    demo)
        exec agentledger demo "$@"
        ;;
    test)
        # The console's browser test drives the machine's Chromium (Playwright cannot
        # download browsers here), and the pooler tests run PgBouncer; install them from
        # the distribution when they are missing.
        missing=()
        command -v chromium >/dev/null 2>&1 || missing+=(chromium)
        command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] \
            || missing+=(pgbouncer)
        if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 \
            && [ "$(id -u)" = 0 ]; then
            apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null
        fi
        ruff format --check src tests scripts bench chaos examples
        ruff check src tests scripts bench chaos examples
        mypy
        python scripts/async_to_sync.py --check
        if [ $# -eq 0 ]; then
            # The whole suite: measure line coverage of src/ and hold it to the floor in
            # pyproject.toml ([tool.coverage.report] fail_under); the total is printed.
            # One worker process per core, each with its own embedded server, a test
            # module's tests kept together (they share the module's database).
            rm -f .coverage .coverage.*
            exec python -m pytest -q -n auto --dist loadfile --cov --cov-report=
        fi
        exec python -m pytest -q "$@"
        ;;
    bench)
        python -m pip install -q -e '.[test,bench]' >"$VENV/install-bench.log" 2>&1 \
            || { cat "$VENV/install-bench.log" >&2; exit 1; }
        exec python -m bench "$@"
        ;;
    *)
        exec agentledger "$cmd" "$@"
        ;;
esac
