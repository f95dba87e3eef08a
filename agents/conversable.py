"""`ConversableAgent`: what both agents share: history, the reply policy, human input, cleanup.

How an agent replies to the agent it talks with (AutoGen 0.2's order, one reply per turn):

1. Termination and human input (`human_input_mode`): may end the chat, or return what the
   human typed. In `NEVER` mode no one is asked; the chat ends on a termination message or
   when `max_consecutive_auto_reply` automatic replies were sent in a row.
2. Code: if execution is on and the other agent's newest message holds code, run it and
   reply with the result (`exitcode: ...`).
3. The model: if the agent has an `llm_config`, ask it.
4. Otherwise `default_auto_reply`.

Resources: an agent that creates its own executor (or HTTP client) owns it and releases it
in `close()`; agents are context managers. Close explicitly: a proxy dropped without `close()`
closes its executor when it is garbage-collected, and a process killed outright cannot clean
up at all (the Docker runner labels its containers so `sandbox reap` finds them).
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from sandbox import CodeBlock, CodeExecutor, ExecutionResult

from . import prompts
from .chat_result import ChatResult, StopReason
from .code_execution import CodeExecutionConfig, create_executor, parse_code_execution_config, runnable
from .execution_reply import execution_reply
from .llm import Completion, LLMClient
from .termination import TerminationCondition, default_is_termination_msg
from .transcript import Transcript
from .usage import Cost, UsageRecord

if TYPE_CHECKING:
    from .llm_config import LLMConfig

__all__ = ["ConversableAgent", "HumanInputMode", "Reply"]

HumanInputMode = Literal["ALWAYS", "NEVER", "TERMINATE"]
_MODES = ("ALWAYS", "NEVER", "TERMINATE")
MAX_CONSECUTIVE_AUTO_REPLY = 100  # AutoGen's default when none is given
_API_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One turn's decision: a message to send, or why the agent stops (`content is None`)."""

    content: str | None
    stop: StopReason | None = None
    detail: str = ""
    execution: ExecutionResult | None = None


class ConversableAgent:
    """An agent that can send, receive and reply; the base of `AssistantAgent` and `UserProxyAgent`.

    Parameters follow AutoGen 0.2's `ConversableAgent`; `input_func` (default: built-in
    `input`) is where human input comes from, so a test or a web app can supply it.
    """

    DEFAULT_SYSTEM_MESSAGE = "You are a helpful AI Assistant."
    DEFAULT_HUMAN_INPUT_MODE: HumanInputMode = "TERMINATE"

    def __init__(
        self,
        name: str,
        system_message: str | None = None,
        is_termination_msg: Callable[[Mapping[str, Any]], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: HumanInputMode | None = None,
        code_execution_config: Mapping[str, Any] | Literal[False] | None = False,
        llm_config: Mapping[str, Any] | LLMConfig | Literal[False] | None = False,
        default_auto_reply: str = "",
        description: str | None = None,
        input_func: Callable[[str], str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("an agent needs a non-empty name")
        mode = human_input_mode or self.DEFAULT_HUMAN_INPUT_MODE
        if mode not in _MODES:
            raise ValueError(f"human_input_mode must be one of {_MODES}, not {mode!r}")
        if max_consecutive_auto_reply is not None and max_consecutive_auto_reply < 0:
            raise ValueError("max_consecutive_auto_reply must be >= 0")
        self.name = name
        self.system_message = self.DEFAULT_SYSTEM_MESSAGE if system_message is None else system_message
        self.description = description if description is not None else self.system_message
        self.human_input_mode: HumanInputMode = mode
        self.max_consecutive_auto_reply = (
            MAX_CONSECUTIVE_AUTO_REPLY if max_consecutive_auto_reply is None else max_consecutive_auto_reply
        )
        self.is_termination_msg = is_termination_msg or default_is_termination_msg
        self.default_auto_reply = default_auto_reply
        self.input_func: Callable[[str], str] = input_func or input
        self.llm_config = llm_config if llm_config else False
        self.client: LLMClient | None = LLMClient(llm_config) if llm_config else None
        self.code_execution_config: CodeExecutionConfig | None = parse_code_execution_config(code_execution_config)
        self._executor: CodeExecutor | None = None
        self._executor_finalizer: weakref.finalize[..., Any] | None = None
        self._messages: defaultdict[ConversableAgent, list[dict[str, Any]]] = defaultdict(list)
        self._consecutive: defaultdict[ConversableAgent, int] = defaultdict(int)
        self._usage: list[UsageRecord] = []
        self._human_input: list[str] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- history, as the tutorials read it ---------------------------------------------------

    @property
    def chat_messages(self) -> defaultdict[ConversableAgent, list[dict[str, Any]]]:
        """Each peer's conversation: a list of dicts with `content`, `role` and `name`."""
        return self._messages

    def last_message(self, agent: ConversableAgent | None = None) -> dict[str, Any] | None:
        """The newest message exchanged with `agent` (the only peer, when there is one)."""
        if agent is None:
            if len(self._messages) != 1:
                raise ValueError("more than one conversation: say which agent, last_message(agent)")
            agent = next(iter(self._messages))
        history = self._messages.get(agent)
        return history[-1] if history else None

    def clear_history(self, recipient: ConversableAgent | None = None) -> None:
        """Forget the conversation with `recipient`, or every conversation."""
        if recipient is None:
            self._messages.clear()
        else:
            self._messages.pop(recipient, None)

    def update_system_message(self, system_message: str) -> None:
        """Replace the system message sent with every request to this agent's model."""
        self.system_message = system_message

    def reset(self) -> None:
        """Forget every conversation and every auto-reply count."""
        self.clear_history()
        self._consecutive.clear()

    def get_total_usage(self) -> Cost:
        """Every completion this agent has asked for, over its lifetime, per model."""
        return Cost.of(self._usage)

    # -- resources ---------------------------------------------------------------------------

    @property
    def code_executor(self) -> CodeExecutor | None:
        """The executor code runs on; created (and owned) on first use unless one was given."""
        config = self.code_execution_config
        if config is None:
            return None
        if config.executor is not None:
            return config.executor
        if self._executor is None:
            if self._closed:
                raise RuntimeError(f"agent {self.name!r} is closed; create a new agent")
            self._executor = create_executor(config)
            # A dropped agent still releases its executor when collected, not only at exit.
            self._executor_finalizer = weakref.finalize(self, self._executor.close)
        return self._executor

    def close(self) -> None:
        """Close what this agent created (its executor, its HTTP clients); idempotent.

        An executor passed in `code_execution_config["executor"]` is the caller's to close.
        """
        self._closed = True
        if self._executor_finalizer is not None:
            self._executor_finalizer()  # runs executor.close() once, then detaches
            self._executor_finalizer = None
        self._executor = None
        if self.client is not None:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the chat ------------------------------------------------------------------------------

    def initiate_chat(
        self,
        recipient: ConversableAgent,
        message: str | Mapping[str, Any] | Callable[..., Any] | None = None,
        *,
        clear_history: bool = True,
        silent: bool = False,
        max_turns: int | None = None,
        summary_method: str | Callable[..., str] | None = "last_msg",
        summary_args: Mapping[str, Any] | None = None,
        termination: TerminationCondition | None = None,
    ) -> ChatResult:
        """Send `message` to `recipient` and let the two reply to each other until the chat ends.

        Ends on a termination message, `max_turns` replies from `recipient`, an agent's
        `max_consecutive_auto_reply`, a human's `exit`, the `termination` condition, or an
        error (the model never answered, the engine failed); `ChatResult.stop_reason` says which.
        `summary_method` is "last_msg", "reflection_with_llm" (`summary_args` may give
        `summary_prompt` and `summary_role`) or `f(sender, recipient, summary_args) -> str`.
        """
        from .chat import run_chat

        return run_chat(
            self, recipient, message, clear_history=clear_history, silent=silent, max_turns=max_turns,
            summary_method=summary_method, summary_args=dict(summary_args or {}), termination=termination,
        )

    def generate_reply(
        self, messages: Sequence[Mapping[str, Any]] | None = None, sender: ConversableAgent | None = None
    ) -> str | None:
        """This agent's next message to `sender`, or None when it would end the chat.

        With `messages` and no `sender`, only the model (or the default reply) is consulted.
        """
        if sender is None:
            history = [dict(m) for m in messages or []]
            if self.client is not None:
                return self._complete(self._llm_messages(history)).content
            return self.default_auto_reply
        return self._reply(sender, Transcript(silent=True)).content

    def get_human_input(self, prompt: str) -> str:
        """Ask the human through `input_func`; every answer is kept for `ChatResult.human_input`."""
        reply = self.input_func(prompt)
        reply = "" if reply is None else str(reply)
        self._human_input.append(reply)
        return reply

    # -- what the chat loop calls -------------------------------------------------------------

    def _prepare(self, peer: ConversableAgent, clear_history: bool) -> None:
        if clear_history:
            self._messages[peer] = []
        self._consecutive[peer] = 0

    def _record(self, peer: ConversableAgent, message: Mapping[str, Any]) -> None:
        self._messages[peer].append(dict(message))

    def _reply(self, peer: ConversableAgent, transcript: Transcript) -> Reply:
        history = self._messages[peer]
        decided = self._check_termination_and_human_reply(peer, history[-1] if history else {}, transcript)
        if decided is not None:
            return decided
        if self.code_execution_config is not None:
            blocks = self._code_to_run(peer, history)
            if blocks:
                return self._run_code(blocks, transcript)
        if self.client is not None:
            return Reply(content=self._complete(self._llm_messages(history)).content)
        return Reply(content=self.default_auto_reply)

    def _check_termination_and_human_reply(
        self, peer: ConversableAgent, last: Mapping[str, Any], transcript: Transcript
    ) -> Reply | None:
        """AutoGen's `check_termination_and_human_reply`: stop, a human's reply, or None (go on)."""
        mode, limit = self.human_input_mode, self.max_consecutive_auto_reply
        asked: str | None = None
        ended_by = StopReason.TERMINATION_MSG
        detail = f"{self.name} received a termination message from {peer.name}"
        if mode == "ALWAYS":
            asked = self.get_human_input(prompts.ALWAYS_PROMPT.format(sender=peer.name))
            terminate = not asked and self.is_termination_msg(last)
        elif self._consecutive[peer] >= limit:
            if mode == "NEVER":
                return Reply(
                    content=None, stop=StopReason.MAX_CONSECUTIVE_AUTO_REPLY,
                    detail=f"{self.name} sent max_consecutive_auto_reply={limit} automatic replies in a row",
                )
            is_term = self.is_termination_msg(last)
            prompt = prompts.TERMINATE_PROMPT if is_term else prompts.TERMINATE_AUTO_PROMPT
            asked = self.get_human_input(prompt.format(sender=peer.name))
            terminate = not asked and is_term
        elif self.is_termination_msg(last):
            if mode == "NEVER":
                return Reply(content=None, stop=ended_by, detail=detail)
            asked = self.get_human_input(prompts.TERMINATE_PROMPT.format(sender=peer.name))
            terminate = not asked
        else:
            terminate = False
        if asked is not None and not asked:
            transcript.notice(prompts.NO_HUMAN_INPUT_NOTICE)
        if terminate:
            self._consecutive[peer] = 0
            return Reply(content=None, stop=ended_by, detail=detail)
        if asked is not None and asked.strip().lower() == "exit":
            self._consecutive[peer] = 0
            return Reply(content=None, stop=StopReason.HUMAN_EXIT, detail=f"the human at {self.name} typed 'exit'")
        if asked or (asked is not None and limit == 0):
            # A human answer is sent as is; AutoGen also sends an empty one when no automatic
            # reply is allowed at all (max_consecutive_auto_reply=0).
            self._consecutive[peer] = 0
            return Reply(content=asked)
        self._consecutive[peer] += 1
        if mode != "NEVER":
            transcript.notice(prompts.AUTO_REPLY_NOTICE)
        return None

    def _code_to_run(self, peer: ConversableAgent, history: Sequence[Mapping[str, Any]]) -> list[CodeBlock]:
        """The blocks of the newest message from `peer` that holds code and that we have not answered.

        Only messages since this agent last spoke are scanned (at most `last_n_messages`):
        AutoGen's integer setting rescanned older messages and ran the same code twice.
        """
        from sandbox import extract_code_blocks

        assert self.code_execution_config is not None
        recent: list[Mapping[str, Any]] = []
        for message in reversed(history):
            if message.get("name") == self.name:
                break
            recent.append(message)
        limit = self.code_execution_config.last_n_messages
        if limit != "auto":
            recent = recent[:limit]
        for message in recent:
            content = message.get("content")
            if message.get("name") != peer.name or not isinstance(content, str):
                continue
            blocks = extract_code_blocks(content)
            if blocks and runnable(blocks):
                return blocks
        return []

    def _run_code(self, blocks: Sequence[CodeBlock], transcript: Transcript) -> Reply:
        config = self.code_execution_config
        assert config is not None
        executor = self.code_executor
        assert executor is not None
        transcript.executing(blocks)
        if config.executor is not None and config.timeout is not None:
            result = executor.execute(list(blocks), timeout=config.timeout)
        else:  # an executor we created already has the configured timeout
            result = executor.execute(list(blocks))
        return Reply(content=execution_reply(result, budget=config.output_budget), execution=result)

    def _llm_messages(self, history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The history as this agent's model sees it: its own messages are `assistant`."""
        out: list[dict[str, Any]] = []
        if self.system_message:
            out.append({"role": "system", "content": self.system_message})
        for message in history:
            role = "assistant" if message.get("name") == self.name else "user"
            entry: dict[str, Any] = {"role": role, "content": message.get("content") or ""}
            name = message.get("name")
            if isinstance(name, str) and _API_NAME.fullmatch(name):
                entry["name"] = name  # the API refuses names with spaces or slashes; those go without
            out.append(entry)
        return out

    def _complete(self, messages: Sequence[Mapping[str, Any]]) -> Completion:
        assert self.client is not None
        completion = self.client.create(messages)
        self._usage.append(completion.record)
        return completion
