"""The tutorials' programs, imports changed, against the scripted server and a real runner.

Each test scripts what the model says (the replies the tutorial's transcript shows), runs the
program file, and checks what the tutorial promises: the printed transcript, the executed
code's real output coming back to the model, and the program's own analysis of the history.
Parametrised over the local runner and (marked docker) the Docker runner.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from agents import StopReason
from openai_server import ScriptedOpenAIServer, fenced

PROGRAMS = Path(__file__).parent / "seed_programs"

BINARY_SEARCH = '''
from typing import List


def binary_search(arr: List[int], target: int) -> int:
    """Search for target in a sorted list using iterative binary search."""
    left, right = 0, len(arr) - 1
    while left <= right:
        mid = left + (right - left) // 2
        if arr[mid] == target:
            return mid
        elif arr[mid] < target:
            left = mid + 1
        else:
            right = mid - 1
    return -1


assert binary_search([], 5) == -1, "Empty list should return -1"
assert binary_search([7], 7) == 0, "Single element found at index 0"
assert binary_search([7], 3) == -1, "Single element, target not present"
assert binary_search([1, 3, 5, 7, 9], 1) == 0, "Target at index 0"
assert binary_search([1, 3, 5, 7, 9], 9) == 4, "Target at last index"
assert binary_search([2, 4, 6, 8, 10, 12], 8) == 3, "Target in middle"
assert binary_search([1, 3, 5, 7, 9], 4) == -1, "Target not in list"
large_list = list(range(0, 10000, 2))
assert binary_search(large_list, 4998) == 2499, "Large list search"
print("All tests passed.")
'''

# The tutorial's bug is `pass` where `return mid` belongs, and its transcript shows an
# AssertionError; but with `pass` the loop never ends (a timeout, tested in test_code_replies).
# `break` is the same forgotten return, and fails the way the transcript shows.
BUGGY_BINARY_SEARCH = '''
# Buggy implementation - missing the return inside the loop
def binary_search(arr, target):
    left, right = 0, len(arr) - 1
    while left <= right:
        mid = (left + right) // 2
        if arr[mid] == target:
            break  # BUG: forgot return
        elif arr[mid] < target:
            left = mid + 1
        else:
            right = mid - 1
    return -1


assert binary_search([1, 3, 5], 3) == 1, "Failed"
print("All tests passed.")
'''

MEDIAN = '''
def median(numbers: list[float]) -> float | None:
    """The median of numbers, None for an empty list."""
    if not numbers:
        return None
    ordered = sorted(numbers)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


assert median([]) is None
assert median([4]) == 4
assert median([3, 1, 2]) == 2
assert median([4, 1, 3, 2]) == 2.5
assert median([-5, 0, 5, 10]) == 2.5
print("median tests: 5 passed; median([1, 2, 3, 4]) =", median([1, 2, 3, 4]))
'''

DONE = "All 8 test cases passed successfully.\n\nTERMINATE"


def run_program(
    name: str, runner: str, server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Run a seed program file in-process; return its globals. The test closes its proxy."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    source = (PROGRAMS / name).read_text()
    if runner == "docker":
        assert source.count('"use_docker": False') == 1
        source = source.replace('"use_docker": False', '"use_docker": True')
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        exec(compile(source, str(PROGRAMS / name), "exec"), namespace)
    finally:
        if "user_proxy" in namespace:
            namespace["user_proxy"].close()
    return namespace



def test_binary_search_program(runner: str, server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    server.reply(fenced(BINARY_SEARCH, before="Here is a clean implementation of `binary_search` with tests:"), DONE)
    ns = run_program("hello_autogen.py", runner, server, monkeypatch)
    out = capsys.readouterr().out

    # The transcript, as the tutorial prints it.
    assert "user_proxy (to python_engineer):\n\nWrite a Python function called `binary_search`" in out
    assert "python_engineer (to user_proxy):\n\nHere is a clean implementation" in out
    assert ">>>>>>>> EXECUTING CODE BLOCK (inferred language is python)..." in out
    assert "exitcode: 0 (execution succeeded)\nCode output: All tests passed.\n" in out
    assert out.count("-" * 80) == 4  # one rule after each of the four messages
    # The program's own analysis of chat_messages.
    assert "Total messages exchanged: 4" in out
    assert "Code executions: 1" in out
    assert "All executions succeeded: True" in out
    # What the model received: the system message, the task, and the real output of the run.
    assert len(server.requests) == 2
    first, second = server.requests
    assert first["model"] == "gpt-4o-mini" and first["temperature"] == 0
    assert first["messages"][0]["role"] == "system"
    assert first["messages"][0]["content"].startswith("You are an expert Python engineer.")
    assert second["messages"][-1] == {
        "role": "user", "name": "user_proxy",
        "content": "exitcode: 0 (execution succeeded)\nCode output: All tests passed.\n",
    }
    assert second["messages"][-2]["role"] == "assistant"
    # The code ran in the program's work_dir, and the responses were cached under .cache/42.
    assert Path("autogen_workspace").is_dir()
    assert len(list(Path(".cache/42").rglob("*.json"))) == 2
    history = ns["history"]
    assert [m["name"] for m in history] == ["user_proxy", "python_engineer", "user_proxy", "python_engineer"]


def test_buggy_program_fails_then_is_fixed(runner: str, server: ScriptedOpenAIServer,
                                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    server.reply(
        fenced(BUGGY_BINARY_SEARCH, before="Here is the implementation:"),
        fenced(BINARY_SEARCH, before="I see the bug: I forgot to return mid when the element is found. Fixed:"),
        DONE,
    )
    ns = run_program("hello_autogen.py", runner, server, monkeypatch)
    out = capsys.readouterr().out

    # The tutorial's transcript showed this failure as "exitcode: 0 (execution succeeded)";
    # the model must see that the run failed, and why.
    failure = server.requests[1]["messages"][-1]["content"]
    assert failure.startswith("exitcode: 1 (execution failed)\nCode output: Traceback (most recent call last):")
    assert 'AssertionError: Failed' in failure
    assert server.requests[2]["messages"][-1]["content"] == (
        "exitcode: 0 (execution succeeded)\nCode output: All tests passed.\n"
    )
    assert "Total messages exchanged: 6" in out
    assert "Code executions: 2" in out
    assert "All executions succeeded: False" in out  # the first run did fail
    assert out.count(">>>>>>>> EXECUTING CODE BLOCK (inferred language is python)...") == 2
    statuses = re.findall(r"exitcode: (\d+)", "\n".join(m["content"] for m in ns["history"]))
    assert statuses == ["1", "0"]


def test_median_program(runner: str, server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    server.reply(fenced(MEDIAN), "The median function works for every case above. TERMINATE")
    ns = run_program("median.py", runner, server, monkeypatch)
    out = capsys.readouterr().out

    result = ns["result"]
    assert result.stop_reason is StopReason.TERMINATION_MSG
    assert len(result.executions) == 1 and result.executions[0].ok
    assert result.executions[0].output == "median tests: 5 passed; median([1, 2, 3, 4]) = 2.5\n"
    assert result.summary == "The median function works for every case above."
    assert "Total messages: 4" in out
    assert server.requests[1]["messages"][-1]["content"] == (
        "exitcode: 0 (execution succeeded)\nCode output: median tests: 5 passed; median([1, 2, 3, 4]) = 2.5\n"
    )
    usage = server.responses
    assert result.cost.models["gpt-4o-mini"].total_tokens == sum(r["usage"]["total_tokens"] for r in usage)


def test_rerun_is_served_from_the_cache(server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The seeds set cache_seed=42 "to save API cost": a rerun sends no request at all."""
    server.reply(fenced(MEDIAN), "Works. TERMINATE")
    first = run_program("median.py", "local", server, monkeypatch)["result"]
    assert len(server.requests) == 2
    second = run_program("median.py", "local", server, monkeypatch)["result"]
    assert len(server.requests) == 2  # nothing new reached the server
    assert second.chat_history == first.chat_history
    assert second.executions[0].output == first.executions[0].output  # the code itself ran again
    assert dict(second.cost.models) == {}
    assert second.cost.cached["gpt-4o-mini"] == first.cost.models["gpt-4o-mini"]
    capsys.readouterr()
