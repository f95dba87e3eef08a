"""`sandbox` / `python -m sandbox`: a thin command line over the library.

Exit status: the code's own exit code (124 on timeout, as AutoGen and GNU timeout report it);
125 when the engine itself failed (Docker's own convention for `docker run`), 126 when the
engine refused to run the code (unknown language, bad filename), 2 for bad usage. `run-md`
is a test runner: 0 when every block passed or was skipped, 1 when one failed (its --help).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import SandboxError
from .models import CodeBlock, ExecutionResult, Outcome

__all__ = ["main"]

EXIT_ENGINE_ERROR = 125
EXIT_REJECTED = 126
_EXTENSIONS = {".py": "python", ".sh": "bash", ".bash": "bash"}

DEMO_REPLY = '''Sure! Here is a script that inspects its surroundings:

```python
# filename: inspect_sandbox.py
import os, pathlib
print("user id:", os.getuid())
print("network interfaces:", sorted(os.listdir("/sys/class/net")))
print("OPENAI_API_KEY visible:", "OPENAI_API_KEY" in os.environ)
try:
    pathlib.Path("/etc/owned").write_text("pwned")
    print("wrote to /etc")
except OSError as exc:
    print("write to /etc refused:", exc.strerror)
routes = pathlib.Path("/proc/net/route").read_text().splitlines()[1:]
print("default route:", any(line.split()[1] == "00000000" for line in routes))
```
'''


def _executor(args: argparse.Namespace, env: Mapping[str, str] | None = None, *, pool: int = 0) -> Any:
    """The runner the options name. `pool=0` by default: for one call per process, a pooled
    spare would be started only to be thrown away; `run-md` makes a call per block."""
    network = getattr(args, "network", "none")
    if args.executor == "local":
        if getattr(args, "allow_host", None) or network != "none":
            raise SystemExit(_usage("--allow-host and --network need --executor docker"))
        from .executors.local import LocalExecutor

        return LocalExecutor(timeout=args.timeout, work_dir=args.work_dir, env=env)
    from .executors.docker import DEFAULT_IMAGE, DockerExecutor

    try:
        return DockerExecutor(
            args.image or DEFAULT_IMAGE, timeout=args.timeout, work_dir=args.work_dir, runtime=args.runtime,
            session=False, env=env, pool=pool, allow_hosts=getattr(args, "allow_host", None),
            network={"none": False, "bridge": True}.get(network, network),
        )
    except ValueError as exc:  # a bad --allow-host, or --allow-host with --network
        raise SystemExit(_usage(str(exc))) from None


def _blocks_from_file(path: str, lang: str | None) -> list[CodeBlock]:
    from .extract import extract_code_blocks
    from .inference import infer_language

    if path == "-":
        text = sys.stdin.read()
        name = None
    else:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise SystemExit(_usage(f"cannot read {path}: {exc.strerror}"))
        name = Path(path)
    if lang:
        return [CodeBlock(text, lang)]
    if name is not None and name.suffix.lower() in (".md", ".markdown"):
        blocks = extract_code_blocks(text)
        if not blocks:
            raise SystemExit(_usage(f"{path} has no fenced code blocks"))
        return blocks
    language = _EXTENSIONS.get(name.suffix.lower()) if name is not None else None
    return [CodeBlock(text, language or infer_language(text))]


def _usage(message: str) -> int:
    print(f"sandbox: {message}", file=sys.stderr)
    return 2


def _report(result: ExecutionResult, as_json: bool, *, streamed: bool = False) -> int:
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        if not streamed:
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
        elif result.truncated:
            print(f"sandbox: the output was shown whole; the result kept {len(result.output.encode())} bytes of it", file=sys.stderr)
        if result.truncated and not streamed:
            print(f"sandbox: output truncated, {result.truncated_bytes} bytes dropped from the middle", file=sys.stderr)
        if result.message and result.outcome is not Outcome.SUCCESS:
            print(f"sandbox: {result.message}", file=sys.stderr)
    if result.outcome is Outcome.REJECTED:
        return EXIT_REJECTED
    if result.exit_code is not None:
        return result.exit_code
    return 0 if result.ok else 1  # nothing ran: only save-only blocks, or none at all


def _run(args: argparse.Namespace, blocks: list[CodeBlock]) -> int:
    """Run the blocks; without --json, output is shown as the code writes it (see `progress.py`)."""
    from .progress import LiveOutput

    with _executor(args) as executor:
        if args.json:
            return _report(executor.execute(blocks), True)
        with LiveOutput(timeout=args.timeout, output_limit=executor.output_limit) as live:
            result = executor.execute(blocks, on_output=live)
    return _report(result, False, streamed=True)


def _demo(args: argparse.Namespace) -> int:
    from .extract import extract_code_blocks

    print("An LLM replied with this (untrusted) code:\n")
    print(DEMO_REPLY)
    blocks = extract_code_blocks(DEMO_REPLY)
    print(f"Running {len(blocks)} block(s) with --executor {args.executor} ...\n", flush=True)
    with _executor(args) as executor:
        result = executor.execute(blocks)
        where = getattr(executor, "image", "this machine")
    print(f"ExecutionResult (ran in {where}):")
    print(json.dumps(result.to_dict(), indent=2))
    return 0 if result.ok else 1


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import run_checks

    return run_checks(image=args.image, out=sys.stdout)


def _reap(args: argparse.Namespace) -> int:
    from .reap import reap

    removed = reap(everything=args.all, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for c in removed:
        print(f"{verb} {c.kind} {c.id} (owner pid {c.owner_pid}, {c.status})")
    networks = sum(c.kind == "network" for c in removed)
    print(f"{verb} {len(removed) - networks} container(s) and {networks} network(s)")
    return 0


def _run_md(args: argparse.Namespace) -> int:
    """Run Markdown files as tests; the exit status is a test runner's (see `run-md --help`)."""
    from .markdown_report import ConsoleProgress, summary, write_junit
    from .markdown_runner import MarkdownRunner, MarkdownUsageError, Status, run_files

    env: dict[str, str] = {}
    for item in args.env:  # NAME=VALUE, or NAME to pass the caller's value on, as `docker run -e`
        name, sep, value = item.partition("=")
        if sep:
            env[name] = value
        elif name in os.environ:
            env[name] = os.environ[name]
    if args.junit and Path(args.junit).is_dir():
        return _usage(f"--junit {args.junit} is a directory; give a file name, e.g. {Path(args.junit) / 'run-md.xml'}")
    args.work_dir = None  # each file gets its own temporary workspace
    progress = ConsoleProgress(sys.stdout, quiet=args.quiet)
    runner = MarkdownRunner(
        lambda: _executor(args, env, pool=1), exitfirst=args.exitfirst, on_start=progress.started, on_done=progress.finished,
    )
    try:
        reports = run_files(args.files, runner)
    except MarkdownUsageError as exc:
        for problem in str(exc).splitlines():
            _usage(problem)
        return 2
    sys.stdout.write(summary(reports))
    if args.junit:
        try:
            write_junit(args.junit, reports)
        except OSError as exc:
            return _usage(f"cannot write the JUnit report {args.junit}: {exc.strerror or exc}")
    statuses = {b.status for r in reports for b in r.blocks}
    if Status.ERROR in statuses:
        return EXIT_ENGINE_ERROR
    return 1 if Status.FAILED in statuses else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sandbox", description="Run untrusted code in a sandbox.")
    sub = parser.add_subparsers(dest="command", required=True)

    def runner_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--executor", choices=["docker", "local"], default="docker", help="where the code runs (default: docker)")
        p.add_argument("--timeout", type=float, default=60, help="seconds for the whole call (default: 60)")
        p.add_argument("--image", default=None, help="Docker image (default: python:3.11-slim)")
        p.add_argument("--runtime", default=None, help="Docker runtime, e.g. runsc for gVisor")
        p.add_argument("--work-dir", default=None, help="workspace directory (default: a temporary one)")
        p.add_argument("--allow-host", action="append", default=[], metavar="HOST[:PORT]",
                       help="let the code reach this host (ports 80 and 443 unless given) through a filtering proxy; repeatable")
        p.add_argument("--network", default="none", metavar="NAME",
                       help="none (default), bridge, or a Docker network: the code gets all of it, unfiltered (dangerous)")
        p.add_argument("--json", action="store_true", help="print the full result as JSON")

    run = sub.add_parser("run", help="run a file (language from its extension or content; - reads stdin)")
    run.add_argument("file")
    run.add_argument("--lang", default=None)
    runner_options(run)
    ex = sub.add_parser("exec", help="run code given on the command line")
    ex.add_argument("--lang", default="python")
    ex.add_argument("-c", dest="code", required=True)
    runner_options(ex)
    from .markdown_runner import CLI_HELP

    md = sub.add_parser(
        "run-md", help="run the fenced blocks of Markdown files as tests (for CI)", epilog=CLI_HELP,
        description="Run the fenced code blocks of Markdown files in the sandbox, as tests.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    md.add_argument("files", nargs="+", metavar="FILE.md")
    md.add_argument("--executor", choices=["docker", "local"], default="docker", help="where the code runs (default: docker)")
    md.add_argument("--local", dest="executor", action="store_const", const="local", help="same as --executor local")
    md.add_argument("--timeout", type=float, default=60, help="seconds per block (default: 60)")
    md.add_argument("--image", default=None, help="Docker image (default: python:3.11-slim)")
    md.add_argument("--runtime", default=None, help="Docker runtime, e.g. runsc for gVisor")
    md.add_argument("--env", action="append", default=[], metavar="NAME[=VALUE]",
                    help="give the code this variable (NAME alone: the caller's value); repeatable")
    md.add_argument("--junit", metavar="REPORT.xml", help="write a JUnit XML report (atomically)")
    md.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    md.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    demo = sub.add_parser("demo", help="run an example of untrusted LLM code and print its result")
    runner_options(demo)
    doctor = sub.add_parser("doctor", help="check the engine, the image and the runtimes")
    doctor.add_argument("--image", default=None)
    reap = sub.add_parser("reap", help="remove leftover sandbox containers whose owner is gone")
    reap.add_argument("--all", action="store_true", help="remove every sandbox container, owned or not")
    reap.add_argument("--dry-run", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args, _blocks_from_file(args.file, args.lang))
        if args.command == "run-md":
            return _run_md(args)
        if args.command == "exec":
            return _run(args, [CodeBlock(args.code, args.lang)])
        if args.command == "demo":
            return _demo(args)
        if args.command == "doctor":
            return _doctor(args)
        if args.command == "reap":
            return _reap(args)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    except KeyboardInterrupt:
        return 130
    return 2
