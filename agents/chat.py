"""The two-agent loop behind `initiate_chat`: turns, stop rules, the record of the chat.

The loop is a plain `while`, not AutoGen's mutual recursion of `send` and `receive`, so a long
chat cannot hit Python's recursion limit and every way out is one `break` with a reason.

A turn: the agent whose turn it is decides its reply (see `ConversableAgent`); the message is
recorded in both agents' histories, printed, and shown to the `termination` condition. With
`max_turns=n` the chat stops after the recipient's n-th reply, as in AutoGen (n=1: the task
and one answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sandbox import ExecutionResult, SandboxError

from .chat_result import ChatResult, StopReason
from .errors import LLMError
from .summary import check_summary_method, run_summary
from .termination import TerminationCondition
from .transcript import Transcript
from .usage import Cost

if TYPE_CHECKING:
    from .conversable import ConversableAgent

__all__ = ["run_chat"]

_INITIAL_PROMPT = ">"  # AutoGen asks the human with this when initiate_chat gets no message


def _initial_content(
    message: str | Mapping[str, Any] | Callable[..., Any] | None,
    sender: ConversableAgent,
    recipient: ConversableAgent,
) -> str:
    if message is None:
        return sender.get_human_input(_INITIAL_PROMPT)
    if callable(message):
        message = message(sender, recipient, {})
    if isinstance(message, Mapping):
        message = message.get("content")
    if not isinstance(message, str):
        raise TypeError(f"initiate_chat message must be a str, a dict with 'content' or a callable, not {message!r}")
    return message


def run_chat(
    sender: ConversableAgent,
    recipient: ConversableAgent,
    message: str | Mapping[str, Any] | Callable[..., Any] | None,
    *,
    clear_history: bool,
    silent: bool,
    max_turns: int | None,
    summary_method: str | Callable[..., str] | None,
    summary_args: Mapping[str, Any],
    termination: TerminationCondition | None,
) -> ChatResult:
    """Run one chat from `sender` to `recipient`; see `ConversableAgent.initiate_chat`."""
    if recipient is sender:
        raise ValueError("an agent cannot chat with itself")
    if recipient.name == sender.name:
        # Names tell the model which turns are its own and the proxy which code is new.
        raise ValueError(f"both agents are named {sender.name!r}; give them different names")
    if max_turns is not None and max_turns < 1:
        raise ValueError(f"max_turns must be >= 1 (or None for no limit), not {max_turns!r}")
    check_summary_method(summary_method, sender, recipient)
    transcript = Transcript(silent=silent)
    sender._prepare(recipient, clear_history)
    recipient._prepare(sender, clear_history)
    if termination is not None:
        termination.reset()
    usage_marks = (len(sender._usage), len(recipient._usage))
    human_marks = (len(sender._human_input), len(recipient._human_input))
    roles = {id(sender): "user", id(recipient): "assistant"}
    executions: list[ExecutionResult] = []

    def deliver(content: str, author: ConversableAgent, listener: ConversableAgent) -> str | None:
        msg = {"content": content, "role": roles[id(author)], "name": author.name}
        author._record(listener, msg)
        listener._record(author, msg)
        transcript.message(author.name, listener.name, content)
        return termination.update(msg) if termination is not None else None

    stop, stop_message, error = StopReason.ERROR, "", None
    try:
        fired = deliver(_initial_content(message, sender, recipient), sender, recipient)
        author, listener = sender, recipient
        answered = 0  # replies the recipient has given
        while True:
            if fired is not None:
                stop, stop_message = StopReason.TERMINATION_CONDITION, f"termination condition: {fired}"
                break
            if max_turns is not None and author is recipient and answered >= max_turns:
                stop, stop_message = StopReason.MAX_TURNS, f"max_turns={max_turns} reached"
                break
            reply = listener._reply(author, transcript)
            if reply.execution is not None:
                executions.append(reply.execution)
            if reply.content is None:
                stop, stop_message = reply.stop or StopReason.TERMINATION_MSG, reply.detail
                break
            fired = deliver(reply.content, listener, author)
            if listener is recipient:
                answered += 1
            author, listener = listener, author
    except (LLMError, SandboxError) as exc:
        stop, stop_message, error = StopReason.ERROR, f"{type(exc).__name__}: {exc}", exc

    history = tuple(dict(m) for m in sender.chat_messages[recipient])
    try:
        summary = run_summary(summary_method, sender, recipient, summary_args, history)
    except LLMError as exc:
        summary = ""
        error = error or exc
    records = sender._usage[usage_marks[0]:] + recipient._usage[usage_marks[1]:]
    human = sender._human_input[human_marks[0]:] + recipient._human_input[human_marks[1]:]
    return ChatResult(
        chat_history=history,
        summary=summary,
        cost=Cost.of(records),
        stop_reason=stop,
        stop_message=stop_message,
        executions=tuple(executions),
        human_input=tuple(human),
        error=error,
    )
