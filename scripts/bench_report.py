"""The benchmark's record: a Markdown table of ratios, the targets met or missed, and a chart."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

FLOOR = "python -c (floor)"
DOCKER_RUN = "docker run --rm (floor)"
POOLED = "ours: docker pooled"
POOLED_NETNS = "ours: docker pooled, reused netns"
SESSION = "ours: docker session"
AUTOGEN_DOCKER = "AutoGen DockerCommandLineCodeExecutor"


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "not installed"


def machine() -> list[str]:
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        memory = "?"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory}",
        f"- Kernel: {platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- Docker engine: {_first_line(['docker', 'version', '--format', '{{.Server.Version}}'])}; "
        f"gVisor: {_first_line(['runsc', '--version'])}",
        f"- Run on {datetime.date.today().isoformat()}",
    ]


def _by_name(figures: list[Any]) -> dict[str, Any]:
    return {f.name: f for f in figures}


def _ms(seconds: float | None, base: float | None) -> str:
    if seconds is None:
        return "–"
    ratio = f" ({seconds / base:.2f}x)" if base else ""
    return f"{seconds * 1000:.0f} ms{ratio}" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms{ratio}"


def _rate(value: float | None, base: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}/s" + (f" ({value / base:.2f}x)" if base else "")


def targets(figures: list[Any]) -> list[tuple[str, bool | None, str]]:
    """(target, met?, the figures it was judged on); None when a figure is missing."""
    f = _by_name(figures)
    floor, run = f.get(FLOOR), f.get(DOCKER_RUN)
    pooled, session, autogen = f.get(POOLED), f.get(SESSION), f.get(AUTOGEN_DOCKER)
    found: list[tuple[str, bool | None, str]] = []

    def judge(name: str, a: float | None, b: float | None, op: str, bound: float) -> None:
        if a is None or not b:
            found.append((name, None, "not measured"))
            return
        ratio = a / b
        met = ratio <= bound if op == "<=" else ratio >= bound
        found.append((name, met, f"{ratio:.2f}x (needs {op} {bound}x)"))

    judge("Pooled fresh-sandbox hello p50 <= 1.5x python -c", pooled and pooled.p50, floor and floor.p50, "<=", 1.5)
    judge("Session hello p50 <= 1.5x python -c", session and session.p50, floor and floor.p50, "<=", 1.5)
    judge("Session throughput at c=4 >= 2x AutoGen Docker's", session and session.throughput.get(4),
          autogen and autogen.throughput.get(4), ">=", 2.0)
    judge("Pooled throughput at c=4 >= 1.5x docker run --rm", pooled and pooled.throughput.get(4),
          run and run.throughput.get(4), ">=", 1.5)
    netns = f.get(POOLED_NETNS)
    judge("... the same, with Pool(reuse_network_namespaces=True)", netns and netns.throughput.get(4),
          run and run.throughput.get(4), ">=", 1.5)
    judge("Cold start to first result <= 1.2x one docker run --rm", pooled and pooled.cold, run and run.p50, "<=", 1.2)
    closes = [x for x in figures if x.kind == "ours" and "docker" in x.name and x.close is not None]
    worst = max(closes, key=lambda x: x.close) if closes else None
    found.append(("close() under 1 s (every Docker mode of ours)", None if worst is None else worst.close < 1.0,
                  "not measured" if worst is None else f"slowest {worst.close * 1000:.0f} ms ({worst.name})"))
    timed = [x for x in figures if x.kind == "ours" and x.overrun is not None]
    late = max(timed, key=lambda x: x.overrun) if timed else None
    found.append((
        "A timed-out call returns within 0.5 s of its deadline, every process dead",
        None if late is None else late.overrun <= 0.5 and all(x.all_dead for x in timed),
        "not measured" if late is None else
        f"latest {late.overrun * 1000:.0f} ms past ({late.name}); all dead: {all(x.all_dead for x in timed)}",
    ))
    return found


def write_markdown(figures: list[Any], path: Path, *, argv: list[str]) -> str:
    floor = _by_name(figures).get(FLOOR)
    base = floor.p50 if floor else None
    lines = [
        "# Benchmarks",
        "",
        "Written by `scripts/bench` " + " ".join(argv) + "; do not edit by hand. Every figure is followed by its",
        "ratio to the local `python -c` floor measured in the same run (throughput: to the floor's",
        "throughput at the same concurrency; memory: to the floor's peak). One run on this machine:",
        "",
        *machine(),
        "",
        "## Targets",
        "",
        "| target | met | measured |",
        "|---|---|---|",
    ]
    for name, met, detail in targets(figures):
        lines.append(f"| {name} | {'yes' if met else 'no' if met is False else '–'} | {detail} |")
    lines += [
        "",
        "## Latency, start and stop",
        "",
        "| runner | hello p50 | hello p95 | cold start | close | 10 MB out: time | 10 MB out: caller peak | timeout: late by | timeout: all dead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        peak = "–" if f.big_peak_mib is None else f"{f.big_peak_mib:.1f} MiB" + (
            f" ({f.big_peak_mib / floor.big_peak_mib:.2f}x)" if floor and floor.big_peak_mib else "")
        dead = "–" if f.all_dead is None else "yes" if f.all_dead else "**no**"
        overrun = "–" if f.overrun is None else f"{f.overrun * 1000:.0f} ms"
        lines.append(
            f"| {f.name} | {_ms(f.p50, base)} | {_ms(f.p95, base)} | {_ms(f.cold, base)} | {_ms(f.close, base)} | "
            f"{_ms(f.big_time, base)} | {peak} | {overrun} | {dead} |"
        )
    lines += ["", "## Throughput (runs per second, one runner, N threads)", "",
              "| runner | c=1 | c=2 | c=4 | c=8 |", "|---|---|---|---|---|"]
    for f in figures:
        cells = [_rate(f.throughput.get(c), floor.throughput.get(c) if floor else None) for c in (1, 2, 4, 8)]
        lines.append(f"| {f.name} | " + " | ".join(cells) + " |")
    errors = [(f.name, e) for f in figures for e in f.errors]
    if errors:
        lines += ["", "## Errors", ""] + [f"- {name}: {e}" for name, e in errors]
    lines += ["", "![latency and throughput](docs/benchmarks.png)", ""]
    text = "\n".join(lines)
    path.write_text(text)
    return text


def write_chart(figures: list[Any], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [f for f in figures if f.p50 is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5))
    colours = {"floor": "#888888", "ours": "#1f77b4", "peer": "#d62728"}
    names = [f.name for f in shown]
    left.barh(names, [f.p50 * 1000 for f in shown], color=[colours[f.kind] for f in shown])
    left.set_xscale("log")
    left.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # the log axis's labels overlapped
    left.set_xlabel("hello latency p50 (ms, log scale)")
    left.invert_yaxis()
    for f in figures:
        if f.throughput:
            levels = sorted(f.throughput)
            right.plot(levels, [f.throughput[c] for c in levels], marker="o", label=f.name,
                       linestyle="--" if f.kind == "floor" else "-")
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("concurrency (threads)")
    right.set_ylabel("runs per second (log scale)")
    right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("print('hello'): latency and throughput, one run on " + f"{os.cpu_count()} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
