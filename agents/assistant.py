"""`AssistantAgent`: the model that writes code (AutoGen 0.2's shortcut, same defaults)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .conversable import ConversableAgent, HumanInputMode
from .errors import LLMConfigError
from .prompts import ASSISTANT_SYSTEM_MESSAGE

if TYPE_CHECKING:
    from .llm_config import LLMConfig

__all__ = ["AssistantAgent"]


class AssistantAgent(ConversableAgent):
    """An agent whose replies come from a model; by default it never asks a human, never runs code.

        assistant = AssistantAgent("python_engineer", llm_config={"config_list": [{"model": "gpt-4o-mini"}]})

    The default system message drives the write-run-fix loop and asks for `TERMINATE` at
    the end.
    """

    DEFAULT_SYSTEM_MESSAGE = ASSISTANT_SYSTEM_MESSAGE
    DEFAULT_HUMAN_INPUT_MODE: HumanInputMode = "NEVER"

    def __init__(
        self,
        name: str,
        system_message: str | None = None,
        llm_config: Mapping[str, Any] | LLMConfig | Literal[False] | None = None,
        is_termination_msg: Callable[[Mapping[str, Any]], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode = "NEVER",
        code_execution_config: Mapping[str, Any] | Literal[False] = False,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        if llm_config is None:
            raise LLMConfigError(
                f"AssistantAgent {name!r} needs an llm_config, e.g. "
                "{'config_list': [{'model': 'gpt-4o-mini'}]} (False for an agent without a model)"
            )
        super().__init__(
            name,
            system_message=system_message,
            is_termination_msg=is_termination_msg,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            code_execution_config=code_execution_config,
            llm_config=llm_config,
            description=description,
            **kwargs,
        )
