"""`UserProxyAgent`: stands in for the human: runs the code it receives, asks the human when told."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .conversable import ConversableAgent, HumanInputMode
from .prompts import USER_PROXY_SYSTEM_MESSAGE

if TYPE_CHECKING:
    from .llm_config import LLMConfig

__all__ = ["UserProxyAgent"]


class UserProxyAgent(ConversableAgent):
    """An agent that runs code blocks it receives and replies with the result.

    `human_input_mode`: "ALWAYS" asks the human (through `input_func`) every turn; "TERMINATE"
    (the default, as in AutoGen) asks only when a termination message arrives or the auto-reply
    limit is reached; "NEVER" never asks. Execution is on by default (`code_execution_config`
    `{}`: Docker when an engine answers, else the local runner); `False` turns it off. Close the
    proxy (`close()` or `with`) to release the executor it created.
    """

    DEFAULT_SYSTEM_MESSAGE = USER_PROXY_SYSTEM_MESSAGE
    DEFAULT_HUMAN_INPUT_MODE: HumanInputMode = "TERMINATE"

    def __init__(
        self,
        name: str,
        is_termination_msg: Callable[[Mapping[str, Any]], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode = "TERMINATE",
        code_execution_config: Mapping[str, Any] | Literal[False] | None = None,
        default_auto_reply: str = "",
        llm_config: Mapping[str, Any] | LLMConfig | Literal[False] | None = False,
        system_message: str | None = None,
        description: str | None = None,
        input_func: Callable[[str], str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name,
            system_message=system_message,
            is_termination_msg=is_termination_msg,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            code_execution_config={} if code_execution_config is None else code_execution_config,
            llm_config=llm_config,
            default_auto_reply=default_auto_reply,
            description=description,
            input_func=input_func,
            **kwargs,
        )
