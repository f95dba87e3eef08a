"""Run the abuse suite and write the security record: a Markdown table of case x backend.

Usage (from the repository root, normally through scripts/security-report):

    python scripts/security_report.py [--output docs/security-report.md] [--suite tests/security] [pytest args...]

The cases are the tests in tests/security, run by pytest in this process; a small plugin
collects each test's outcome (setup, call and teardown: the harness's "engine still works"
and "nothing leaked" checks run at teardown, so a failure there fails the case) and its
docstring, which names the attack. Exit status: 0 when no case failed (known issues, marked
xfail, do not fail the run), 1 otherwise.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SUITE = "tests/security"
COLUMNS = ["local", "docker", "docker-runsc", "docker-session"]  # others found are appended
AREAS = ["processes", "disk", "output", "network", "privilege", "filesystem", "escapes"]  # table order
SYMBOL = {"passed": "passed", "n/a": "n/a", "known issue": "**known issue**", "failed": "**FAILED**"}


@dataclass
class Case:
    """One test function: the attack, and what happened on each backend."""

    label: str
    module: str
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)  # backend -> (verdict, why)


class Collector:
    """A pytest plugin: the outcome of every phase of every test, grouped by case and backend."""

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self.backends: list[str] = []
        self._where: dict[str, tuple[Case, str]] = {}  # node id -> (case, backend)
        self._reports: dict[str, list[Any]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:  # deselected items (a backend's subset) are not here
            name = item.originalname if isinstance(item, pytest.Function) else item.name
            doc = (getattr(getattr(item, "function", None), "__doc__", None) or name).strip()
            case = self.cases.setdefault(name, Case(label=" ".join(doc.split("\n\n")[0].split()),
                                                    module=Path(str(item.fspath)).stem))
            backend = str(getattr(getattr(item, "callspec", None), "params", {}).get("backend", "-"))
            if backend not in self.backends:
                self.backends.append(backend)
            self._where[item.nodeid] = (case, backend)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._reports.setdefault(report.nodeid, []).append(report)
        case, backend = self._where[report.nodeid]
        case.cells[backend] = _verdict(self._reports[report.nodeid])


def _verdict(reports: list[Any]) -> tuple[str, str]:
    for r in reports:
        if r.failed:
            where = "" if r.when == "call" else f" (at {r.when}: the engine-still-works and no-leak checks)"
            return "failed", _first_line(r.longreprtext) + where
    for r in reports:
        if r.skipped and hasattr(r, "wasxfail"):
            return "known issue", str(r.wasxfail)
        if r.skipped:
            reason = r.longrepr[2] if isinstance(r.longrepr, tuple) else str(r.longrepr)
            return "n/a", reason.removeprefix("Skipped: ").removeprefix("n/a: ")
    return "passed", ""


def _area_rank(module: str) -> int:
    area = module.removeprefix("test_abuse_")
    return AREAS.index(area) if area in AREAS else len(AREAS)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("E "):
            return line[1:].strip()[:300]
    return (text.strip().splitlines() or ["(no message)"])[-1][:300]


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> list[tuple[str, str]]:
    """What the suite ran on: kernel, OS, engine, runtimes, image, Python."""
    rows = [("kernel", platform.release()), ("machine", f"{platform.machine()}, {_cpus()} CPUs")]
    try:
        from sandbox.executors.docker import DEFAULT_IMAGE, _connect

        client = _connect()
        try:
            info, version = client.info(), client.version()
            runtimes = info.get("Runtimes") or {}
            rows += [
                ("OS", str(info.get("OperatingSystem", "?"))),
                ("Docker engine", f"{version.get('Version', '?')} (API {version.get('ApiVersion', '?')}), "
                                  f"cgroup v{info.get('CgroupVersion', '?')}, storage {info.get('Driver', '?')}"),
                ("runc", str((info.get("RuncCommit") or {}).get("ID", "?"))),
            ]
            runsc = runtimes.get("runsc")
            if runsc:
                path = str(runsc.get("path", "runsc"))
                first = (_run([shutil.which(path) or path, "--version"]).splitlines() or ["?"])[0]
                rows.append(("runsc (gVisor)", f"{first}, args {' '.join(runsc.get('runtimeArgs') or []) or '(none)'}"))
            else:
                rows.append(("runsc (gVisor)", "not registered"))
            image = client.images.get(DEFAULT_IMAGE)
            kind = "offline stand-in built from Debian packages" if (image.labels or {}).get("io.sandbox.stand-in") == "true" else "pulled"
            rows.append(("image", f"{DEFAULT_IMAGE} ({kind}, {image.short_id})"))
        finally:
            client.close()
    except Exception as exc:  # the report still says what it could not find out
        rows.append(("Docker engine", f"unavailable: {exc}"))
    rows.append(("Python", platform.python_version()))
    return rows


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def render(collector: Collector, started: datetime, duration: float, exit_code: int) -> str:
    backends = [b for b in COLUMNS if b in collector.backends] + [b for b in collector.backends if b not in COLUMNS]
    notes: list[str] = []

    def cell(case: Case, backend: str) -> str:
        verdict, why = case.cells.get(backend, ("", ""))
        if not verdict:
            return "—"
        if not why:
            return SYMBOL[verdict]
        if why not in notes:
            notes.append(why)
        return f"{SYMBOL[verdict]} [{notes.index(why) + 1}]"

    counts: dict[str, int] = {}
    for case in collector.cases.values():
        for verdict, _ in case.cells.values():
            counts[verdict] = counts.get(verdict, 0) + 1
    lines = [
        "# Security record: the abuse suite",
        "",
        f"Generated by `scripts/security-report` on {started:%Y-%m-%d %H:%M} UTC in {duration:.0f} s "
        f"(pytest exit status {exit_code}). Regenerate it after any change to the engine, the image or the runtimes.",
        "",
        "Each cell is one test of `tests/security` on one backend. A case passes only if all three hold:",
        "the result reports the expected outcome; the engine keeps working (the next run on the same",
        "executor and a run on a new executor succeed); nothing leaks (no container, no process on the",
        "host, no temporary directory, no planted host file changed). *n/a*: the case means nothing for",
        "that backend (the local runner is not a sandbox). *known issue*: a strict xfail, a real bug",
        "described in the note. —: the case is not in that backend's matrix (`docker-session` runs a subset).",
        "",
        "Totals: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + ".",
        "",
        "| area | case | " + " | ".join(f"`{b}`" for b in backends) + " |",
        "|---|---|" + "---|" * len(backends),
    ]
    for case in sorted(collector.cases.values(), key=lambda c: _area_rank(c.module)):
        if case.cells:
            area = case.module.removeprefix("test_abuse_")
            label = case.label.replace("|", "\\|")  # a pipe in a cell would end it
            lines.append(f"| {area} | {label} | " + " | ".join(cell(case, b) for b in backends) + " |")
    lines += ["", "Notes:", ""]
    lines += [f"{i}. {note}" for i, note in enumerate(notes, 1)]
    lines += ["", "## The machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", default="docs/security-report.md", help="where to write the Markdown")
    parser.add_argument("--suite", default=SUITE, help=f"the tests to run (default: {SUITE})")
    args, pytest_args = parser.parse_known_args(argv)
    collector = Collector()
    started, clock = datetime.now(timezone.utc), time.monotonic()
    code = int(pytest.main([args.suite, "-q", "-p", "no:cacheprovider", *pytest_args], plugins=[collector]))
    duration = time.monotonic() - clock
    out = Path(args.output) if Path(args.output).is_absolute() else REPO / args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(collector, started, duration, code))
    print(f"security-report: wrote {out}", file=sys.stderr)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
