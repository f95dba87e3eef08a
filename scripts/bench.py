"""The benchmark: every runner, the floors and AutoGen's executors, in one run, as ratios to `python -c`.

Run it with `scripts/bench` (which makes the benchmark's own environment, with AutoGen from
PyPI). Every figure is printed next to its ratio to the local `python -c` floor measured in
the same run, so a noisy machine moves both. Writes BENCHMARKS.md and docs/benchmarks.png.

Workloads (all `print("hello")` unless said):
- latency: p50 and p95 of sequential runs. A pooled runner is given time to refill between
  runs (`settle`), as it has between an agent's turns; its sustained rate is the throughput.
- cold start: from constructing the runner to the first result, in this process.
- close: how long `close()` takes after one run.
- throughput: runs per second at concurrency 1, 2, 4 and 8 on one runner.
- 10 MB of output: the call's time and the caller's peak traced memory.
- timeout: how long past a 1 s deadline the call returns, and whether the code's processes
  (a child that beats a heartbeat file) are all dead afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_report import write_chart, write_markdown  # noqa: E402
from bench_subjects import DockerExec, DockerRun, PythonC, Subject, ours, peers  # noqa: E402

HELLO = 'print("hello")'
TEN_MB = "import sys\nchunk = 'x' * 1023 + '\\n'\nfor _ in range(10 * 1024):\n    sys.stdout.write(chunk)\n"
HEARTBEAT = (
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    while True:\n"
    "        open('heartbeat', 'w').write(str(time.time())); time.sleep(0.05)\n"
    "while True:\n"
    "    pass\n"
)
CONCURRENCY = (1, 2, 4, 8)


@dataclass
class Figures:
    name: str
    kind: str
    p50: float | None = None
    p95: float | None = None
    cold: float | None = None
    close: float | None = None
    throughput: dict[int, float] = field(default_factory=dict)
    big_time: float | None = None
    big_peak_mib: float | None = None
    overrun: float | None = None
    all_dead: bool | None = None
    errors: list[str] = field(default_factory=list)


def timed(fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - started, value


def measure(subject: Subject, *, samples: int, runs_per_level: int) -> Figures:
    fig = Figures(subject.name, subject.kind)
    print(f"\n== {subject.name}", flush=True)
    try:
        started = time.perf_counter()
        subject.open()
        ran = subject.run(HELLO)
        fig.cold = time.perf_counter() - started
        assert ran.ok, f"{subject.name}: hello failed"
        print(f"   cold start {fig.cold * 1000:.0f} ms", flush=True)

        latencies = []
        for _ in range(samples):
            subject.settle()
            seconds, ran = timed(subject.run, HELLO)
            assert ran.ok
            latencies.append(seconds)
        latencies.sort()
        fig.p50 = statistics.median(latencies)
        fig.p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        print(f"   latency p50 {fig.p50 * 1000:.1f} ms, p95 {fig.p95 * 1000:.1f} ms", flush=True)

        for level in CONCURRENCY if subject.concurrent else (1,):
            subject.settle()
            count = max(runs_per_level, 2 * level)
            with ThreadPoolExecutor(level) as workers:
                # Each run's code differs by a comment: AutoGen names its script files by a hash of
                # the code, and identical code run concurrently collides on one file.
                seconds, results = timed(lambda: list(workers.map(lambda i: subject.run(f"{HELLO}  # {i}"), range(count))))
            assert all(r.ok for r in results), f"{subject.name}: a run failed at concurrency {level}"
            fig.throughput[level] = count / seconds
            print(f"   throughput c={level}: {fig.throughput[level]:.1f} runs/s", flush=True)

        subject.settle()
        tracemalloc.start()
        seconds, ran = timed(subject.run, TEN_MB)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        fig.big_time, fig.big_peak_mib = seconds, peak / 2**20
        print(f"   10 MB output: {seconds * 1000:.0f} ms, caller peak {fig.big_peak_mib:.1f} MiB", flush=True)

        if subject.work_dir is not None:
            subject.settle()
            returned, seconds = bounded(lambda: subject.run(HEARTBEAT, 1.0), GIVE_UP_S)
            fig.all_dead = heartbeat_stopped(subject.work_dir / "heartbeat")
            if returned:
                fig.overrun = seconds - 1.0
                print(f"   timeout: returned {fig.overrun * 1000:.0f} ms after the deadline; all dead: {fig.all_dead}", flush=True)
            else:
                fig.errors.append(f"timeout: a call with a 1 s timeout had not returned after {GIVE_UP_S:g} s")
                print(f"   timeout: NOT RETURNED after {GIVE_UP_S:g} s; all dead: {fig.all_dead}", flush=True)
            kill_strays(subject.work_dir)
    except Exception as exc:  # a peer that cannot do a workload is reported, not fatal
        fig.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        print(f"   ERROR {fig.errors[-1]}", flush=True)
    finally:
        try:
            returned, seconds = bounded(subject.close, GIVE_UP_S)
            if not returned:
                fig.errors.append(f"close() had not returned after {GIVE_UP_S:g} s")
            elif fig.cold is not None:
                fig.close = seconds
                print(f"   close {seconds * 1000:.0f} ms", flush=True)
        except Exception as exc:
            fig.errors.append(f"close: {type(exc).__name__}: {exc}"[:200])
    return fig


GIVE_UP_S = 30.0


def bounded(fn, seconds: float) -> tuple[bool, float]:  # type: ignore[no-untyped-def]
    """Run `fn` in a thread; (whether it returned within `seconds`, how long it took)."""
    import threading

    started = time.perf_counter()
    worker = threading.Thread(target=fn, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive(), time.perf_counter() - started


def kill_strays(work_dir: Path) -> None:
    """Kill what a runner left running in its workspace (the peers' timeouts may leave the code)."""
    import psutil

    root = str(work_dir.resolve())
    for proc in psutil.process_iter(["cwd"]):
        try:
            if (proc.info["cwd"] or "").startswith(root):
                print(f"   killing a process the runner left behind: pid {proc.pid}", flush=True)
                proc.kill()
        except psutil.Error:
            continue


def heartbeat_stopped(beat: Path) -> bool:
    if not beat.exists():
        return True  # never beat: nothing ran long enough to matter
    before = beat.stat().st_mtime_ns
    time.sleep(0.5)
    return beat.stat().st_mtime_ns == before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=30, help="latency samples per subject")
    parser.add_argument("--runs", type=int, default=24, help="runs per concurrency level")
    parser.add_argument("--only", action="append", default=[], help="run only subjects whose name contains this")
    parser.add_argument("--no-peers", action="store_true", help="skip AutoGen's executors")
    parser.add_argument("--out", default=".", help="where BENCHMARKS.md and docs/benchmarks.png go")
    args = parser.parse_args()

    subjects: list[Subject] = [PythonC(), DockerRun(), DockerExec(), *ours()]
    if not args.no_peers:
        subjects += peers()
    if args.only:
        subjects = [s for s in subjects if s.kind == "floor" or any(o in s.name for o in args.only)]
    figures = []
    for subject in subjects:
        slow = isinstance(subject, DockerRun)
        figures.append(measure(subject, samples=max(5, args.samples // 3) if slow else args.samples, runs_per_level=args.runs))
    out = Path(args.out)
    (out / "docs").mkdir(parents=True, exist_ok=True)
    text = write_markdown(figures, out / "BENCHMARKS.md", argv=sys.argv[1:])
    write_chart(figures, out / "docs" / "benchmarks.png")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
