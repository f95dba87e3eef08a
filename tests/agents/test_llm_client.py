"""The model side: config_list fallback, retries on 429/5xx/timeouts, the disk cache, token costs.

Every request goes through the real `openai` client to the scripted server on 127.0.0.1;
the assertions read what the server recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import (
    AssistantAgent,
    LLMClient,
    LLMConfigError,
    LLMError,
    RetryPolicy,
    StopReason,
    TokenUsage,
    UserProxyAgent,
)
from openai_server import ScriptedOpenAIServer, ScriptedReply

FAST = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02)
ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture
def backup() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as s:
        yield s


def two_models(primary: ScriptedOpenAIServer, secondary: ScriptedOpenAIServer, **top: Any) -> dict[str, Any]:
    return {
        "config_list": [
            {"model": "big-model", "api_key": "sk-1", "base_url": primary.base_url},
            {"model": "small-model", "api_key": "sk-2", "base_url": secondary.base_url},
        ],
        "cache_seed": None, "retry": FAST, **top,
    }


def chat_once(llm_config: dict[str, Any], message: str = "Say hi.", **kwargs: Any) -> Any:
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config=False)
    with assistant, user_proxy:
        return user_proxy.initiate_chat(assistant, message=message, silent=True, **kwargs)


# -- retries ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_errors_are_retried(server: ScriptedOpenAIServer, llm_config: dict[str, Any], status: int) -> None:
    server.fail_next(2, status=status)
    server.reply("hi. TERMINATE")
    result = chat_once(llm_config)
    assert result.stop_reason is StopReason.TERMINATION_MSG
    assert server.statuses == [status, status, 200]
    assert len(server.requests) == 3
    assert server.requests[0] == server.requests[2]  # the same request, sent again


def test_backoff_grows_and_honours_retry_after(server: ScriptedOpenAIServer) -> None:
    server.fail_next(1, status=429, retry_after=0.3)
    server.fail_next(1, status=500)
    server.reply("ok")
    client = LLMClient({"model": "m", "api_key": "k", "base_url": server.base_url,
                        "retry": RetryPolicy(attempts=3, initial_wait=0.05, multiplier=2, max_wait=1)})
    started = time.monotonic()
    assert client.create(ASK).content == "ok"
    elapsed = time.monotonic() - started
    client.close()
    assert 0.3 + 0.1 <= elapsed < 1.5  # Retry-After 0.3 s, then the second backoff step, 0.1 s


def test_a_timeout_is_retried(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    server.stall_next(1, seconds=1.0)
    server.reply("after the timeout")
    llm_config["timeout"] = 0.3
    client = LLMClient(llm_config)
    assert client.create(ASK).content == "after the timeout"
    client.close()
    assert len(server.requests) == 2


def test_errors_retrying_cannot_fix_are_not_retried(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    server.fail_next(1, status=401)
    result = chat_once(llm_config)
    assert server.statuses == [401]  # once: a bad key does not improve with time
    assert result.stop_reason is StopReason.ERROR
    assert isinstance(result.error, LLMError)
    assert result.error.failures[0][0] == "scripted-model"
    assert "AuthenticationError" in result.stop_message
    assert [m["content"] for m in result.chat_history] == ["Say hi."]


# -- config_list fallback -------------------------------------------------------------------

def test_fallback_after_an_unfixable_error(server: ScriptedOpenAIServer, backup: ScriptedOpenAIServer) -> None:
    server.fail_next(1, status=404)  # e.g. the first model does not exist on that server
    backup.reply("From the second model. TERMINATE")
    result = chat_once(two_models(server, backup))
    assert result.stop_reason is StopReason.TERMINATION_MSG
    assert server.statuses == [404] and backup.statuses == [200]
    assert backup.requests[0]["model"] == "small-model"
    assert backup.headers[0]["authorization"] == "Bearer sk-2"
    assert set(result.cost.models) == {"small-model"}


def test_fallback_after_retries_run_out(server: ScriptedOpenAIServer, backup: ScriptedOpenAIServer) -> None:
    server.fail_next(3, status=429)
    backup.reply("fallback answer")
    client = LLMClient(two_models(server, backup))
    assert client.create(ASK).content == "fallback answer"
    client.close()
    assert server.statuses == [429, 429, 429]  # FAST allows 3 attempts
    assert len(backup.requests) == 1


def test_every_entry_failing_is_one_error_listing_each(server: ScriptedOpenAIServer,
                                                       backup: ScriptedOpenAIServer) -> None:
    server.fail_next(3, status=500)
    backup.fail_next(1, status=400)
    client = LLMClient(two_models(server, backup))
    with pytest.raises(LLMError) as caught:
        client.create(ASK)
    client.close()
    assert [model for model, _ in caught.value.failures] == ["big-model", "small-model"]
    assert "InternalServerError" in str(caught.value) and "BadRequestError" in str(caught.value)


def test_the_first_entry_is_used_while_it_works(server: ScriptedOpenAIServer, backup: ScriptedOpenAIServer) -> None:
    server.reply("primary")
    client = LLMClient(two_models(server, backup, temperature=0.2))
    assert client.create(ASK).content == "primary"
    client.close()
    assert backup.requests == []
    assert server.requests[0]["temperature"] == 0.2  # top-level keys apply to every entry


# -- the disk cache --------------------------------------------------------------------------

def test_a_rerun_is_served_from_disk(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    llm_config["cache_seed"] = 7
    server.reply(ScriptedReply(content="cached answer. TERMINATE", prompt_tokens=30, completion_tokens=5))
    first = chat_once(llm_config)
    second = chat_once(llm_config)
    assert len(server.requests) == 1  # the second chat sent nothing
    assert first.stop_reason is second.stop_reason is StopReason.TERMINATION_MSG
    assert second.chat_history == first.chat_history
    assert first.cost.models["scripted-model"] == TokenUsage(requests=1, prompt_tokens=30, completion_tokens=5,
                                                             total_tokens=35)
    assert dict(second.cost.models) == {} and second.cost.total.total_tokens == 0
    assert second.cost.cached["scripted-model"].total_tokens == 35
    assert len(list(Path(".cache/7").rglob("*.json"))) == 1
    assert "sk-test" not in next(Path(".cache/7").rglob("*.json")).read_text()


def test_a_different_request_or_seed_misses(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    llm_config["cache_seed"] = 7
    server.reply("a. TERMINATE", "b. TERMINATE", "c. TERMINATE")
    chat_once(llm_config, message="first task")
    chat_once(llm_config, message="second task")
    llm_config["cache_seed"] = 8
    chat_once(llm_config, message="first task")
    assert len(server.requests) == 3
    assert sorted(p.name for p in Path(".cache").iterdir()) == ["7", "8"]


def test_cache_seed_none_writes_nothing(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    server.reply("x. TERMINATE", "x. TERMINATE")
    chat_once(llm_config)
    chat_once(llm_config)
    assert len(server.requests) == 2
    assert not Path(".cache").exists()


# -- cost --------------------------------------------------------------------------------------

def test_cost_is_the_servers_usage_per_model(server: ScriptedOpenAIServer, backup: ScriptedOpenAIServer) -> None:
    server.reply(ScriptedReply(content="not yet", prompt_tokens=100, completion_tokens=20))
    server.fail_next(3, status=503)  # the second request falls back to the other model
    backup.reply(ScriptedReply(content="done. TERMINATE", prompt_tokens=150, completion_tokens=9, model="small-2024"))
    result = chat_once(two_models(server, backup))
    assert result.cost.models["big-model"] == TokenUsage(requests=1, prompt_tokens=100, completion_tokens=20,
                                                         total_tokens=120)
    assert result.cost.models["small-2024"] == TokenUsage(requests=1, prompt_tokens=150, completion_tokens=9,
                                                          total_tokens=159)
    assert result.cost.total == TokenUsage(requests=2, prompt_tokens=250, completion_tokens=29, total_tokens=279)
    autogen_view = result.cost.to_dict()["usage_excluding_cached_inference"]
    assert autogen_view["big-model"] == {"cost": 0, "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}


def test_cost_counts_only_this_chat(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    server.reply(ScriptedReply(content="1. TERMINATE", prompt_tokens=10, completion_tokens=1),
                 ScriptedReply(content="2. TERMINATE", prompt_tokens=20, completion_tokens=2))
    assistant = AssistantAgent("coder", llm_config=llm_config)
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config=False)
    first = user_proxy.initiate_chat(assistant, message="a", silent=True)
    second = user_proxy.initiate_chat(assistant, message="b", silent=True)
    assert first.cost.total.total_tokens == 11
    assert second.cost.total.total_tokens == 22
    assert assistant.get_total_usage().total.total_tokens == 33


# -- reading llm_config ----------------------------------------------------------------------

def test_llm_config_problems_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LLMConfigError, match="temprature"):
        LLMClient({"model": "m", "api_key": "k", "temprature": 0})
    with pytest.raises(LLMConfigError, match="has no 'model'"):
        LLMClient({"config_list": [{"api_key": "k"}]})
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        LLMClient({"model": "m"})
    with pytest.raises(LLMConfigError, match="needs an llm_config"):
        AssistantAgent("coder")


def test_api_key_and_base_url_come_from_the_environment(server: ScriptedOpenAIServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    server.reply("ok")
    client = LLMClient({"config_list": [{"model": "m", "tags": ["autogen-style"], "api_type": "openai"}]})
    assert "sk-from-env" not in repr(client.config)  # keys never show in reprs or logs
    assert client.create(ASK).content == "ok"
    client.close()
    assert server.headers[0]["authorization"] == "Bearer sk-from-env"


def test_no_request_can_leave_this_machine() -> None:
    """The suite's guard: a request to a public address fails before a packet is sent."""
    client = LLMClient({"model": "m", "api_key": "k", "base_url": "http://203.0.113.7/v1",
                        "retry": RetryPolicy(attempts=1)})
    with pytest.raises(LLMError, match="APIConnectionError") as caught:
        client.create(ASK)
    client.close()
    assert "may only talk to 127.0.0.1, not 203.0.113.7" in repr(caught.value.failures[0][1].__cause__)
