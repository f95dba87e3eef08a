"""The loop's stop rules: termination messages, max_turns, auto-reply limits, conditions, history.

Code "runs" on a RecordingExecutor here (the seed-program tests use the real runners), so
these tests are about policy: who speaks, when the chat ends and what `stop_reason` says.
"""

from __future__ import annotations

from typing import Any

import pytest

from agents import (
    AssistantAgent,
    MaxMessageTermination,
    StopReason,
    TextMentionTermination,
    UserProxyAgent,
    default_is_termination_msg,
)
from openai_server import ScriptedOpenAIServer, fenced
from recording_executor import RecordingExecutor


def make_pair(
    llm_config: dict[str, Any], executor: RecordingExecutor, **proxy: Any
) -> tuple[AssistantAgent, UserProxyAgent]:
    assistant = AssistantAgent("coder", llm_config=llm_config)
    proxy.setdefault("human_input_mode", "NEVER")
    user_proxy = UserProxyAgent("user_proxy", code_execution_config={"executor": executor}, **proxy)
    return assistant, user_proxy


@pytest.mark.parametrize(
    ("content", "ends"),
    [
        ("TERMINATE", True),
        ("All tests pass.\n\nTERMINATE", True),
        ("Done. TERMINATE.", True),
        ("**TERMINATE**", True),
        ("Finished: TERMINATE!  \n\n", True),
        ("TERMINATE\n", True),
        ("I will say TERMINATE when the tests pass.", False),  # mentioned, not said
        ("The loop will terminate.", False),  # the lower-case word is prose
        ('```python\nprint("TERMINATE")\n```', False),  # code to run, not a sign-off
        ("NOTTERMINATE", False),
        ("", False),
        ("exitcode: 0 (execution succeeded)\nCode output: TERMINATE\n", False),  # what the code printed
    ],
)
def test_default_is_termination_msg(content: str, ends: bool) -> None:
    assert default_is_termination_msg({"content": content}) is ends


def test_default_is_termination_msg_ignores_missing_content() -> None:
    assert default_is_termination_msg({"role": "user"}) is False
    assert default_is_termination_msg({"content": None}) is False


def test_code_runs_then_termination_message_ends_the_chat(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                          recorder: RecordingExecutor) -> None:
    server.reply(fenced("print('hi')"), "It printed hi.\n\nTERMINATE.")
    assistant, user_proxy = make_pair(llm_config, recorder)
    result = user_proxy.initiate_chat(assistant, message="say hi", silent=True)

    assert result.stop_reason is StopReason.TERMINATION_MSG
    assert result.stop_message == "user_proxy received a termination message from coder"
    assert [c[0].code for c in recorder.calls] == ["print('hi')\n"]
    assert [(m["name"], m["role"]) for m in result.chat_history] == [
        ("user_proxy", "user"), ("coder", "assistant"), ("user_proxy", "user"), ("coder", "assistant"),
    ]
    assert result.chat_history[2]["content"] == "exitcode: 0 (execution succeeded)\nCode output: ok\n"
    assert user_proxy.chat_messages[assistant] == list(result.chat_history)
    assert assistant.chat_messages[user_proxy] == list(result.chat_history)
    # The model sees its own turns as `assistant` and the proxy's as `user`, after its system message.
    roles = [m["role"] for m in server.requests[1]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_code_that_prints_terminate_does_not_end_the_chat(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                          recorder: RecordingExecutor) -> None:
    recorder.default_output = "TERMINATE\n"
    server.reply(fenced("print('TERMINATE')"), "It printed the word. TERMINATE")
    assistant, user_proxy = make_pair(llm_config, recorder)
    result = user_proxy.initiate_chat(assistant, message="print the word", silent=True)
    assert len(server.requests) == 2  # the assistant answered the report instead of stopping
    assert result.stop_message == "user_proxy received a termination message from coder"


def test_custom_is_termination_msg_replaces_the_default(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                        recorder: RecordingExecutor) -> None:
    server.reply("TERMINATE", "still going", "ALL DONE!")
    assistant, user_proxy = make_pair(
        llm_config, recorder, is_termination_msg=lambda m: "ALL DONE!" in (m.get("content") or ""),
    )
    result = user_proxy.initiate_chat(assistant, message="go", silent=True)
    assert result.stop_reason is StopReason.TERMINATION_MSG
    said = [m["content"] for m in result.chat_history if m["name"] == "coder"]
    assert said == ["TERMINATE", "still going", "ALL DONE!"]
    # No code in the assistant's messages: the proxy sent its default auto reply (AutoGen's "").
    assert [m["content"] for m in result.chat_history if m["name"] == "user_proxy"][1:] == ["", ""]
    assert recorder.calls == []


def test_max_consecutive_auto_reply(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                    recorder: RecordingExecutor) -> None:
    server.reply(*(fenced(f"print({i})") for i in range(3)))
    assistant, user_proxy = make_pair(llm_config, recorder, max_consecutive_auto_reply=2)
    result = user_proxy.initiate_chat(assistant, message="loop", silent=True)

    assert result.stop_reason is StopReason.MAX_CONSECUTIVE_AUTO_REPLY
    assert result.stop_message == "user_proxy sent max_consecutive_auto_reply=2 automatic replies in a row"
    assert len(result.chat_history) == 6  # task, then (code, result) twice, then the unanswered code
    assert len(recorder.calls) == 2 and len(result.executions) == 2
    assert len(server.requests) == 3 and server.pending == 0


def test_the_assistants_own_auto_reply_limit(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                             recorder: RecordingExecutor) -> None:
    server.reply(fenced("print(1)"), "never requested")
    assistant = AssistantAgent("coder", llm_config=llm_config, max_consecutive_auto_reply=1)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config={"executor": recorder})
    result = user_proxy.initiate_chat(assistant, message="go", silent=True)
    assert result.stop_reason is StopReason.MAX_CONSECUTIVE_AUTO_REPLY
    assert result.stop_message == "coder sent max_consecutive_auto_reply=1 automatic replies in a row"
    assert len(server.requests) == 1 and len(result.chat_history) == 3


def test_max_turns(server: ScriptedOpenAIServer, llm_config: dict[str, Any], recorder: RecordingExecutor) -> None:
    server.reply(fenced("print(1)"), fenced("print(2)"), "never requested")
    assistant, user_proxy = make_pair(llm_config, recorder)
    result = user_proxy.initiate_chat(assistant, message="loop", max_turns=2, silent=True)

    assert result.stop_reason is StopReason.MAX_TURNS
    assert result.stop_message == "max_turns=2 reached"
    assert [m["name"] for m in result.chat_history] == ["user_proxy", "coder", "user_proxy", "coder"]
    assert len(recorder.calls) == 1  # the last reply's code is not run: the chat is over
    assert len(server.requests) == 2 and server.pending == 1


def test_max_turns_does_not_hide_an_earlier_termination(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                        recorder: RecordingExecutor) -> None:
    server.reply(fenced("print(1)"), "TERMINATE")
    assistant, user_proxy = make_pair(llm_config, recorder)
    result = user_proxy.initiate_chat(assistant, message="go", max_turns=5, silent=True)
    assert result.stop_reason is StopReason.TERMINATION_MSG
    assert len(result.chat_history) == 4


def test_max_turns_must_be_positive(llm_config: dict[str, Any], recorder: RecordingExecutor) -> None:
    assistant, user_proxy = make_pair(llm_config, recorder)
    with pytest.raises(ValueError, match="max_turns"):
        user_proxy.initiate_chat(assistant, message="go", max_turns=0, silent=True)


@pytest.mark.parametrize(
    ("limit", "length", "fired"),
    [
        (5, 4, "text 'DONE' mentioned by coder"),  # go, working, "", "DONE here": the text comes first
        (3, 3, "maximum of 3 messages reached"),  # go, working, "": the count comes first
    ],
)
def test_or_of_conditions(server: ScriptedOpenAIServer, llm_config: dict[str, Any], recorder: RecordingExecutor,
                          limit: int, length: int, fired: str) -> None:
    server.reply("working", "DONE here", "never requested")
    assistant, user_proxy = make_pair(llm_config, recorder)
    condition = TextMentionTermination("DONE") | MaxMessageTermination(limit)
    result = user_proxy.initiate_chat(assistant, message="go", termination=condition, silent=True)

    assert result.stop_reason is StopReason.TERMINATION_CONDITION
    assert result.stop_message == f"termination condition: {fired}"
    assert len(result.chat_history) == length
    assert server.pending == 3 - length // 2


def test_and_of_conditions_waits_for_both(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                          recorder: RecordingExecutor) -> None:
    server.reply("APPROVED already", "more", "and more")
    assistant, user_proxy = make_pair(llm_config, recorder)
    condition = TextMentionTermination("APPROVED") & MaxMessageTermination(5)
    result = user_proxy.initiate_chat(assistant, message="go", termination=condition, silent=True)

    # The text fired on message 2; the chat went on until the count fired too, on message 5.
    assert result.stop_reason is StopReason.TERMINATION_CONDITION
    assert len(result.chat_history) == 5
    assert result.stop_message == (
        "termination condition: text 'APPROVED' mentioned by coder and maximum of 5 messages reached"
    )


def test_and_needs_the_text_even_after_the_count(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                 recorder: RecordingExecutor) -> None:
    server.reply("one", "two", "three APPROVED", "never")
    assistant, user_proxy = make_pair(llm_config, recorder)
    condition = MaxMessageTermination(2) & TextMentionTermination("APPROVED", sources=["coder"])
    result = user_proxy.initiate_chat(assistant, message="APPROVED? (the task mentions it)", termination=condition,
                                      silent=True)
    assert result.stop_reason is StopReason.TERMINATION_CONDITION
    assert result.chat_history[-1]["content"] == "three APPROVED"
    assert len(result.chat_history) == 6


def test_conditions_are_reset_between_chats(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                            recorder: RecordingExecutor) -> None:
    server.reply("a", "b", "c", "d")
    assistant, user_proxy = make_pair(llm_config, recorder)
    condition = MaxMessageTermination(2)
    first = user_proxy.initiate_chat(assistant, message="one", termination=condition, silent=True)
    second = user_proxy.initiate_chat(assistant, message="two", termination=condition, silent=True)
    assert [m["content"] for m in first.chat_history] == ["one", "a"]
    assert [m["content"] for m in second.chat_history] == ["two", "b"]  # not stopped at once by a stale count


def test_clear_history_false_continues_the_conversation(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                        recorder: RecordingExecutor) -> None:
    server.reply("flatten written. TERMINATE", "depth added. TERMINATE", "fresh start. TERMINATE")
    assistant, user_proxy = make_pair(llm_config, recorder)
    first = user_proxy.initiate_chat(assistant, message="Write flatten.", silent=True)
    second = user_proxy.initiate_chat(assistant, message="Now add a depth parameter.", clear_history=False, silent=True)
    assert first.stop_reason is second.stop_reason is StopReason.TERMINATION_MSG

    assert [m["content"] for m in second.chat_history] == [
        "Write flatten.", "flatten written. TERMINATE", "Now add a depth parameter.", "depth added. TERMINATE",
    ]
    sent = [m["content"] for m in server.requests[1]["messages"][1:]]
    assert sent == ["Write flatten.", "flatten written. TERMINATE", "Now add a depth parameter."]
    third = user_proxy.initiate_chat(assistant, message="Something else.", silent=True)  # clear_history=True
    assert [m["content"] for m in third.chat_history] == ["Something else.", "fresh start. TERMINATE"]
    assert [m["content"] for m in server.requests[2]["messages"][1:]] == ["Something else."]


def test_transcript_is_printed_unless_silent(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                             recorder: RecordingExecutor, capsys: pytest.CaptureFixture[str]) -> None:
    two_blocks = fenced("echo hi", "sh") + "\n```python\nprint(2)\n```\n"
    server.reply(two_blocks, "TERMINATE", fenced("print(3)"), "TERMINATE")
    assistant, user_proxy = make_pair(llm_config, recorder)
    user_proxy.initiate_chat(assistant, message="go")
    out = capsys.readouterr().out
    assert out.startswith("user_proxy (to coder):\n\ngo\n\n" + "-" * 80 + "\n")
    assert "\n>>>>>>>> EXECUTING CODE BLOCK 1 (inferred language is sh)...\n" in out
    assert "\n>>>>>>>> EXECUTING CODE BLOCK 2 (inferred language is python)...\n" in out
    assert "coder (to user_proxy):\n\nTERMINATE\n\n" + "-" * 80 in out
    user_proxy.initiate_chat(assistant, message="again", silent=True)
    assert capsys.readouterr().out == ""  # nothing, the execution notice included
    assert len(recorder.calls) == 2


def test_a_chat_with_itself_or_a_namesake_is_refused(llm_config: dict[str, Any]) -> None:
    assistant = AssistantAgent("coder", llm_config=llm_config)
    with pytest.raises(ValueError, match="itself"):
        assistant.initiate_chat(assistant, message="hi")
    namesake = UserProxyAgent("coder", code_execution_config=False)
    with pytest.raises(ValueError, match="different names"):
        namesake.initiate_chat(assistant, message="hi")


def test_generate_reply_outside_a_chat(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    server.reply("a reply")
    assistant = AssistantAgent("coder", llm_config=llm_config, system_message="Be brief.")
    assert assistant.generate_reply(messages=[{"content": "hi", "role": "user", "name": "someone"}]) == "a reply"
    assert server.requests[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi", "name": "someone"},
    ]
