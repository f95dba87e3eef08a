"""`human_input_mode` NEVER / TERMINATE / ALWAYS, with human input from a scripted `input_func`.

The prompts are AutoGen 0.2's, word for word; the tests pin them, because scripts that drive
`input_func` (and people) recognise them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from agents import AssistantAgent, StopReason, UserProxyAgent
from openai_server import ScriptedOpenAIServer, fenced
from recording_executor import RecordingExecutor

ALWAYS = "Provide feedback to coder. Press enter to skip and use auto-reply, or type 'exit' to end the conversation: "
AT_TERMINATE = "Please give feedback to coder. Press enter or type 'exit' to stop the conversation: "
AT_LIMIT = ("Please give feedback to coder. Press enter to skip and use auto-reply, "
            "or type 'exit' to stop the conversation: ")


class ScriptedHuman:
    """An `input_func` that answers from a list and remembers every prompt it was shown."""

    def __init__(self, answers: Iterable[str]) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise AssertionError(f"the human was asked more often than scripted: {prompt!r}")
        return self.answers.pop(0)


def chat(server: ScriptedOpenAIServer, llm_config: dict[str, Any], executor: RecordingExecutor, mode: str,
         human: Callable[[str], str], replies: Iterable[str], **proxy: Any) -> Any:
    server.reply(*replies)
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode=mode, input_func=human,
                                code_execution_config={"executor": executor}, **proxy)
    return user_proxy.initiate_chat(assistant, message="Write fizzbuzz.", silent=True)


def test_never_asks_no_one(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                           recorder: RecordingExecutor) -> None:
    human = ScriptedHuman([])
    result = chat(server, llm_config, recorder, "NEVER", human, [fenced("print(1)"), "TERMINATE"])
    assert human.prompts == []
    assert result.stop_reason is StopReason.TERMINATION_MSG
    assert result.human_input == ()


def test_always_asks_every_turn(server: ScriptedOpenAIServer, llm_config: dict[str, Any], recorder: RecordingExecutor,
                                capsys: pytest.CaptureFixture[str]) -> None:
    human = ScriptedHuman(["", "Add a docstring, please.", "exit"])
    result = chat(server, llm_config, recorder, "ALWAYS", human,
                  [fenced("print('v1')"), fenced("print('v2')"), "Docstring added."])

    assert human.prompts == [ALWAYS, ALWAYS, ALWAYS]
    assert result.stop_reason is StopReason.HUMAN_EXIT
    assert result.stop_message == "the human at user_proxy typed 'exit'"
    assert result.human_input == ("", "Add a docstring, please.", "exit")
    proxy_turns = [m["content"] for m in result.chat_history if m["name"] == "user_proxy"]
    # Enter: the auto reply runs the code. Words: they are the reply, and v2 is not run.
    assert proxy_turns == ["Write fizzbuzz.", "exitcode: 0 (execution succeeded)\nCode output: ok\n",
                           "Add a docstring, please."]
    assert [c[0].code for c in recorder.calls] == ["print('v1')\n"]
    assert result.chat_history[-1]["content"] == "Docstring added."  # answered with 'exit'
    assert len(result.chat_history) == 6


def test_always_enter_on_a_termination_message_ends_the_chat(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                            recorder: RecordingExecutor) -> None:
    human = ScriptedHuman([""])
    result = chat(server, llm_config, recorder, "ALWAYS", human, ["Nothing to do. TERMINATE"])
    assert result.stop_reason is StopReason.TERMINATION_MSG
    assert human.prompts == [ALWAYS]


def test_always_prints_autogen_notices(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                       recorder: RecordingExecutor, capsys: pytest.CaptureFixture[str]) -> None:
    server.reply(fenced("print(1)"), "TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="ALWAYS", input_func=ScriptedHuman(["", ""]),
                                code_execution_config={"executor": recorder})
    user_proxy.initiate_chat(assistant, message="go")
    out = capsys.readouterr().out
    assert out.count(">>>>>>>> NO HUMAN INPUT RECEIVED.") == 2
    assert out.count(">>>>>>>> USING AUTO REPLY...") == 1  # the second Enter ended the chat instead


def test_terminate_asks_only_at_the_end(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                        recorder: RecordingExecutor) -> None:
    human = ScriptedHuman(["Also handle n = 0.", ""])
    result = chat(server, llm_config, recorder, "TERMINATE", human, [
        fenced("print(1)"), "Works. TERMINATE", fenced("print(0)"), "Handled. TERMINATE",
    ])
    assert human.prompts == [AT_TERMINATE, AT_TERMINATE]  # not asked after the code replies
    assert result.stop_reason is StopReason.TERMINATION_MSG
    assert len(recorder.calls) == 2
    assert result.chat_history[4] == {"content": "Also handle n = 0.", "role": "user", "name": "user_proxy"}
    assert result.human_input == ("Also handle n = 0.", "")


def test_terminate_exit_is_a_human_exit(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                        recorder: RecordingExecutor) -> None:
    result = chat(server, llm_config, recorder, "TERMINATE", ScriptedHuman(["exit"]), ["Done. TERMINATE"])
    assert result.stop_reason is StopReason.HUMAN_EXIT


def test_terminate_asks_when_the_auto_reply_limit_is_reached(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                             recorder: RecordingExecutor) -> None:
    human = ScriptedHuman(["", "exit"])
    result = chat(server, llm_config, recorder, "TERMINATE", human,
                  [fenced("print(1)"), fenced("print(2)"), fenced("print(3)")], max_consecutive_auto_reply=1)
    # One automatic reply; then the human is asked. Enter: one more automatic reply (AutoGen's
    # behaviour), asked again; 'exit' ends it.
    assert human.prompts == [AT_LIMIT, AT_LIMIT]
    assert result.stop_reason is StopReason.HUMAN_EXIT
    assert len(recorder.calls) == 2


def test_no_message_asks_the_human_for_the_task(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    server.reply("Hello! TERMINATE")
    human = ScriptedHuman(["Say hello."])
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", input_func=human, code_execution_config=False)
    result = user_proxy.initiate_chat(assistant, silent=True)
    assert human.prompts == [">"]
    assert result.chat_history[0]["content"] == "Say hello."


def test_bad_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="human_input_mode"):
        UserProxyAgent("p", human_input_mode="SOMETIMES", code_execution_config=False)  # type: ignore[arg-type]
