"""When a chat ends: the `is_termination_msg` default, and conditions as composable objects.

Two styles, as the tutorials teach them:

* 0.2: each agent has `is_termination_msg(message) -> bool`, asked about every message it
  receives. The default accepts `TERMINATE` at the end of the message after trailing
  whitespace and punctuation (`"Done. TERMINATE."`, `"**TERMINATE**"`); AutoGen's default
  wanted the whole message to be exactly `TERMINATE`, which models rarely write.
* 0.4: `initiate_chat(..., termination=TextMentionTermination("TERMINATE") |
  MaxMessageTermination(10))`. Conditions see every message of the chat (the task included,
  as in AutoGen 0.4), `|` fires when either fires, `&` when both have fired (not necessarily
  on the same message). They count, so they are reset at the start of every chat.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "AndTermination",
    "MaxMessageTermination",
    "OrTermination",
    "TerminationCondition",
    "TextMentionTermination",
    "default_is_termination_msg",
]

# Trailing characters that may follow the word: whitespace and prose punctuation, Markdown
# emphasis. Not `)`, quotes or backticks, so `print("TERMINATE")` at the end of a code block
# does not end the chat before the code runs.
_TERMINATE_AT_END = re.compile(r"(?<![A-Za-z0-9_])TERMINATE[\s.!?,;:*_~]*\Z")
# The proxy's report of a run. What the code printed is not an agent saying it is done: a
# program whose output ends in TERMINATE must not end the chat from the assistant's side.
_EXECUTION_REPORT = re.compile(r"\Aexitcode: -?\d+ \(execution (?:succeeded|failed)\)\nCode output: ")


def default_is_termination_msg(message: Mapping[str, Any]) -> bool:
    """True when the message's content ends with `TERMINATE` (trailing punctuation allowed).

    A code-execution report (`exitcode: ...`) never is, whatever the code printed.
    """
    content = message.get("content")
    if not isinstance(content, str) or _EXECUTION_REPORT.match(content):
        return False
    return _TERMINATE_AT_END.search(content) is not None


class TerminationCondition:
    """A stateful check run on each message of a chat; `update` returns why it fired, or None.

    Subclasses implement `_update` and `_reset`. Once fired, a condition stays fired until
    `reset()`, which `initiate_chat` calls at the start of every chat.
    """

    def __init__(self) -> None:
        self._reason: str | None = None

    @property
    def terminated(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        return self._reason

    def update(self, message: Mapping[str, Any]) -> str | None:
        if self._reason is None:
            self._reason = self._update(message)
        return self._reason

    def reset(self) -> None:
        self._reason = None
        self._reset()

    def _update(self, message: Mapping[str, Any]) -> str | None:
        raise NotImplementedError

    def _reset(self) -> None:
        pass

    def __or__(self, other: TerminationCondition) -> TerminationCondition:
        return OrTermination(self, other)

    def __and__(self, other: TerminationCondition) -> TerminationCondition:
        return AndTermination(self, other)


class TextMentionTermination(TerminationCondition):
    """Fires when a message contains `text`; with `sources`, only messages from those agents."""

    def __init__(self, text: str, sources: Iterable[str] | None = None) -> None:
        super().__init__()
        if not text:
            raise ValueError("TextMentionTermination needs a non-empty text")
        self.text = text
        self.sources = None if sources is None else frozenset(sources)

    def _update(self, message: Mapping[str, Any]) -> str | None:
        if self.sources is not None and message.get("name") not in self.sources:
            return None
        content = message.get("content")
        if isinstance(content, str) and self.text in content:
            return f"text {self.text!r} mentioned by {message.get('name')}"
        return None

    def __repr__(self) -> str:
        return f"TextMentionTermination({self.text!r})"


class MaxMessageTermination(TerminationCondition):
    """Fires when the chat holds `max_messages` messages, counting the task message."""

    def __init__(self, max_messages: int) -> None:
        super().__init__()
        if max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, not {max_messages!r}")
        self.max_messages = max_messages
        self._count = 0

    def _update(self, message: Mapping[str, Any]) -> str | None:
        self._count += 1
        if self._count >= self.max_messages:
            return f"maximum of {self.max_messages} messages reached"
        return None

    def _reset(self) -> None:
        self._count = 0

    def __repr__(self) -> str:
        return f"MaxMessageTermination({self.max_messages})"


class OrTermination(TerminationCondition):
    """Fires as soon as any of its conditions fires."""

    def __init__(self, *conditions: TerminationCondition) -> None:
        super().__init__()
        self.conditions = conditions

    def _update(self, message: Mapping[str, Any]) -> str | None:
        # Every condition sees every message, so counts stay right after a combination.
        reasons = [c.update(message) for c in self.conditions]
        return next((r for r in reasons if r is not None), None)

    def _reset(self) -> None:
        for c in self.conditions:
            c.reset()

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.conditions)) + ")"


class AndTermination(TerminationCondition):
    """Fires once every one of its conditions has fired."""

    def __init__(self, *conditions: TerminationCondition) -> None:
        super().__init__()
        self.conditions = conditions

    def _update(self, message: Mapping[str, Any]) -> str | None:
        reasons = [c.update(message) for c in self.conditions]
        if all(r is not None for r in reasons):
            return " and ".join(r for r in reasons if r is not None)
        return None

    def _reset(self) -> None:
        for c in self.conditions:
            c.reset()

    def __repr__(self) -> str:
        return "(" + " & ".join(map(repr, self.conditions)) + ")"
