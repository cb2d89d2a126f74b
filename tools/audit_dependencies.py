"""`make lint`'s dependency audit: pip-audit on the dependencies pinned in setup.cfg (the
app's and the dev extras), exit 1 on any known vulnerability.

pip-audit asks PyPI's JSON API about each pinned version. Where that source cannot be reached
(a mirror that serves only the package index), nothing can be audited: this says so loudly and
exits 0, or 2 with AUDIT_REQUIRED=1, rather than pretend the audit passed.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOUD = "!" * 78


def pinned_requirements() -> list[str]:
    """Every requirement of setup.cfg: install_requires and the dev extras, in order."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    lines += config["options.extras_require"]["dev"].splitlines()
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))


def audit(requirements: list[str]) -> dict | None:
    """pip-audit's JSON report, or None when pip-audit itself failed (unreachable source)."""
    with tempfile.TemporaryDirectory() as directory:
        listed, report = Path(directory, "requirements.txt"), Path(directory, "audit.json")
        listed.write_text("\n".join(requirements) + "\n")
        # Every requirement is pinned (==), so nothing needs resolving or installing.
        finished = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "pip_audit", "--disable-pip", "--no-deps",
             "--progress-spinner", "off", "-r", str(listed), "-f", "json", "-o", str(report)],
            capture_output=True, text=True, check=False)
        if not report.exists() or not report.read_text().strip():
            sys.stderr.write(finished.stderr[-2000:])
            return None
        return json.loads(report.read_text())


def main() -> int:
    requirements = pinned_requirements()
    report = audit(requirements)
    dependencies = (report or {}).get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            print(f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} "
                  f"(fixed in {fixed})")
    if vulnerable:
        return 1
    audited = len(dependencies) - len(skipped)
    if report is None or audited == 0:
        print(f"{LOUD}\npip-audit: the vulnerability source (PyPI's JSON API) could not be "
              f"reached from here, so NONE of the {len(requirements)} pinned dependencies "
              f"was audited.\n{LOUD}", file=sys.stderr)
        return 2 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    for dependency in skipped:
        print(f"pip-audit: NOT audited: {dependency['skip_reason']}", file=sys.stderr)
    print(f"pip-audit: {audited} pinned dependencies audited, no known vulnerability"
          + (f"; {len(skipped)} could not be audited" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
