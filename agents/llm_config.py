"""The 0.2-style `llm_config` dict, read once into frozen values.

    llm_config = {
        "config_list": [{"model": "gpt-4o", "api_key": "..."}, {"model": "gpt-4o-mini"}],
        "temperature": 0, "timeout": 60, "cache_seed": 42,
    }

Top-level keys are defaults for every entry of `config_list`; an entry's own keys win. A dict
without `config_list` is one entry. `api_key` and `base_url` fall back to `OPENAI_API_KEY` and
`OPENAI_BASE_URL`, as the `openai` client does. Unknown keys are refused (a typo such as
`temprature` would otherwise be silently ignored and the run would not be deterministic).

Caching is off unless `cache_seed` is given: AutoGen 0.2 cached by default (seed 41), so a
rerun replayed old answers, even bad ones, without saying so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import LLMConfigError

__all__ = ["LLMConfig", "ModelConfig", "RetryPolicy", "parse_llm_config"]

# Parameters passed through to `chat.completions.create`.
_CREATE_PARAMS = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
    "presence_penalty", "frequency_penalty", "response_format", "logit_bias", "user",
})
_ENTRY_KEYS = frozenset({"model", "api_key", "base_url", "timeout", "organization"}) | _CREATE_PARAMS
# Keys AutoGen configs carry that mean nothing here; accepted so an OAI_CONFIG_LIST loads.
_IGNORED_KEYS = frozenset({"tags", "price", "api_type", "api_version"})
_TOP_KEYS = frozenset({"config_list", "cache_seed", "cache_path_root", "retry"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff for rate limits (429), timeouts and server errors (5xx).

    The n-th retry waits `initial_wait * multiplier ** (n - 1)` seconds, at most `max_wait`
    (a server's `Retry-After` is honoured up to `max_wait`). `attempts` counts the first try.
    Give `llm_config["retry"] = RetryPolicy(...)` (or a dict of these fields) to change it.
    """

    attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise LLMConfigError(f"retry attempts must be >= 1, not {self.attempts!r}")
        if self.initial_wait < 0 or self.max_wait < 0:
            raise LLMConfigError("retry waits must be >= 0 seconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelConfig:
    """One entry of the config_list: where to send a request and with which parameters."""

    model: str
    api_key: str | None = field(default=None, repr=False)  # never printed in logs or errors
    base_url: str | None = None
    timeout: float | None = None
    organization: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMConfig:
    """The whole llm_config: entries tried in order, the cache and the retry policy."""

    entries: tuple[ModelConfig, ...]
    cache_seed: int | str | None = None
    cache_root: str = ".cache"
    retry: RetryPolicy = RetryPolicy()


def _entry(raw: Mapping[str, Any], defaults: Mapping[str, Any], index: int) -> ModelConfig:
    merged = {**defaults, **raw}
    unknown = set(merged) - _ENTRY_KEYS - _IGNORED_KEYS
    if unknown:
        raise LLMConfigError(
            f"config_list[{index}]: unknown key(s) {sorted(unknown)}; "
            f"known keys are {sorted(_ENTRY_KEYS | _TOP_KEYS)}"
        )
    if merged.get("api_type", "openai") != "openai":
        raise LLMConfigError(
            f"config_list[{index}]: api_type {merged['api_type']!r} is not supported; "
            "use an OpenAI-compatible base_url"
        )
    model = merged.get("model")
    if not isinstance(model, str) or not model:
        raise LLMConfigError(f"config_list[{index}] has no 'model'; every entry needs one, e.g. 'gpt-4o-mini'")
    api_key = merged.get("api_key") or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        raise LLMConfigError(
            f"config_list[{index}] ({model}) has no api_key: set OPENAI_API_KEY or give 'api_key' "
            "(servers that need none accept any non-empty string)"
        )
    timeout = merged.get("timeout")
    return ModelConfig(
        model=model,
        api_key=api_key,
        base_url=merged.get("base_url") or os.environ.get("OPENAI_BASE_URL") or None,
        timeout=None if timeout is None else float(timeout),
        organization=merged.get("organization"),
        params=MappingProxyType({k: v for k, v in merged.items() if k in _CREATE_PARAMS}),
    )


def _retry(raw: object) -> RetryPolicy:
    if raw is None:
        return RetryPolicy()
    if isinstance(raw, RetryPolicy):
        return raw
    if isinstance(raw, Mapping):
        try:
            return RetryPolicy(**raw)
        except TypeError as exc:
            raise LLMConfigError(f"llm_config['retry']: {exc}") from None
    raise LLMConfigError(f"llm_config['retry'] must be a RetryPolicy or a dict, not {type(raw).__name__}")


def parse_llm_config(llm_config: Mapping[str, Any] | LLMConfig) -> LLMConfig:
    """Read an AutoGen 0.2-style dict (see the module docstring) into an `LLMConfig`."""
    if isinstance(llm_config, LLMConfig):
        return llm_config
    if not isinstance(llm_config, Mapping):
        raise LLMConfigError(f"llm_config must be a dict or False, not {type(llm_config).__name__}")
    defaults = {k: v for k, v in llm_config.items() if k not in _TOP_KEYS}
    raw_entries = llm_config.get("config_list")
    if raw_entries is None:
        raw_entries = [{}]
    if isinstance(raw_entries, Mapping) or not raw_entries:
        raise LLMConfigError("llm_config['config_list'] must be a non-empty list of dicts")
    entries = tuple(_entry(raw, defaults, i) for i, raw in enumerate(raw_entries))
    return LLMConfig(
        entries=entries,
        cache_seed=llm_config.get("cache_seed"),
        cache_root=str(llm_config.get("cache_path_root") or ".cache"),
        retry=_retry(llm_config.get("retry")),
    )
