#!/usr/bin/env python3
"""Audit the pinned dependencies against public vulnerability databases (``make audit``).

- Python: pip-audit on requirements.lock (what the portal runs), against PyPI's JSON API.
- JavaScript: ``npm audit --omit=dev`` on package-lock.json (what the browser bundle holds).

Exit status:

0  every dependency was looked up and none has a known vulnerability;
1  a known vulnerability: each is listed with the versions that fix it;
2  something could not be audited (a database unreachable or refusing, a package it
   does not know) and REQUIRE_SERVICES=1, as in CI: a build must not pass as if it had
   been audited. Without REQUIRE_SERVICES that is a loud warning and exit 0, so that an
   offline ``make audit`` still says what it could not do.

AUDIT_UNAVAILABLE_OK=python,npm (a deliberate, visible choice, e.g. for a CI machine
whose package mirror offers no audit API) turns "could not be audited" into a warning
for the audits it names. pip-audit itself reports a package it could not look up as a
mere skip and exits 0; this script does not.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON_LOCK = ROOT / "requirements.lock"
NPM_LOCK = ROOT / "package-lock.json"
TIMEOUT_SECONDS = 300


@dataclass
class Verdict:
    """What one audit found: vulnerabilities, and what it could not audit (and why)."""

    audit: str
    vulnerable: list[str] = field(default_factory=list)
    unaudited: list[str] = field(default_factory=list)
    hint: str = ""

    @property
    def complete(self) -> bool:
        return not self.unaudited


def pip_audit_verdict(report: dict[str, Any] | None, returncode: int, stderr: str) -> Verdict:
    """Read ``pip-audit -f json``: vulnerable pins, and pins it could not look up."""
    verdict = Verdict("python")
    if report is None:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        verdict.unaudited.append(f"pip-audit gave no report (exit {returncode}): {last}")
        return verdict
    dependencies = report.get("dependencies", [])
    for dependency in dependencies:
        name, version = dependency.get("name", "?"), dependency.get("version", "?")
        if "skip_reason" in dependency:
            verdict.unaudited.append(dependency["skip_reason"])
        for vuln in dependency.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            aliases = ", ".join(vuln.get("aliases", []))
            names = vuln.get("id", "?") + (f" ({aliases})" if aliases else "")
            verdict.vulnerable.append(f"{name} {version}: {names}; fixed in {fixed}")
    if dependencies and len(verdict.unaudited) == len(dependencies):
        verdict.hint = (
            "PyPI knew none of the pinned versions: is the index a mirror without the "
            "per-version JSON API (/pypi/<name>/<version>/json)?"
        )
    if returncode not in (0, 1) and not verdict.vulnerable:
        verdict.unaudited.append(f"pip-audit failed (exit {returncode})")
    return verdict


def npm_audit_verdict(report: dict[str, Any] | None, returncode: int, stderr: str) -> Verdict:
    """Read ``npm audit --json``: vulnerable packages, or why the registry gave no answer."""
    verdict = Verdict("npm")
    if report is None or "vulnerabilities" not in report:
        why = ""
        if report is not None:
            why = str(report.get("message") or report.get("error", {}).get("summary") or "")
        if not why:
            why = (stderr.strip().splitlines() or [f"exit {returncode}"])[-1]
        verdict.unaudited.append(f"the registry did not answer the audit: {why}")
        return verdict
    for name, entry in sorted(report["vulnerabilities"].items()):
        via = [v.get("title") or v.get("url") for v in entry.get("via", []) if isinstance(v, dict)]
        detail = "; ".join(item for item in via if item) or "via " + ", ".join(
            v for v in entry.get("via", []) if isinstance(v, str)
        )
        fix = "a fix is available" if entry.get("fixAvailable") else "no fix available yet"
        verdict.vulnerable.append(
            f"{name} {entry.get('range', '')} ({entry.get('severity', '?')}): {detail}; {fix}"
        )
    return verdict


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (fixed arguments, our own tools)
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def audit_python() -> Verdict:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    if not pip_audit.exists():
        return Verdict("python", unaudited=["pip-audit is not installed (make venv)"])
    try:
        done = _run(
            [
                str(pip_audit),
                "--requirement",
                str(PYTHON_LOCK),
                "--require-hashes",
                "--disable-pip",  # the lock pins every package: no resolver, no venv
                "--vulnerability-service",
                "pypi",
                "--progress-spinner",
                "off",
                "--format",
                "json",
            ]
        )
    except subprocess.TimeoutExpired:
        return Verdict("python", unaudited=[f"pip-audit took over {TIMEOUT_SECONDS} s"])
    return pip_audit_verdict(_json(done.stdout), done.returncode, done.stderr)


def audit_npm() -> Verdict:
    if not NPM_LOCK.exists():
        return Verdict("npm")
    npm = shutil.which("npm")
    if npm is None:
        return Verdict("npm", unaudited=["npm is not installed"])
    try:
        done = _run([npm, "audit", "--omit=dev", "--json"])
    except subprocess.TimeoutExpired:
        return Verdict("npm", unaudited=[f"npm audit took over {TIMEOUT_SECONDS} s"])
    return npm_audit_verdict(_json(done.stdout), done.returncode, done.stderr)


def exit_status(verdicts: list[Verdict], *, require: bool, unavailable_ok: set[str]) -> int:
    if any(verdict.vulnerable for verdict in verdicts):
        return 1
    strict = [v for v in verdicts if not v.complete and v.audit not in unavailable_ok]
    return 2 if require and strict else 0


def report(verdicts: list[Verdict], status: int, *, require: bool = False) -> str:
    lines = []
    for verdict in verdicts:
        for item in verdict.vulnerable:
            lines.append(f"VULNERABLE ({verdict.audit}): {item}")
        if verdict.unaudited:
            lines.append(
                f"NOT AUDITED ({verdict.audit}): {len(verdict.unaudited)} item(s) could not "
                "be checked against the vulnerability database:"
            )
            if verdict.hint:
                lines.append(f"  ({verdict.hint})")
            lines += [f"  {item}" for item in verdict.unaudited[:10]]
            if len(verdict.unaudited) > 10:
                lines.append(f"  ... and {len(verdict.unaudited) - 10} more")
        elif not verdict.vulnerable:
            lines.append(f"ok ({verdict.audit}): no known vulnerability")
    if status == 1:
        lines.append(
            "audit: FAILED: known vulnerabilities; upgrade the pins (make lock) or record "
            "why one does not apply"
        )
    elif status == 2:
        lines.append(
            "audit: FAILED: the dependencies could not all be audited (REQUIRE_SERVICES=1)"
        )
    elif any(not verdict.complete for verdict in verdicts):
        why = "allowed by AUDIT_UNAVAILABLE_OK" if require else "REQUIRE_SERVICES=1 fails on this"
        lines.append(f"audit: INCOMPLETE: see NOT AUDITED above ({why})")
    else:
        lines.append("audit: passed")
    return "\n".join(lines)


def main() -> int:
    verdicts = [audit_python(), audit_npm()]
    unavailable_ok = {
        name.strip()
        for name in os.environ.get("AUDIT_UNAVAILABLE_OK", "").split(",")
        if name.strip()
    }
    require = os.environ.get("REQUIRE_SERVICES") == "1"
    status = exit_status(verdicts, require=require, unavailable_ok=unavailable_ok)
    print(report(verdicts, status, require=require))
    return status


if __name__ == "__main__":
    sys.exit(main())
