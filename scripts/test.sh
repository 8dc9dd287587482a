#!/usr/bin/env bash
# The one test command, for people and CI alike (STYLE.md): install, lint, type-check, then run the whole
# suite once on SQLite and PostgreSQL with coverage.
#
#   bash scripts/test.sh                 everything (the README's test command; .ci/run calls this)
#   bash scripts/test.sh -k tokens -x    extra arguments go to pytest
#   LEERPOORT_FAST=1 bash scripts/test.sh -k tokens
#                                        skip ruff and mypy for a quick local iteration
#
# Environment:
#   LEERPOORT_TEST_POSTGRES_URL  admin URL of a PostgreSQL server; the suite creates a fresh database there for
#                                the run and drops it afterwards. Default: postgresql://postgres@127.0.0.1:5432/test
#                                when that server answers (tests/postgres.py); otherwise the PostgreSQL half is
#                                skipped, loudly.
#   CI                           when set, a PostgreSQL server or Node.js that cannot be reached is a failure,
#                                and property tests draw their full counts (locally a tenth: tests/conftest.py).
#   LEERPOORT_TEST_WORKERS       pytest-xdist workers (default 3; 0 runs in this process, for a debugger). Each
#                                worker has its own PostgreSQL database and SQLite files; tests are spread by
#                                work stealing (--dist worksteal), so one slow module does not hold up the end.
#   LEERPOORT_VENV               the virtual environment to use or create (default: .venv in the repo root).
#   PYTHON                       the interpreter that creates it (default: python3, 3.11 or newer).
#
# Exit code: pytest's ("no tests collected" counts as a failure); 1 when pytest passed but a lint step failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root="$(pwd -P)"

venv="${LEERPOORT_VENV:-.venv}"
python_for_venv="${PYTHON:-python3}"
fast="${LEERPOORT_FAST:-}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

# Each step shows the seconds since the start, so a slow install or a slow suite is visible in a CI log.
step() { printf '\n==> [%4ss] %s\n' "$SECONDS" "$*"; }
banner() { printf '\n=== %s ===\n\n' "$*"; }
fail() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# The hash of the files an install depends on: when it has not changed, the install is skipped locally,
# so a second run starts testing in a second. CI starts from a fresh clone and always installs.
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- Python environment -------------------------------------------------------------------------------------
if [[ ! -x "$venv/bin/python" ]]; then
    step "creating the virtual environment $venv with $python_for_venv"
    "$python_for_venv" -m venv "$venv"
fi
py="$venv/bin/python"
# A venv made by an older Python would fail later with a confusing error; say it plainly here.
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "$venv uses $("$py" --version); Leerpoort needs Python 3.11 or newer (remove $venv or set PYTHON)"

pip_stamp="$venv/.leerpoort-install"
pip_wanted="$(fingerprint pyproject.toml)"
if [[ -n "${CI:-}" || ! -f "$pip_stamp" || "$(cat "$pip_stamp")" != "$pip_wanted" ]]; then
    step "installing Leerpoort and its test tools into $venv"
    # -q hides progress but not errors; pip exits non-zero on failure and set -e stops here.
    "$py" -m pip install -q -e '.[test]'
    echo "$pip_wanted" > "$pip_stamp"
fi

# --- Node.js composer for the federation check -------------------------------------------------------------
composer_dir="tests/federation"
if command -v npm > /dev/null 2>&1; then
    npm_stamp="$composer_dir/node_modules/.leerpoort-install"
    if [[ -f "$composer_dir/package-lock.json" ]]; then
        npm_wanted="$(fingerprint "$composer_dir/package.json" "$composer_dir/package-lock.json")"
        npm_command=(ci)
    else
        npm_wanted="$(fingerprint "$composer_dir/package.json")"
        npm_command=(install)
    fi
    if [[ -n "${CI:-}" || ! -f "$npm_stamp" || "$(cat "$npm_stamp")" != "$npm_wanted" ]]; then
        step "installing the federation composer (npm ${npm_command[*]} in $composer_dir)"
        # npm prints its "added N packages" summary on stdout and its errors on stderr: keep only the errors.
        (cd "$composer_dir" && npm "${npm_command[@]}" --no-audit --no-fund --loglevel=error > /dev/null)
        echo "$npm_wanted" > "$npm_stamp"
    fi
elif [[ -n "${CI:-}" ]]; then
    fail "npm is not installed: the federation composition check needs Node.js 18+ and npm on CI"
else
    banner "federation composition check SKIPPED: npm is not installed (needs Node.js 18+)"
fi

# --- A browser for the dashboard's tests -------------------------------------------------------------------
# tests/e2e/test_dashboard.py drives Debian's chromium through Playwright (which must never download a browser
# of its own). Installed here when missing: CI and developers run as root on Debian.
if [[ ! -x /usr/bin/chromium ]]; then
    if command -v apt-get > /dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        step "installing Debian's chromium for the browser tests (apt-get)"
        apt-get update -qq > /dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
    elif [[ -n "${CI:-}" ]]; then
        fail "/usr/bin/chromium is missing and cannot be installed (needs apt-get as root): the browser tests need it"
    else
        banner "browser tests SKIPPED: /usr/bin/chromium is missing (apt-get install chromium as root)"
    fi
fi

# --- Lint and types ------------------------------------------------------------------------------------------
# Every step runs even after one fails, so a single run shows every problem; the failures are summed up at the end.
failed_steps=()
run_step() {
    local name="$1"
    shift
    step "$name"
    if ! "$@"; then
        failed_steps+=("$name")
    fi
}
if [[ -n "$fast" ]]; then
    banner "LEERPOORT_FAST is set: ruff and mypy SKIPPED"
else
    run_step "ruff check" "$venv/bin/ruff" check .
    run_step "ruff format --check" "$venv/bin/ruff" format --check .
    # Run from the repo root, mypy sees `schema`, `auth`, ... as the top-level packages they are (the same
    # names PyPI uses for other projects), and tests/ as the `tests` package; pyproject.toml holds its config.
    run_step "mypy" "$venv/bin/mypy" .
fi

# --- PostgreSQL --------------------------------------------------------------------------------------------
# tests/postgres.py is the one probe (the fixtures use it too): a real connection, retried for a while under CI,
# where the server may still be starting. It prints the admin URL to use, or "no server at URL" (no password).
step "checking PostgreSQL"
postgres_skipped=""
if probe="$("$py" -m tests.postgres)"; then
    export LEERPOORT_TEST_POSTGRES_URL="$probe"
elif [[ -n "${CI:-}" ]]; then
    fail "PostgreSQL: ${probe:-the probe failed}; CI must test both engines (set LEERPOORT_TEST_POSTGRES_URL)"
else
    postgres_skipped="PostgreSQL run SKIPPED: ${probe:-the probe failed}"
fi

# --- Tests -------------------------------------------------------------------------------------------------
[[ -n "$postgres_skipped" ]] && banner "$postgres_skipped"
if [[ -n "$postgres_skipped" ]]; then engines="SQLite only"; else engines="SQLite and PostgreSQL"; fi
step "pytest ($engines, with coverage)"
set +e
workers="${LEERPOORT_TEST_WORKERS:-3}"
"$py" -m pytest -n "$workers" --dist worksteal --cov --cov-report=term:skip-covered "$@"
pytest_status=$?
set -e
[[ -n "$postgres_skipped" ]] && banner "$postgres_skipped"

if ((pytest_status == 5)); then
    echo "ERROR: pytest collected no tests (exit 5): that is a failure, not a pass" >&2
fi
if ((${#failed_steps[@]} > 0)); then
    printf '\nFAILED lint steps: %s\n' "$(IFS=,; echo "${failed_steps[*]}")" >&2
    ((pytest_status == 0)) && pytest_status=1
fi
((pytest_status == 0)) && printf '\n==> [%4ss] all checks passed in %s\n' "$SECONDS" "$repo_root"
exit "$pytest_status"
