"""A pool of pre-started sandboxes, each used once: policy over two callables, `start` and `destroy`.

Why: starting a container costs about 200 ms on a 2-core machine, most of it the engine's,
and nothing the code does needs to wait for it if the container was started before the code
arrived. Each sandbox in the pool is handed out at most once, then destroyed; the pool is
refilled in the background, so a run costs a hand-over, never a start, as long as runs come no
faster than the engine can start containers (then callers wait for the next one, or start
their own: `when_empty`).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ..errors import ExecutorClosedError, SandboxError

__all__ = ["Pool", "SandboxPool"]

S = TypeVar("S")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pool:
    """How many sandboxes to keep started, and what a caller does when none is ready.

    `when_empty="wait"` waits for the next one the pool is starting (never slower than
    starting another under load, and the engine is not asked for more than it can do);
    `"start"` starts one for the caller at once, beside the refill.
    """

    size: int = 1
    when_empty: Literal["wait", "start"] = "wait"
    parallel_starts: int = 2  # containers started at once while refilling
    # Join a loopback-only network namespace an earlier sandbox used (after it ended) instead of
    # creating one per container: about 45% less engine CPU per container; see lanes.py.
    reuse_network_namespaces: bool = False

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"pool size must be >= 0, not {self.size}")
        if self.when_empty not in ("wait", "start"):
            raise ValueError(f"when_empty must be 'wait' or 'start', not {self.when_empty!r}")
        if self.parallel_starts < 1:
            raise ValueError("parallel_starts must be >= 1")


class SandboxPool(Generic[S]):
    """Thread-safe. `acquire()` hands out a never-used sandbox; `retire()` destroys it later."""

    def __init__(self, policy: Pool, *, start: Callable[[], S], destroy: Callable[[S], None], name: str = "pool") -> None:
        self.policy = policy
        self._start = start
        self._destroy = destroy
        self._ready: collections.deque[S] = collections.deque()
        self._starting = 0
        self._destroying = 0
        self._waiting = 0
        self._failure: BaseException | None = None
        self._primed = False  # whether a start ever succeeded (until then, one start at a time)
        self._closed = False
        self._cond = threading.Condition()
        workers = policy.parallel_starts + 2  # starts, plus room for destroys beside them
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sandbox-{name}")
        with self._cond:
            self._fill()

    # -- what callers use ----------------------------------------------------------------------

    def acquire(self, timeout: float) -> S:
        """A sandbox nobody used before; waits at most `timeout` s under `when_empty="wait"`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if self._closed:
                        raise ExecutorClosedError("the sandbox pool is closed")
                    if self._ready:
                        # No refill here: starting a container costs the engine a core for a
                        # few hundred ms, which would slow the very run that just began. The
                        # replacement starts when this sandbox is retired.
                        return self._ready.popleft()
                    if self._failure is not None and self._starting == 0:  # starting failed: say why
                        failure, self._failure = self._failure, None
                        raise failure
                    if self.policy.when_empty == "start" or self.policy.size == 0:
                        break
                    if self._failure is None:
                        self._fill()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise SandboxError(
                            f"no pooled sandbox became ready within {timeout:g} s; the engine is slower "
                            "than the calls: use a larger Pool(size=...) or Pool(when_empty='start')"
                        )
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1
        return self._start()  # on demand, in the caller's thread

    def retire(self, sandbox: S) -> None:
        """Destroy a used sandbox in the background (it is never handed out again), and refill."""
        self._submit_destroy(sandbox)
        with self._cond:
            self._fill()

    def wait_ready(self, count: int | None = None, timeout: float = 30) -> bool:
        """Block until `count` (default: the pool's size) sandboxes are ready; for benchmarks."""
        want = self.policy.size if count is None else count
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._ready) < want and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return len(self._ready) >= want

    def wait_idle(self, timeout: float = 30) -> bool:
        """Block until the pool is full and no start or destroy is in flight; for benchmarks."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._starting or self._destroying or len(self._ready) < self.policy.size) and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    @property
    def ready(self) -> int:
        with self._cond:
            return len(self._ready)

    def close(self) -> None:
        """Destroy every sandbox, ready or starting, and wait for it (a few hundred ms at most)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            ready, self._ready = list(self._ready), collections.deque()
            self._cond.notify_all()
        for sandbox in ready:
            self._submit_destroy(sandbox)
        self._workers.shutdown(wait=True)  # starts in flight finish, then destroy themselves

    # -- refilling -----------------------------------------------------------------------------

    def _fill(self) -> None:
        """Start sandboxes until ready + starting covers the pool's size and every waiter. Lock held."""
        want = self.policy.size + (self._waiting if self.policy.when_empty == "wait" else 0)
        # The first start goes alone: a second one beside it would slow the cold start (the
        # engine's work is CPU-bound), and if the engine or image is broken, one failure says so.
        parallel = self.policy.parallel_starts if self._primed else 1
        while (
            not self._closed
            and len(self._ready) + self._starting < want
            and self._starting < parallel
        ):
            self._starting += 1
            self._workers.submit(self._start_one)

    def _start_one(self) -> None:
        try:
            sandbox = self._start()
        except BaseException as exc:
            with self._cond:
                self._starting -= 1
                self._failure = exc  # the next waiter raises it; no retry storm against a dead engine
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            self._cond.notify_all()
            if not self._closed:
                self._primed = True
                self._ready.append(sandbox)
                if self._failure is None:
                    self._fill()
                return
            self._destroying += 1
        self._destroy_quietly(sandbox)

    def _submit_destroy(self, sandbox: S) -> None:
        with self._cond:
            self._destroying += 1
        try:
            self._workers.submit(self._destroy_quietly, sandbox)
        except RuntimeError:  # the pool is shut down: destroy here
            self._destroy_quietly(sandbox)

    def _destroy_quietly(self, sandbox: S) -> None:
        try:
            self._destroy(sandbox)
        except Exception:  # cleanup never masks a result; `sandbox reap` is the backstop
            pass
        finally:
            with self._cond:
                self._destroying -= 1
                self._cond.notify_all()
