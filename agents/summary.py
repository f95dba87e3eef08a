"""How a chat is summed up: the last message, a reflection by the model, or your function."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import prompts

if TYPE_CHECKING:
    from .conversable import ConversableAgent

__all__ = ["SUMMARY_METHODS", "check_summary_method", "last_msg_summary", "reflection_summary"]

SUMMARY_METHODS = ("last_msg", "reflection_with_llm")
_TRAILING_TERMINATE = re.compile(r"\s*(?<![A-Za-z0-9_])TERMINATE[\s.!?,;:*_~]*\Z")


def check_summary_method(method: object, sender: ConversableAgent, recipient: ConversableAgent) -> None:
    """Refuse a summary method that cannot work, before the chat spends anything."""
    if method is None or callable(method):
        return
    if method not in SUMMARY_METHODS:
        raise ValueError(f"summary_method must be one of {SUMMARY_METHODS} or a callable, not {method!r}")
    if method == "reflection_with_llm" and sender.client is None and recipient.client is None:
        raise ValueError("summary_method='reflection_with_llm' needs an agent with an llm_config; neither has one")


def last_msg_summary(history: Sequence[Mapping[str, Any]]) -> str:
    """The last message's content without the closing `TERMINATE` (AutoGen removed every one)."""
    if not history:
        return ""
    content = history[-1].get("content")
    if not isinstance(content, str):
        return ""
    return _TRAILING_TERMINATE.sub("", content).strip()


def reflection_summary(
    sender: ConversableAgent, recipient: ConversableAgent, args: Mapping[str, Any]
) -> str:
    """Ask a model to sum up the chat: the sender's if it has one, else the recipient's.

    The request is the chat as that agent sees it plus `summary_prompt` with `summary_role`
    (default "system"), as AutoGen sends it; the agent's system message is left out.
    """
    agent, peer = (sender, recipient) if sender.client is not None else (recipient, sender)
    prompt = str(args.get("summary_prompt") or prompts.SUMMARY_PROMPT)
    role = str(args.get("summary_role") or "system")
    history = agent.chat_messages[peer]
    messages = [m for m in agent._llm_messages(history) if m["role"] != "system"]
    messages.append({"role": role, "content": prompt})
    return agent._complete(messages).content.strip()


def run_summary(
    method: str | Callable[..., str] | None,
    sender: ConversableAgent,
    recipient: ConversableAgent,
    args: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
) -> str:
    if method is None:
        return ""
    if callable(method):
        return str(method(sender, recipient, args))
    if method == "reflection_with_llm":
        return reflection_summary(sender, recipient, args)
    return last_msg_summary(history)
