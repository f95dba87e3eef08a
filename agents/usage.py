"""Token accounting: what each model was asked and answered, from the API's `usage` blocks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Cost", "TokenUsage", "UsageRecord"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenUsage:
    """Tokens and requests for one model, summed over a chat."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            requests=self.requests + other.requests,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRecord:
    """One completion: which model answered, what it reported, and whether it came from cache."""

    model: str
    usage: TokenUsage
    cached: bool


def _by_model(records: Iterable[UsageRecord]) -> Mapping[str, TokenUsage]:
    totals: dict[str, TokenUsage] = {}
    for record in records:
        totals[record.model] = totals.get(record.model, TokenUsage()) + record.usage
    return MappingProxyType(totals)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """Token usage per model for one chat.

    `models` counts the completions the server actually produced (what you pay for); `cached`
    counts those replayed from the disk cache, which cost nothing. AutoGen's `ChatResult.cost`
    reports the same split as `usage_excluding_cached_inference` and
    `usage_including_cached_inference`; `to_dict()` gives that shape (without prices, which
    this package does not guess).
    """

    models: Mapping[str, TokenUsage] = field(default_factory=lambda: MappingProxyType({}))
    cached: Mapping[str, TokenUsage] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, records: Iterable[UsageRecord]) -> Cost:
        records = list(records)
        return cls(
            models=_by_model(r for r in records if not r.cached),
            cached=_by_model(r for r in records if r.cached),
        )

    @property
    def total(self) -> TokenUsage:
        """Everything the server produced, all models together (cache hits excluded)."""
        return sum(self.models.values(), TokenUsage())

    def to_dict(self) -> dict[str, dict[str, object]]:
        def view(models: Mapping[str, TokenUsage]) -> dict[str, object]:
            out: dict[str, object] = {"total_cost": 0}
            for name, usage in models.items():
                out[name] = {
                    "cost": 0,
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.total_tokens,
                }
            return out

        including: dict[str, TokenUsage] = dict(self.models)
        for name, usage in self.cached.items():
            including[name] = including.get(name, TokenUsage()) + usage
        return {
            "usage_including_cached_inference": view(including),
            "usage_excluding_cached_inference": view(self.models),
        }
