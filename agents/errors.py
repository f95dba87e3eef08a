"""What the agent layer raises when it cannot do its job (a chat's own ending is data).

    AgentError                  root; catch this to catch everything `agents` raises
    ├── LLMConfigError          the llm_config cannot work (no model, bad keys); also a ValueError
    └── LLMError                every entry of the config_list failed; carries each failure

Outcomes of a chat (a termination message, a limit, a human typing `exit`, an LLM that never
answered) are `ChatResult.stop_reason`, not exceptions: `initiate_chat` catches `LLMError` and
the engine's `SandboxError` and reports them as `StopReason.ERROR` with the exception attached.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["AgentError", "LLMConfigError", "LLMError"]


class AgentError(Exception):
    """Root of every exception the agent layer raises."""


class LLMConfigError(AgentError, ValueError):
    """The `llm_config` given to an agent cannot work; the message says which key to fix."""


class LLMError(AgentError):
    """No entry of the `config_list` produced a reply.

    `failures` holds one `(model, exception)` pair per entry tried, in order, so the caller can
    see that the first model was rate limited and the second had a bad key.
    """

    def __init__(self, failures: Sequence[tuple[str, BaseException]]) -> None:
        self.failures = tuple(failures)
        detail = "; ".join(f"{model}: {type(exc).__name__}: {exc}" for model, exc in self.failures)
        super().__init__(f"no model in the config_list answered ({detail})")
