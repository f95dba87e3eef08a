"""`agents chat "task"`: one assistant and one proxy, from the shell.

    OPENAI_API_KEY=... agents chat "Print the first 10 primes" --executor docker --max-turns 6

Reads `OPENAI_API_KEY` (required) and `OPENAI_BASE_URL` (optional: any OpenAI-compatible
server; `--base-url` wins). Exit codes: 0 the assistant finished (or a human stopped the
chat), 1 the chat ended in an error (model unreachable, engine failure), 2 a usage or
configuration problem (the message names what is missing), 3 a limit ended the chat before
the assistant said it was done.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .assistant import AssistantAgent
from .chat_result import ChatResult, StopReason
from .errors import LLMConfigError
from .user_proxy import UserProxyAgent

__all__ = ["main"]

EXIT_DONE, EXIT_ERROR, EXIT_USAGE, EXIT_LIMIT = 0, 1, 2, 3
DEFAULT_MODEL = "gpt-4o-mini"
_EXIT_CODES = {
    StopReason.TERMINATION_MSG: EXIT_DONE,
    StopReason.TERMINATION_CONDITION: EXIT_DONE,
    StopReason.HUMAN_EXIT: EXIT_DONE,
    StopReason.ERROR: EXIT_ERROR,
    StopReason.MAX_TURNS: EXIT_LIMIT,
    StopReason.MAX_CONSECUTIVE_AUTO_REPLY: EXIT_LIMIT,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agents", description="A model writes code; a sandbox runs it; repeat.")
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="solve a task with an assistant and a code-running proxy")
    chat.add_argument("task", help="what to do, in words")
    chat.add_argument("--model", default=os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL,
                      help=f"model name (default: $OPENAI_MODEL or {DEFAULT_MODEL})")
    chat.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, else OpenAI)")
    chat.add_argument("--executor", choices=("auto", "local", "docker"), default="auto",
                      help="where code runs (default: docker when an engine answers, else local)")
    chat.add_argument("--max-turns", type=int, default=10, help="stop after this many assistant replies (default 10)")
    chat.add_argument("--work-dir", help="directory the code runs in (default: a temporary one)")
    chat.add_argument("--timeout", type=float, default=60, help="seconds per code run (default 60)")
    chat.add_argument("--human-input-mode", choices=("NEVER", "TERMINATE", "ALWAYS"), default="NEVER")
    chat.add_argument("--cache-seed", help="cache responses under .cache/<seed> (default: no cache)")
    chat.add_argument("--quiet", action="store_true", help="print only the summary, not the transcript")
    return parser


def _fail(message: str) -> int:
    print(f"agents: {message}", file=sys.stderr)
    return EXIT_USAGE


def _report(result: ChatResult) -> None:
    total = result.cost.total
    runs = len(result.executions)
    print(
        f"\nchat ended: {result.stop_reason.value} ({result.stop_message}); {len(result.chat_history)} messages, "
        f"{runs} code run{'s' if runs != 1 else ''}, {total.total_tokens:,} tokens in {total.requests} requests",
        file=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `agents` command (and `python -m agents`); returns the exit code."""
    args = _parser().parse_args(argv)
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key:
        return _fail(
            "OPENAI_API_KEY is not set. Export your key (export OPENAI_API_KEY=sk-...). For another "
            "OpenAI-compatible server also set OPENAI_BASE_URL (or pass --base-url); servers that need "
            "no key accept any non-empty value."
        )
    base_url = args.base_url or os.environ.get("OPENAI_BASE_URL") or None
    if base_url is None:
        print("agents: OPENAI_BASE_URL is not set; using OpenAI's API (https://api.openai.com/v1)", file=sys.stderr)
    if args.max_turns is not None and args.max_turns < 1:
        return _fail("--max-turns must be at least 1")
    entry = {"model": args.model, "api_key": api_key}
    if base_url:
        entry["base_url"] = base_url
    code_config: dict[str, object] = {"timeout": args.timeout}
    if args.work_dir:
        code_config["work_dir"] = args.work_dir
    if args.executor != "auto":
        code_config["use_docker"] = args.executor == "docker"
    try:
        assistant = AssistantAgent(
            "assistant",
            llm_config={"config_list": [entry], "temperature": 0,
                        "cache_seed": args.cache_seed if args.cache_seed else None},
        )
    except LLMConfigError as exc:
        return _fail(str(exc))
    with assistant, UserProxyAgent(
        "user_proxy", human_input_mode=args.human_input_mode, code_execution_config=code_config,
    ) as user_proxy:
        result = user_proxy.initiate_chat(assistant, message=args.task, max_turns=args.max_turns, silent=args.quiet)
    if result.summary:
        print(result.summary)
    _report(result)
    return _EXIT_CODES[result.stop_reason]


if __name__ == "__main__":
    sys.exit(main())
