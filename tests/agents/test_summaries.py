"""`summary_method`: "last_msg", "reflection_with_llm" (and its cost), or a function."""

from __future__ import annotations

from typing import Any

import pytest

from agents import AssistantAgent, ConversableAgent, StopReason, UserProxyAgent
from openai_server import ScriptedOpenAIServer, ScriptedReply, fenced
from recording_executor import RecordingExecutor


def pair(llm_config: dict[str, Any], executor: RecordingExecutor) -> tuple[AssistantAgent, UserProxyAgent]:
    return (AssistantAgent("coder", llm_config=llm_config),
            UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config={"executor": executor}))


def test_last_msg_is_the_final_message_without_terminate(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                         recorder: RecordingExecutor) -> None:
    server.reply(fenced("print(6 * 7)"), "The answer is 42; say TERMINATE to stop.\n\nTERMINATE")
    assistant, user_proxy = pair(llm_config, recorder)
    res = user_proxy.initiate_chat(assistant, message="6 * 7?", silent=True)
    assert res.summary == "The answer is 42; say TERMINATE to stop."  # only the sign-off is removed
    assert len(server.requests) == 2  # no extra request for a last_msg summary


def test_reflection_with_llm_asks_the_model(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                           recorder: RecordingExecutor) -> None:
    server.reply(
        ScriptedReply(content=fenced("print(6 * 7)"), prompt_tokens=10, completion_tokens=10),
        ScriptedReply(content="42. TERMINATE", prompt_tokens=20, completion_tokens=2),
        ScriptedReply(content="  The product 6 * 7 is 42, checked by running it.  ", prompt_tokens=30,
                      completion_tokens=12),
    )
    assistant, user_proxy = pair(llm_config, recorder)
    prompt = "Summarise what was computed and whether it ran. One sentence."
    res = user_proxy.initiate_chat(assistant, message="6 * 7?", silent=True, summary_method="reflection_with_llm",
                                   summary_args={"summary_prompt": prompt})

    assert res.summary == "The product 6 * 7 is 42, checked by running it."
    assert res.stop_reason is StopReason.TERMINATION_MSG
    asked = server.requests[2]["messages"]
    # The chat as the assistant saw it (no system message), then the prompt as a system message.
    assert [m["content"] for m in asked[:-1]] == [m["content"] for m in res.chat_history]
    assert asked[-1] == {"role": "system", "content": prompt}
    assert res.cost.total.total_tokens == 20 + 22 + 42  # the summary's tokens are part of the chat's cost
    assert len(res.chat_history) == 4  # the summary is not a message of the chat


def test_reflection_uses_the_default_prompt_and_role(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                                    recorder: RecordingExecutor) -> None:
    server.reply("Done. TERMINATE", "summary")
    assistant, user_proxy = pair(llm_config, recorder)
    user_proxy.initiate_chat(assistant, message="x", silent=True, summary_method="reflection_with_llm",
                             summary_args={"summary_role": "user"})
    assert server.requests[1]["messages"][-1] == {
        "role": "user",
        "content": "Summarize the takeaway from the conversation. Do not add any introductory phrases.",
    }


def test_a_failed_reflection_keeps_the_chat(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                                           recorder: RecordingExecutor) -> None:
    server.reply("Done. TERMINATE")
    server.fail_next(1, status=400)
    assistant, user_proxy = pair(llm_config, recorder)
    res = user_proxy.initiate_chat(assistant, message="x", silent=True, summary_method="reflection_with_llm")
    assert res.stop_reason is StopReason.TERMINATION_MSG  # how the chat ended is unchanged
    assert res.summary == "" and res.error is not None
    assert len(res.chat_history) == 2


def test_a_callable_summary(server: ScriptedOpenAIServer, llm_config: dict[str, Any],
                            recorder: RecordingExecutor) -> None:
    server.reply(fenced("print(1)"), "TERMINATE")
    assistant, user_proxy = pair(llm_config, recorder)
    seen: list[tuple[ConversableAgent, ConversableAgent, dict[str, Any]]] = []

    def count_runs(sender: ConversableAgent, recipient: ConversableAgent, args: dict[str, Any]) -> str:
        seen.append((sender, recipient, args))
        runs = sum("exitcode:" in m["content"] for m in sender.chat_messages[recipient])
        return f"{runs} run(s) {args['unit']}"

    res = user_proxy.initiate_chat(assistant, message="x", silent=True, summary_method=count_runs,
                                   summary_args={"unit": "total"})
    assert res.summary == "1 run(s) total"
    assert seen == [(user_proxy, assistant, {"unit": "total"})]


def test_impossible_summary_methods_are_refused_before_the_chat(server: ScriptedOpenAIServer,
                                                                llm_config: dict[str, Any],
                                                                recorder: RecordingExecutor) -> None:
    assistant, user_proxy = pair(llm_config, recorder)
    with pytest.raises(ValueError, match="summary_method"):
        user_proxy.initiate_chat(assistant, message="x", summary_method="first_msg")
    silent_partner = ConversableAgent("echo", human_input_mode="NEVER", default_auto_reply="TERMINATE")
    with pytest.raises(ValueError, match="llm_config"):
        user_proxy.initiate_chat(silent_partner, message="x", summary_method="reflection_with_llm")
    assert server.requests == []  # refused before anything was sent
