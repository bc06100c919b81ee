"""The scanners CI runs can fail, and nothing switches them off quietly.

- ``manage.py check --deploy`` on the production settings: the test in
  ``tests/portal/test_settings.py`` passes only with no warning at all; here, one planted
  warning makes the same command fail.
- ruff's bandit rules (``S``) are selected for the whole tree, ignored nowhere but in
  tests (with the reasons below); each ``noqa: S...`` in the shipped code says why
  (``scripts/security_lint.py``, rule ``noqa-reason``).
- ``make audit`` (``scripts/dependency_audit.py``) fails on a known vulnerability, and in
  CI also when a vulnerability database cannot be asked.
"""

import re
import tomllib

import pytest

from scripts.dependency_audit import (
    Verdict,
    exit_status,
    npm_audit_verdict,
    pip_audit_verdict,
    report,
)
from tests.conftest import ROOT
from tests.portal.test_settings import (  # noqa: F401  (the fixture makes the key files)
    PRODUCTION_ENV,
    manage,
    production_signing_key,
)

# --- check --deploy -------------------------------------------------------------------------


def test_check_deploy_fails_on_a_single_warning():
    env = PRODUCTION_ENV | {"SECURE_HSTS_SECONDS": "0"}  # HSTS off: security.W004

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


# --- ruff's bandit rules ----------------------------------------------------------------------

# Where the S rules may be ignored wholesale, and why.
S_IGNORED_IN_TESTS = {
    "S101": "pytest's assert",
    "S105": "test passwords and tokens are fixtures, not secrets",
    "S106": "test passwords and tokens are fixtures, not secrets",
    "S603": "tests run the real tools (openssl, age, oathtool) with fixed arguments",
    "S607": "the tools are found on PATH, as an authority's shell would",
    "S311": "random test data is not key material",
}


def ruff_settings() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]


def test_ruff_selects_the_bandit_rules_and_ignores_none_of_them_in_shipped_code():
    lint = ruff_settings()["lint"]

    assert "S" in lint["select"]
    assert not [code for code in lint.get("ignore", []) if code.startswith("S")]
    for pattern, codes in lint.get("per-file-ignores", {}).items():
        security = {code for code in codes if code.startswith("S")}
        if pattern == "tests/**":
            assert security <= set(S_IGNORED_IN_TESTS), security - set(S_IGNORED_IN_TESTS)
        else:
            assert not security, f"{pattern} ignores {sorted(security)}"


def test_ruff_excludes_no_shipped_code():
    excluded = ruff_settings().get("extend-exclude", []) + ruff_settings().get("exclude", [])

    for shipped in ["portal", "accounts", "requests_app", "scripts", "templates"]:
        assert not [p for p in excluded if p.strip("/").split("/")[0] == shipped]


def test_ci_lints_audits_and_tests_in_that_order():
    ci = (ROOT / ".ci" / "run").read_text()
    steps = re.findall(r"^make (lint|audit|assets|test)\b", ci, re.M)

    assert steps == ["lint", "assets", "audit", "test"]
    assert "export REQUIRE_SERVICES=1" in ci
    assert 'exit "$audit_status"' in ci
    assert re.search(r"^audit:.*\n\t\$\(PY\) scripts/dependency_audit\.py$", _makefile(), re.M)


def _makefile() -> str:
    return (ROOT / "Makefile").read_text()


# --- make audit -----------------------------------------------------------------------------

PIP_AUDIT_VULNERABLE = {
    "dependencies": [
        {"name": "django", "version": "6.1.3", "vulns": []},
        {
            "name": "pyyaml",
            "version": "5.3",
            "vulns": [
                {
                    "id": "PYSEC-2021-142",
                    "fix_versions": ["5.4"],
                    "aliases": ["CVE-2020-14343"],
                    "description": "Arbitrary code execution in full_load.",
                }
            ],
        },
    ],
    "fixes": [],
}
PIP_AUDIT_CLEAN = {"dependencies": [{"name": "django", "version": "6.1.3", "vulns": []}]}
PIP_AUDIT_NOT_FOUND = {
    "dependencies": [
        {
            "name": "django",
            "skip_reason": "Dependency not found on PyPI and could not be audited: django (6.1.3)",
        }
    ]
}
NPM_REFUSED = {
    "message": "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
    "statusCode": 405,
    "error": {"summary": "", "detail": ""},
}
NPM_VULNERABLE = {
    "auditReportVersion": 2,
    "vulnerabilities": {
        "fflate": {
            "name": "fflate",
            "severity": "high",
            "via": [{"title": "Out-of-bounds read in inflate", "url": "https://example.test/1"}],
            "range": "<0.8.4",
            "fixAvailable": True,
        }
    },
    "metadata": {"vulnerabilities": {"high": 1, "total": 1}},
}
NPM_CLEAN = {"auditReportVersion": 2, "vulnerabilities": {}, "metadata": {}}


def test_a_known_python_vulnerability_fails_the_audit_and_names_the_fix():
    verdict = pip_audit_verdict(PIP_AUDIT_VULNERABLE, 1, "")

    assert verdict.vulnerable == ["pyyaml 5.3: PYSEC-2021-142 (CVE-2020-14343); fixed in 5.4"]
    assert exit_status([verdict], require=False, unavailable_ok=set()) == 1


def test_a_known_npm_vulnerability_fails_the_audit():
    verdict = npm_audit_verdict(NPM_VULNERABLE, 1, "")

    assert verdict.vulnerable == [
        "fflate <0.8.4 (high): Out-of-bounds read in inflate; a fix is available"
    ]
    assert exit_status([verdict], require=False, unavailable_ok=set()) == 1


def test_clean_reports_pass():
    verdicts = [pip_audit_verdict(PIP_AUDIT_CLEAN, 0, ""), npm_audit_verdict(NPM_CLEAN, 0, "")]

    assert exit_status(verdicts, require=True, unavailable_ok=set()) == 0
    assert report(verdicts, 0).splitlines()[-1] == "audit: passed"


@pytest.mark.parametrize(
    "verdict",
    [
        pip_audit_verdict(PIP_AUDIT_NOT_FOUND, 0, ""),  # pip-audit itself exits 0 here
        pip_audit_verdict(None, 1, "ConnectionError: pypi.org unreachable"),
        npm_audit_verdict(NPM_REFUSED, 1, ""),
        npm_audit_verdict(None, 1, "npm error network request failed"),
    ],
    ids=["pypi-does-not-know-the-pin", "pypi-unreachable", "npm-refused", "npm-unreachable"],
)
def test_an_audit_that_could_not_be_done_fails_in_ci_and_says_so_elsewhere(verdict):
    assert verdict.unaudited
    assert exit_status([verdict], require=True, unavailable_ok=set()) == 2

    status = exit_status([verdict], require=False, unavailable_ok=set())
    assert status == 0
    text = report([verdict], status)
    assert f"NOT AUDITED ({verdict.audit})" in text
    assert text.splitlines()[-1].startswith("audit: INCOMPLETE")


def test_skipping_an_unavailable_audit_in_ci_is_a_named_choice_that_still_reports_it():
    npm = npm_audit_verdict(NPM_REFUSED, 1, "")
    python = pip_audit_verdict(PIP_AUDIT_CLEAN, 0, "")

    assert exit_status([python, npm], require=True, unavailable_ok={"npm"}) == 0
    assert exit_status([python, npm], require=True, unavailable_ok={"python"}) == 2
    text = report([python, npm], 0, require=True)
    assert "NOT AUDITED (npm)" in text
    assert text.splitlines()[-1].endswith("(allowed by AUDIT_UNAVAILABLE_OK)")


def test_a_vulnerability_fails_even_when_unavailability_is_allowed():
    verdicts = [pip_audit_verdict(PIP_AUDIT_VULNERABLE, 1, ""), Verdict("npm", unaudited=["x"])]

    assert exit_status(verdicts, require=False, unavailable_ok={"python", "npm"}) == 1
