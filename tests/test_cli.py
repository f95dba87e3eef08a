"""`sandbox` / `python -m sandbox`: the exit status is the code's own; engine failures are 125."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args], input=stdin, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def executor(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_required")
    return str(request.param)


def test_exec_passes_the_codes_exit_status_and_streams(executor: str) -> None:
    done = cli("exec", "--executor", executor, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(7)")
    assert done.returncode == 7
    assert done.stdout == "out\n" and done.stderr == "err\n"


def test_json_prints_the_whole_result(executor: str) -> None:
    done = cli("exec", "--executor", executor, "--json", "-c", "print(40 + 2)")
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert result["outcome"] == "success" and result["exit_code"] == 0 and result["stdout"] == "42\n"
    assert result["blocks"][0]["language"] == "python"


def test_run_takes_the_language_from_the_extension_or_the_content(tmp_path: Path) -> None:
    script = tmp_path / "hello.sh"
    script.write_text("echo from-shell\n")
    assert cli("run", "--executor", "local", str(script)).stdout == "from-shell\n"
    assert cli("run", "--executor", "local", "-", stdin="ls -la >/dev/null && echo inferred-shell\n").stdout == "inferred-shell\n"
    notes = tmp_path / "notes.md"
    notes.write_text("Text\n\n```python\nprint('from markdown')\n```\n")
    assert cli("run", "--executor", "local", str(notes)).stdout == "from markdown\n"


def test_timeout_exits_124_with_a_message() -> None:
    done = cli("exec", "--executor", "local", "--timeout", "1", "-c", "import time; time.sleep(30)")
    assert done.returncode == 124
    assert "timed out after 1 s" in done.stderr


def test_unknown_language_exits_126_and_says_what_runs() -> None:
    done = cli("exec", "--executor", "local", "--lang", "cobol", "-c", "DISPLAY 'X'.")
    assert done.returncode == 126
    assert "unknown language 'cobol'" in done.stderr and "python" in done.stderr


def test_missing_file_is_a_usage_error() -> None:
    done = cli("run", "--executor", "local", "/nonexistent/file.py")
    assert done.returncode == 2 and "cannot read /nonexistent/file.py" in done.stderr


def test_unreachable_engine_exits_125_and_names_the_fix(tmp_path: Path) -> None:
    done = cli("exec", "-c", "print(1)", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert done.returncode == 125
    assert "no Docker engine" in done.stderr and "DOCKER_HOST" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_doctor_reports_engine_image_and_runtimes() -> None:
    done = cli("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[ok  ] local runner" in done.stdout
    assert "[ok  ] Docker engine" in done.stdout
    assert "[ok  ] image python:3.11-slim" in done.stdout
    assert "[ok  ] runtime runc" in done.stdout


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_demo_runs_untrusted_code_in_docker_and_prints_the_result() -> None:
    done = cli("demo")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout[done.stdout.index("{"):])
    assert payload["outcome"] == "success"
    lines = payload["stdout"].splitlines()
    assert "network interfaces: ['lo']" in lines
    assert "OPENAI_API_KEY visible: False" in lines
    assert "default route: False" in lines
    assert not any(line.startswith("user id: 0") for line in lines)


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_reap_dry_run_lists_without_removing() -> None:
    done = cli("reap", "--dry-run")
    assert done.returncode == 0
    assert done.stdout.strip().splitlines()[-1].startswith("would remove")
