"""The public surface of `agents`, pinned: a name added or removed is a decision, not an accident."""

from __future__ import annotations

import inspect

import agents

EXPECTED = {
    "AgentError", "AndTermination", "AssistantAgent", "ChatResult", "CodeExecutionConfig", "Completion",
    "ConversableAgent", "Cost", "DEFAULT_OUTPUT_BUDGET", "LLMClient", "LLMConfig", "LLMConfigError", "LLMError",
    "MaxMessageTermination", "ModelConfig", "OrTermination", "RetryPolicy", "StopReason", "TerminationCondition",
    "TextMentionTermination", "TokenUsage", "UserProxyAgent", "default_is_termination_msg", "execution_reply",
}


def test_all_is_pinned_and_importable() -> None:
    assert set(agents.__all__) == EXPECTED
    for name in agents.__all__:
        assert getattr(agents, name) is not None


def test_every_public_class_and_function_has_a_docstring() -> None:
    for name in agents.__all__:
        value = getattr(agents, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_stop_reasons_are_the_documented_words() -> None:
    assert {r.value for r in agents.StopReason} == {
        "termination_msg", "max_turns", "max_consecutive_auto_reply", "human_exit", "termination_condition", "error",
    }
