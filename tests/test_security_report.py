"""scripts/security_report.py: every way a case can end becomes the right cell of the table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CASES = '''
import pytest

@pytest.fixture(params=["local", "docker"])
def backend(request):
    return request.param

@pytest.fixture
def checked_after(backend):
    yield
    assert backend != "docker", "a container was left behind"

def test_passes(backend):
    """Passes everywhere."""

def test_not_for_local(backend):
    """Only for Docker."""
    if backend == "local":
        pytest.skip("n/a: the local runner is not a sandbox")

def test_known_issue(backend, request):
    """A known issue on Docker."""
    if backend == "docker":
        request.applymarker(pytest.mark.xfail(strict=True, reason="the engine misses it"))
        assert False

def test_leaks(backend, checked_after):
    """Fails in the harness's checks after the case."""
'''


def test_the_report_has_a_cell_per_case_and_backend_and_fails_on_a_failure(tmp_path: Path) -> None:
    suite = tmp_path / "test_abuse_demo.py"
    suite.write_text(CASES)
    out = tmp_path / "report.md"
    done = subprocess.run(
        [sys.executable, "scripts/security_report.py", "--output", str(out), "--suite", str(suite)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # one case failed
    rows = {line.split("|")[2].strip(): [c.strip() for c in line.split("|")[3:5]]
            for line in out.read_text().splitlines() if line.startswith("| demo |")}
    assert rows["Passes everywhere."] == ["passed", "passed"]
    assert rows["Only for Docker."] == ["n/a [1]", "passed"]
    assert rows["A known issue on Docker."] == ["passed", "**known issue** [2]"]
    assert rows["Fails in the harness's checks after the case."][0] == "passed"
    assert rows["Fails in the harness's checks after the case."][1].startswith("**FAILED**")
    text = out.read_text()
    assert "1. the local runner is not a sandbox" in text and "2. the engine misses it" in text
    assert "a container was left behind (at teardown" in text
    assert "| demo | Passes everywhere. |" in text
    assert "| kernel |" in text and "| runsc (gVisor) |" in text
