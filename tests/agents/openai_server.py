"""A scripted OpenAI-compatible server on loopback, for driving the real `openai` client.

    with ScriptedOpenAIServer() as server:
        server.fail_next(2, status=429)          # the first two requests get 429,
        server.reply("Here is the code ...", "All good. TERMINATE")   # then these, in order
        ...  # point llm_config's base_url at server.base_url
        server.requests[0]["messages"]           # every request body, as JSON, in order

Only `POST /v1/chat/completions` is answered. Replies and failures form one script, served in
the order they were queued; each answer carries
a `usage` block (given, or counted from the request and reply so tests can predict it). When
the script runs out the server answers 400 (an error no client retries), so a test that makes
more requests than it scripted fails loudly instead of hanging. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedOpenAIServer", "ScriptedReply", "count_usage", "fenced"]

ReplyFunc = Callable[[dict[str, Any]], str]


@dataclass(frozen=True, kw_only=True)
class ScriptedReply:
    """One answer: its content (or a function of the request body) and optional usage."""

    content: str | ReplyFunc
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None  # the response's `model`; the request's when None


@dataclass(frozen=True, kw_only=True)
class _Failure:
    status: int
    delay: float = 0.0  # seconds to wait before answering (for client timeouts)
    headers: Mapping[str, str] = field(default_factory=dict)


def count_usage(request: Mapping[str, Any], content: str) -> tuple[int, int]:
    """The usage the server reports when none was scripted: characters / 4, at least 1."""
    prompt_chars = sum(len(str(m.get("content") or "")) for m in request.get("messages", []))
    return max(prompt_chars // 4, 1), max(len(content) // 4, 1)


class ScriptedOpenAIServer:
    """See the module docstring. Thread-safe; a context manager that starts and stops the server."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []  # bodies of every chat-completions request
        self.responses: list[dict[str, Any]] = []  # every successful response body sent
        self.statuses: list[int] = []  # the HTTP status of every answer, in order
        self.headers: list[dict[str, str]] = []  # request headers, names lower-cased
        self._script: collections.deque[ScriptedReply | _Failure] = collections.deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="scripted-openai", daemon=True
        )

    # -- scripting -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, *contents: str | ReplyFunc | ScriptedReply) -> None:
        """Queue answers, served in order after what is already queued."""
        with self._lock:
            for c in contents:
                self._script.append(c if isinstance(c, ScriptedReply) else ScriptedReply(content=c))

    def fail_next(self, n: int, *, status: int = 500, delay: float = 0.0, retry_after: float | None = None) -> None:
        """Queue `n` answers with HTTP `status` (sent after `delay` seconds) instead of replies."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        with self._lock:
            self._script.extend(_Failure(status=status, delay=delay, headers=headers) for _ in range(n))

    def stall_next(self, n: int, seconds: float) -> None:
        """Queue `n` answers that hold the request for `seconds`, then answer 504: a client
        with a shorter timeout gives up first, which is the case under test."""
        self.fail_next(n, status=504, delay=seconds)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def successes(self) -> int:
        return len(self.responses)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> ScriptedOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------

    def _answer(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], Mapping[str, str], float]:
        if path.rstrip("/") != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}}, {}, 0.0
        try:
            request = json.loads(body)
        except ValueError:
            return 400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}}, {}, 0.0
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            step = self._script.popleft() if self._script else None
        failure = step if isinstance(step, _Failure) else None
        scripted = step if isinstance(step, ScriptedReply) else None
        if failure is not None:
            kind = "rate_limit_exceeded" if failure.status == 429 else "server_error"
            error = {"error": {"message": f"scripted {failure.status}", "type": kind, "code": kind}}
            return failure.status, error, failure.headers, failure.delay
        if scripted is None:
            error = {"error": {"message": "the scripted server has no reply left", "type": "invalid_request_error"}}
            return 400, error, {}, 0.0
        content = scripted.content(request) if callable(scripted.content) else scripted.content
        counted = count_usage(request, content)
        prompt = counted[0] if scripted.prompt_tokens is None else scripted.prompt_tokens
        completion = counted[1] if scripted.completion_tokens is None else scripted.completion_tokens
        with self._lock:
            number = len(self.responses) + 1
        response = {
            "id": f"chatcmpl-scripted-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": scripted.model or request.get("model", "scripted"),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }
        with self._lock:
            self.responses.append(response)
        return 200, response, {}, 0.0

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload, extra, delay = server._answer(self.path, body, headers)
                if delay:
                    time.sleep(delay)
                with server._lock:
                    server.statuses.append(status)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep test output clean

        return Handler


def fenced(body: str, language: str = "python", *, before: str = "Here is the code:") -> str:
    """A model reply holding one fenced code block."""
    return f"{before}\n\n```{language}\n{body.strip()}\n```\n"
