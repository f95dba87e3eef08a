"""The record of one chat: what was said, what ran, what it cost and why it stopped."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox import ExecutionResult, FileChange

from .usage import Cost

__all__ = ["ChatResult", "StopReason"]


class StopReason(str, enum.Enum):
    """Why a chat ended. `str` mixin so that logs and JSON show the plain word."""

    TERMINATION_MSG = "termination_msg"  # an agent's is_termination_msg accepted a message
    MAX_TURNS = "max_turns"  # initiate_chat's max_turns replies were given
    MAX_CONSECUTIVE_AUTO_REPLY = "max_consecutive_auto_reply"  # an agent hit its auto-reply limit
    HUMAN_EXIT = "human_exit"  # the human typed `exit`
    TERMINATION_CONDITION = "termination_condition"  # the `termination=` condition fired
    ERROR = "error"  # the model never answered or the engine failed; see `ChatResult.error`


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatResult:
    """What `initiate_chat` returns.

    `chat_history` holds this chat's messages as `chat_messages` does (with earlier chats'
    messages first when `clear_history=False`): dicts with `content`, `role` ("user" for the
    agent that started the chat, "assistant" for the other) and `name` (the author).
    `stop_message` says in words what `stop_reason` means for this chat. `error` is the
    exception that ended the chat (`StopReason.ERROR`) or that prevented the summary.
    """

    chat_history: tuple[Mapping[str, Any], ...]
    summary: str
    cost: Cost
    stop_reason: StopReason
    stop_message: str = ""
    executions: tuple[ExecutionResult, ...] = ()
    human_input: tuple[str, ...] = ()
    error: BaseException | None = field(default=None, compare=False)

    @property
    def files(self) -> tuple[FileChange, ...]:
        """The workspace files the chat's runs wrote, each path once (its latest state), in path order.

        `[f for f in result.files if f.is_image]` are the plots and pictures to show or attach;
        read their bytes with the executor's `read_file`.
        """
        latest: dict[str, FileChange] = {}
        for execution in self.executions:
            for change in execution.files:
                first = latest.get(change.path)
                created = first.created if first is not None else change.created
                latest[change.path] = FileChange(
                    path=change.path, size=change.size, created=created, mime_type=change.mime_type
                )
        return tuple(latest[path] for path in sorted(latest))
