"""The model behind an agent: the `openai` client, retries, fallback and the disk cache.

Policy, in order, for one request:

1. For each entry of the config_list: a cached response for this exact request is returned
   at once (and counted as cached, costing nothing).
2. Otherwise the request is sent. Rate limits (429), timeouts, dropped connections and server
   errors (5xx, 408, 409) are retried with exponential backoff (`RetryPolicy`, via tenacity).
   The `openai` client's own retries are switched off so that one policy, ours, is in charge.
3. An error retrying cannot fix (400, 401, 404...) or retries running out moves on to the next
   entry. When every entry failed, `LLMError` lists each failure.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openai
import tenacity

from .cache import ResponseCache, request_key
from .errors import LLMError
from .llm_config import LLMConfig, ModelConfig, RetryPolicy, parse_llm_config
from .usage import TokenUsage, UsageRecord

__all__ = ["Completion", "LLMClient", "is_transient"]

_TRANSIENT_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """One answer from a model (or from the cache)."""

    content: str
    model: str  # as the response names it (e.g. "gpt-4o-mini-2024-07-18"); the entry's otherwise
    usage: TokenUsage
    cached: bool = False

    @property
    def record(self) -> UsageRecord:
        return UsageRecord(model=self.model, usage=self.usage, cached=self.cached)


def is_transient(exc: BaseException) -> bool:
    """Whether waiting and sending the same request again may succeed."""
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _TRANSIENT_STATUS or exc.status_code >= 500
    return False


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    header = None if response is None else response.headers.get("retry-after")
    try:
        return None if header is None else float(header)
    except ValueError:
        return None  # an HTTP date: rare from model servers; the backoff applies


class _Backoff(tenacity.wait.wait_base):
    """Exponential backoff that also honours the server's Retry-After, both capped."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        p = self.policy
        wait = p.initial_wait * p.multiplier ** (retry_state.attempt_number - 1)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        hinted = _retry_after(exc) if exc is not None else None
        if hinted is not None:
            wait = max(wait, hinted)
        return min(wait, p.max_wait)


def _usage(raw: Any) -> TokenUsage:
    if raw is None:
        return TokenUsage(requests=1)
    prompt = int(getattr(raw, "prompt_tokens", 0) or 0)
    completion = int(getattr(raw, "completion_tokens", 0) or 0)
    total = int(getattr(raw, "total_tokens", 0) or (prompt + completion))
    return TokenUsage(requests=1, prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


class LLMClient:
    """Sends chat completions for one agent; see the module docstring for the policy."""

    def __init__(self, llm_config: Mapping[str, Any] | LLMConfig) -> None:
        self.config = parse_llm_config(llm_config)
        seed = self.config.cache_seed
        self.cache = None if seed is None else ResponseCache(seed, self.config.cache_root)
        self._clients: dict[int, openai.OpenAI] = {}
        self._finalizers: list[weakref.finalize[..., Any]] = []
        self._lock = threading.Lock()

    def _client(self, index: int, entry: ModelConfig) -> openai.OpenAI:
        with self._lock:
            client = self._clients.get(index)
            if client is None:
                client = openai.OpenAI(
                    api_key=entry.api_key,
                    base_url=entry.base_url,
                    organization=entry.organization,
                    timeout=entry.timeout if entry.timeout is not None else openai.NOT_GIVEN,
                    max_retries=0,  # tenacity owns retries; two stacked policies multiply waits
                )
                self._clients[index] = client
                # An agent dropped without close() (the tutorials never close theirs) still
                # closes its connections when collected, before the sockets would warn.
                self._finalizers.append(weakref.finalize(self, client.close))
            return client

    def create(self, messages: Sequence[Mapping[str, Any]]) -> Completion:
        """Return the first answer any entry gives, or raise `LLMError` listing each failure."""
        failures: list[tuple[str, BaseException]] = []
        for index, entry in enumerate(self.config.entries):
            key = request_key({
                "model": entry.model, "base_url": entry.base_url,
                "messages": list(messages), "params": dict(entry.params),
            })
            if self.cache is not None:
                hit = self.cache.get(key)
                if hit is not None:
                    return Completion(
                        content=str(hit.get("content", "")), model=str(hit.get("model", entry.model)),
                        usage=TokenUsage(**hit.get("usage", {})), cached=True,
                    )
            try:
                completion = self._send(index, entry, messages)
            except openai.OpenAIError as exc:
                failures.append((entry.model, exc))
                continue
            if self.cache is not None:
                u = completion.usage
                self.cache.put(key, {
                    "content": completion.content, "model": completion.model,
                    "usage": {"requests": u.requests, "prompt_tokens": u.prompt_tokens,
                              "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens},
                })
            return completion
        raise LLMError(failures)

    def _send(self, index: int, entry: ModelConfig, messages: Sequence[Mapping[str, Any]]) -> Completion:
        client = self._client(index, entry)
        policy = self.config.retry
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.attempts),
            wait=_Backoff(policy),
            retry=tenacity.retry_if_exception(is_transient),
            reraise=True,
        )
        response = retrying(
            client.chat.completions.create, model=entry.model, messages=list(messages), **dict(entry.params)
        )
        choice = response.choices[0] if response.choices else None
        content = (choice.message.content if choice is not None else None) or ""
        return Completion(content=content, model=response.model or entry.model, usage=_usage(response.usage))

    def close(self) -> None:
        """Close the HTTP connection pools; idempotent."""
        with self._lock:
            finalizers, self._finalizers, self._clients = self._finalizers, [], {}
        for finalizer in finalizers:
            finalizer()  # closes the client once, then detaches
