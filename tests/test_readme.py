"""The README is a test: every block in it runs, in CI, or says why it cannot.

`sandbox run-md --local` runs the blocks with this interpreter (the venv, where `sandbox` is
installed), so the library examples import the package from here; those examples start Docker
sandboxes themselves, hence the Docker requirement.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sandbox.markdown_runner import plan

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.docker
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("docker_required")
def test_every_readme_block_passes_or_is_skipped_with_a_reason(tmp_path: Path) -> None:
    report = tmp_path / "readme.xml"
    # Shell blocks may call `sandbox` or `agents`: put this venv's scripts first on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    passed_on = ["--env", "DOCKER_HOST"] if "DOCKER_HOST" in os.environ else []
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "run-md", "--local", *passed_on, "README.md", "--junit", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=580, env={**os.environ, "PATH": path},
    )
    assert done.returncode == 0, done.stdout + done.stderr

    steps = plan("README.md", (ROOT / "README.md").read_text())
    cases = list(ET.parse(report).getroot().iter("testcase"))
    assert [case.get("name") for case in cases] == [f"README.md:{step.fence.line}" for step in steps]
    for case in cases:
        skipped = case.find("skipped")
        assert case.find("failure") is None and case.find("error") is None, case.get("name")
        assert skipped is None or skipped.get("message"), f"{case.get('name')} is skipped without a reason"
    ran = {case.get("name") for case in cases if case.find("skipped") is None}
    library_examples = [f"README.md:{s.fence.line}" for s in steps if "from sandbox import" in s.fence.code]
    assert library_examples and set(library_examples) <= ran, "the library examples must run, not be skipped"
