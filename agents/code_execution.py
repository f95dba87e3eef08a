"""`code_execution_config`: whether the proxy runs code, on which executor, and what it scans.

    code_execution_config=False                      # never run code
    code_execution_config={"executor": my_executor}  # any sandbox.CodeExecutor; the caller closes it
    code_execution_config={"work_dir": "ws", "use_docker": False, "timeout": 30,
                           "last_n_messages": "auto"}

Without `executor`, the agent creates one the first time it runs code (so an agent that never
runs code never starts a container) and owns it: `agent.close()` (or `with agent:`) closes it.
`use_docker`: True (or an image name) means `DockerExecutor`, False means `LocalExecutor`, and
when the key is absent Docker is used if an engine answers, else the local runner (AutoGen
raised instead, or ran code locally only when told to).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sandbox import CodeBlock, CodeExecutor

from .execution_reply import DEFAULT_OUTPUT_BUDGET

__all__ = ["CodeExecutionConfig", "create_executor", "docker_engine_answers", "parse_code_execution_config", "runnable"]

_KEYS = frozenset({"executor", "work_dir", "use_docker", "timeout", "last_n_messages", "output_budget"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeExecutionConfig:
    """The parsed `code_execution_config` dict (see the module docstring)."""

    executor: CodeExecutor | None = None
    work_dir: str | None = None
    use_docker: bool | str | None = None  # None: decide when the executor is created
    timeout: float | None = None
    last_n_messages: int | Literal["auto"] = "auto"
    output_budget: int = DEFAULT_OUTPUT_BUDGET


def parse_code_execution_config(raw: Mapping[str, Any] | Literal[False] | None) -> CodeExecutionConfig | None:
    """None when execution is off (`False`); the parsed config otherwise (`{}` means defaults)."""
    if raw is False or raw is None:
        return None
    if isinstance(raw, CodeExecutionConfig):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueError(f"code_execution_config must be False or a dict, not {type(raw).__name__}")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"code_execution_config: unknown key(s) {sorted(unknown)}; known keys are {sorted(_KEYS)}")
    executor = raw.get("executor")
    if executor is not None and not isinstance(executor, CodeExecutor):
        raise ValueError("code_execution_config['executor'] must be a sandbox.CodeExecutor")
    last_n = raw.get("last_n_messages", "auto")
    if last_n != "auto" and not (isinstance(last_n, int) and last_n >= 1):
        raise ValueError(f"last_n_messages must be a positive int or 'auto', not {last_n!r}")
    timeout = raw.get("timeout")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"code_execution_config['timeout'] must be > 0 seconds, not {timeout!r}")
    work_dir = raw.get("work_dir")
    return CodeExecutionConfig(
        executor=executor,
        work_dir=None if work_dir is None else str(work_dir),
        use_docker=raw.get("use_docker"),
        timeout=None if timeout is None else float(timeout),
        last_n_messages=last_n,
        output_budget=int(raw.get("output_budget", DEFAULT_OUTPUT_BUDGET)),
    )


def docker_engine_answers() -> bool:
    """Whether a Docker engine answers a ping within a few seconds (at the address DOCKER_HOST names)."""
    from sandbox.executors.docker import engine_answers  # lazy: `import agents` need not load docker-py

    return engine_answers(timeout=3)


def create_executor(config: CodeExecutionConfig) -> CodeExecutor:
    """A new executor for `config` (not `config.executor`, which belongs to the caller)."""
    kwargs: dict[str, Any] = {}
    if config.work_dir is not None:
        kwargs["work_dir"] = config.work_dir
    if config.timeout is not None:
        kwargs["timeout"] = config.timeout
    use_docker = config.use_docker
    if use_docker is None:
        use_docker = docker_engine_answers()
    if use_docker:
        from sandbox import DockerExecutor

        if isinstance(use_docker, str):
            kwargs["image"] = use_docker
        return DockerExecutor(**kwargs)
    from sandbox import LocalExecutor

    return LocalExecutor(**kwargs)


def runnable(blocks: Sequence[CodeBlock]) -> bool:
    """Whether running these blocks would do anything: a run, a saved file or a refusal.

    A reply that only shows text (```text, ```json without a filename) is not code to run;
    an unknown language is sent on, so the model hears the engine's refusal and its reason.
    """
    from sandbox.languages import resolve_language

    for block in blocks:
        language = resolve_language(block.language)
        if language is None or language.runner is not None or block.filename:
            return True
    return False
