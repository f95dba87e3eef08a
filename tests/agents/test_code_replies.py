"""What the proxy runs and what it says back: AutoGen's wording, plain notes, the output budget.

Also which code is run (the newest unanswered message, once) and who owns the executor.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from agents import DEFAULT_OUTPUT_BUDGET, AssistantAgent, StopReason, UserProxyAgent, execution_reply
from agents import code_execution, conversable
from openai_server import ScriptedOpenAIServer, fenced
from recording_executor import RecordingExecutor
from sandbox import ExecutionResult, Outcome

NOTES_ROOM = 600  # the header line and the notes a reply may add after the output


def result(outcome: Outcome, exit_code: int | None, output: str = "", **kw: Any) -> ExecutionResult:
    return ExecutionResult(outcome=outcome, exit_code=exit_code, output=output, stdout=output, **kw)


# -- the reply's wording -------------------------------------------------------------------------

def test_success_and_failure_keep_autogens_words() -> None:
    assert execution_reply(result(Outcome.SUCCESS, 0, "42\n")) == "exitcode: 0 (execution succeeded)\nCode output: 42\n"
    assert execution_reply(result(Outcome.ERROR, 2, "usage: x\n")) == (
        "exitcode: 2 (execution failed)\nCode output: usage: x\n"
    )


def test_timeout_oom_rejection_and_truncation_are_said_plainly() -> None:
    timeout = execution_reply(result(Outcome.TIMEOUT, 124, "tick\n", message="timed out after 5 s"))
    assert timeout == "exitcode: 124 (execution failed)\nCode output: tick\nTimeout: timed out after 5 s."
    oom = execution_reply(result(Outcome.OOM, 137, ""))
    assert oom == ("exitcode: 137 (execution failed)\nCode output: \n"
                   "Out of memory: the run exceeded its memory limit and was killed.")
    rejected = execution_reply(result(Outcome.REJECTED, None, message="block 1: unknown language 'rust'"))
    assert rejected == "exitcode: 1 (execution failed)\nCode output: \nNot run: block 1: unknown language 'rust'."
    cut = execution_reply(result(Outcome.SUCCESS, 0, "head...tail\n", truncated_bytes=5_000))
    assert cut.startswith("exitcode: 0 (execution succeeded)\nCode output: head...tail\nOutput truncated: ")
    assert "5,000 more bytes" in cut


def test_output_is_cut_to_the_budget_head_and_tail_kept() -> None:
    flood = "FIRST LINE\n" + "y" * 50_000 + "\nLAST LINE\n"
    reply = execution_reply(result(Outcome.SUCCESS, 0, flood), budget=1_000)
    assert len(reply) <= 1_000 + NOTES_ROOM
    assert "Code output: FIRST LINE\n" in reply and "LAST LINE" in reply
    assert "characters cut here" in reply and "Output shortened:" in reply


# -- real runs through the loop ---------------------------------------------------------------

def run_chat(server: ScriptedOpenAIServer, llm_config: dict[str, Any], replies: list[str],
             **code_config: Any) -> tuple[Any, UserProxyAgent]:
    server.reply(*replies)
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config=code_config)
    with user_proxy:
        return user_proxy.initiate_chat(assistant, message="go", silent=True), user_proxy


def test_ten_megabytes_of_output_reach_the_model_within_budget(runner: str, server: ScriptedOpenAIServer,
                                                               llm_config: dict[str, Any]) -> None:
    flood = 'import sys\nsys.stdout.write("START\\n" + "x" * 10_000_000 + "\\nEND\\n")'
    res, _ = run_chat(server, llm_config, [fenced(flood), "That was a lot. TERMINATE"],
                      use_docker=runner == "docker", timeout=60)
    sent = server.requests[1]["messages"][-1]["content"]
    assert len(sent) <= DEFAULT_OUTPUT_BUDGET + NOTES_ROOM
    assert sent.startswith("exitcode: 0 (execution succeeded)\nCode output: START\nxxxx")
    assert "END" in sent[-NOTES_ROOM - 100:]  # the tail survived both cuts
    assert "Output truncated:" in sent and "Output shortened:" in sent
    assert res.executions[0].truncated and res.stop_reason is StopReason.TERMINATION_MSG
    assert len(server.requests[1]["messages"][-1]["content"]) < 20_000  # not the 10 MB


def test_a_custom_budget(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    _, _ = run_chat(server, llm_config, [fenced('print("z" * 100_000)'), "TERMINATE"],
                    use_docker=False, output_budget=2_000)
    assert len(server.requests[1]["messages"][-1]["content"]) <= 2_000 + NOTES_ROOM


def test_an_endless_loop_times_out_and_the_model_hears_it(server: ScriptedOpenAIServer,
                                                          llm_config: dict[str, Any]) -> None:
    # The tutorial's buggy binary_search (`pass` where `return mid` belongs) never ends.
    endless = """
def binary_search(arr, target):
    left, right = 0, len(arr) - 1
    while left <= right:
        mid = (left + right) // 2
        if arr[mid] == target:
            pass
        elif arr[mid] < target:
            left = mid + 1
        else:
            right = mid - 1
    return -1

print('searching')
binary_search([1, 3, 5], 3)
"""
    res, _ = run_chat(server, llm_config, [fenced(endless), "I will fix it. TERMINATE"], use_docker=False, timeout=1)
    sent = server.requests[1]["messages"][-1]["content"]
    assert sent.startswith("exitcode: 124 (execution failed)\nCode output: searching\n")
    assert "\nTimeout: " in sent
    assert res.executions[0].timed_out


def test_an_unknown_language_is_refused_with_the_reason(server: ScriptedOpenAIServer,
                                                        llm_config: dict[str, Any]) -> None:
    res, _ = run_chat(server, llm_config, [fenced('fn main() { println!("hi"); }', "rust"), "TERMINATE"],
                      use_docker=False)
    sent = server.requests[1]["messages"][-1]["content"]
    assert sent.startswith("exitcode: 1 (execution failed)\nCode output: \nNot run: ")
    assert "rust" in sent and "python" in sent  # what was refused and what would run
    assert res.executions[0].outcome is Outcome.REJECTED


# -- which code runs --------------------------------------------------------------------------

def test_code_is_run_once_even_with_last_n_messages(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                    recorder: RecordingExecutor) -> None:
    # AutoGen with last_n_messages=3 reran the code two messages back when the newest had none.
    server.reply(fenced("print(1)"), "No new code this time.", "TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", default_auto_reply="Continue.",
                                code_execution_config={"executor": recorder, "last_n_messages": 3})
    res = user_proxy.initiate_chat(assistant, message="go", silent=True)
    assert len(recorder.calls) == 1
    assert [m["content"] for m in res.chat_history if m["name"] == "user_proxy"][2] == "Continue."


def test_display_only_blocks_are_not_run(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                         recorder: RecordingExecutor) -> None:
    server.reply("The expected output is:\n```text\n42\n```\n", "TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config={"executor": recorder})
    user_proxy.initiate_chat(assistant, message="go", silent=True)
    assert recorder.calls == []


def test_the_configured_timeout_reaches_a_given_executor(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                         recorder: RecordingExecutor) -> None:
    server.reply(fenced("print(1)"), "TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER",
                                code_execution_config={"executor": recorder, "timeout": 7})
    user_proxy.initiate_chat(assistant, message="go", silent=True)
    assert recorder.timeouts == [7.0]


def test_execution_off_never_runs_code(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    server.reply(fenced("print(1)"), "TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config=False)
    res = user_proxy.initiate_chat(assistant, message="go", silent=True)
    assert res.executions == () and user_proxy.code_executor is None
    assert res.chat_history[2]["content"] == ""


# -- who owns the executor ------------------------------------------------------------------------

def test_the_proxy_closes_the_executor_it_created(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    server.reply(fenced("print(1)"), "TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    with UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config={"use_docker": False}) as proxy:
        proxy.initiate_chat(assistant, message="go", silent=True)
        executor = proxy.code_executor
        assert type(executor).__name__ == "LocalExecutor"
        work_dir = executor.work_dir
        assert work_dir.exists()
    assert executor.closed  # type: ignore[union-attr]
    assert not work_dir.exists()  # its temporary workspace went with it
    with pytest.raises(RuntimeError, match="closed"):
        _ = proxy.code_executor


def test_a_dropped_proxy_releases_its_executor(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    """Without close(), collection (not only interpreter exit) closes what the proxy made."""
    server.reply(fenced("print(1)"), "TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config={"use_docker": False})
    proxy.initiate_chat(assistant, message="go", silent=True)
    executor = proxy.code_executor
    assert executor is not None and not executor.closed  # type: ignore[attr-defined]
    del proxy, assistant  # the two agents reference each other through their histories
    gc.collect()
    assert executor.closed  # type: ignore[attr-defined]


def test_a_given_executor_stays_the_callers(recorder: RecordingExecutor) -> None:
    with UserProxyAgent("user_proxy", code_execution_config={"executor": recorder}) as proxy:
        assert proxy.code_executor is recorder
    assert not recorder.closed


def test_no_executor_is_made_until_code_arrives(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                recorder: RecordingExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    monkeypatch.setattr(conversable, "create_executor", lambda config: made.append(config) or recorder)
    server.reply("Nothing to run. TERMINATE", fenced("print(1)"), "TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    with UserProxyAgent("user_proxy", human_input_mode="NEVER") as proxy:
        proxy.initiate_chat(assistant, message="talk", silent=True)
        assert made == []  # no code, no container
        proxy.initiate_chat(assistant, message="run", silent=True)
        assert len(made) == 1 and len(recorder.calls) == 1
    assert recorder.closed  # made by the proxy, so closed by the proxy


@pytest.mark.parametrize("engine", [False, pytest.param(True, marks=pytest.mark.docker)])
def test_use_docker_defaults_to_docker_when_an_engine_answers(
    engine: bool, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if engine:
        request.getfixturevalue("docker_required")
    monkeypatch.setattr(code_execution, "docker_engine_answers", lambda: engine)
    with UserProxyAgent("user_proxy") as proxy:
        assert type(proxy.code_executor).__name__ == ("DockerExecutor" if engine else "LocalExecutor")


def test_the_engine_probe_says_no_quietly_when_nothing_listens(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert code_execution.docker_engine_answers() is False  # and no ResourceWarning (warnings are errors)
    gc.collect()


def test_code_execution_config_problems_are_named() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        UserProxyAgent("p", code_execution_config={"use_dokcer": False})
    with pytest.raises(ValueError, match="last_n_messages"):
        UserProxyAgent("p", code_execution_config={"last_n_messages": 0})
