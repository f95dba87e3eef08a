"""`agents chat "task"` and `python -m agents`: env vars, flags, exit codes, the transcript."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.cli import main
from openai_server import ScriptedOpenAIServer, fenced

ROOT = Path(__file__).resolve().parents[2]


def test_a_task_runs_to_the_end(server: ScriptedOpenAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.reply(fenced("print(6 * 7)"), "6 * 7 is 42.\n\nTERMINATE")
    code = main(["chat", "Compute 6 * 7 with Python.", "--base-url", server.base_url, "--executor", "local",
                 "--model", "m-1", "--max-turns", "4"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "user_proxy (to assistant):\n\nCompute 6 * 7 with Python." in out
    assert "exitcode: 0 (execution succeeded)\nCode output: 42\n" in out
    assert out.rstrip().endswith("6 * 7 is 42.")  # the summary, printed last
    assert "chat ended: termination_msg" in err and "1 code run," in err
    assert [r["model"] for r in server.requests] == ["m-1", "m-1"]
    assert server.headers[0]["authorization"] == "Bearer sk-test-not-a-real-key"  # from OPENAI_API_KEY


def test_openai_base_url_is_read_from_the_environment(server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    server.reply("Nothing to run. TERMINATE")
    assert main(["chat", "Say hi.", "--executor", "local", "--quiet"]) == 0
    out, _ = capsys.readouterr()
    assert out == "Nothing to run.\n"  # --quiet: the summary only
    assert len(server.requests) == 1


def test_a_limit_before_the_end_exits_3(server: ScriptedOpenAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.reply(fenced("print(1)"))
    assert main(["chat", "Loop.", "--base-url", server.base_url, "--executor", "local", "--max-turns", "1"]) == 3
    assert "chat ended: max_turns" in capsys.readouterr().err


def test_an_unreachable_model_exits_1(server: ScriptedOpenAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.fail_next(1, status=401)
    assert main(["chat", "Hi.", "--base-url", server.base_url, "--executor", "local"]) == 1
    assert "AuthenticationError" in capsys.readouterr().err


def test_a_missing_api_key_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["chat", "Hi."]) == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY is not set" in err and "OPENAI_BASE_URL" in err


def test_a_missing_base_url_is_explained(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert main(["chat", "Hi.", "--max-turns", "0"]) == 2  # stops before any request is sent
    err = capsys.readouterr().err
    assert "OPENAI_BASE_URL is not set; using OpenAI's API" in err
    assert "--max-turns must be at least 1" in err


def test_python_dash_m_agents(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    proc = subprocess.run([sys.executable, "-m", "agents", "chat", "Hi."], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "agents: OPENAI_API_KEY is not set" in proc.stderr
    usage = subprocess.run([sys.executable, "-m", "agents", "chat", "Hi.", "--executor", "podman"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "invalid choice: 'podman'" in usage.stderr
