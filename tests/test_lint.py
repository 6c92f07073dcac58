"""Lint (ruff, configured in pyproject.toml's ``[tool.ruff]``) runs in CI as a test.

ruff is in the ``test`` extra, so it is required here, not skipped.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_package_and_tests_pass_ruff():
    proc = ruff("numbamosaic", "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_configured_rules_are_active():
    # the project configuration is the one used, and it catches an unused import and a check that cannot fail
    code = "import os\n\n\ndef test_x():\n    x = 1\n    x == 2\n"
    proc = ruff("--stdin-filename", "tests/test_probe.py", "-", stdin=code)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "F401" in proc.stdout and "B015" in proc.stdout
