"""`sandbox run-md`: Markdown documents run as tests, driven through the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sandbox.markdown_report import write_junit
from sandbox.markdown_runner import BlockReport, FileReport, MarkdownUsageError, Status, output_matches, plan

F = "```"  # a fence, so that fixtures read as the Markdown they are


def run_md(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "run-md", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def lines_of(stdout: str, status: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(status)]


def cases(report: Path) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in ET.parse(report).getroot().iter("testcase")}


PASSING = f"""\
    # Two blocks sharing a workspace

    {F}python
    # filename: numbers.py
    print(sum(range(10)))
    {F}

    {F}output
    45
    {F}

    The next block reads the file the first one saved.

    {F}sh
    grep -c range numbers.py
    {F}
"""


def test_a_passing_document_exits_0_with_a_line_per_block_and_a_shared_workspace(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", PASSING)
    done = run_md("--local", "doc.md", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[:3] for line in lines_of(done.stdout, "PASS")] == [
        ["PASS", "doc.md:3", "python"], ["PASS", "doc.md:14", "sh"],
    ]
    assert done.stdout.splitlines()[-1].startswith("2 passed, 0 failed, 0 skipped in ")
    assert "RUN " not in done.stdout  # piped: no line that a later one overwrites


def test_a_failing_block_exits_1_shows_its_output_and_later_blocks_still_run(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", f"""\
        {F}python
        import sys
        print("about to fail", file=sys.stderr)
        sys.exit(3)
        {F}

        {F}python
        print("still runs")
        {F}
    """)
    done = run_md("--local", "doc.md", cwd=tmp_path)
    assert done.returncode == 1
    out = done.stdout.splitlines()
    fail = out.index(next(line for line in out if line.startswith("FAIL  doc.md:1")))
    assert out[fail + 1].strip() == "exit code 3" and out[fail + 2] == "      | about to fail"
    assert lines_of(done.stdout, "PASS")[0].startswith("PASS  doc.md:7")
    assert "FAILED doc.md:1 - exit code 3" in out
    assert out[-1].startswith("1 passed, 1 failed, 0 skipped")


def test_skip_markers_and_languages_that_do_not_run_are_skipped_with_their_reason(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", f"""\
        {F}python skip
        raise SystemExit(1)
        {F}

        <!-- sandbox: skip: needs a real LLM -->
        {F}python
        raise SystemExit(2)
        {F}

        <!--
          sandbox: skip (a comment over several lines)
        -->
        <!-- another comment between is fine -->
        {F}sh
        exit 3
        {F}

        {F}json
        {{"not": "run"}}
        {F}

        {F}
        untagged
        {F}

        {F}cobol
        DISPLAY 'X'.
        {F}

        {F}json filename=config.json
        {{"saved": true}}
        {F}

        {F}python
        import json; print(json.load(open("config.json")))
        {F}
    """)
    done = run_md("--local", "doc.md", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1].startswith("2 passed, 0 failed, 6 skipped")
    assert not lines_of(done.stdout, "SKIP")  # -q: failures and the summary only

    done = run_md("--local", "doc.md", cwd=tmp_path)
    skipped = {line.split()[1]: line.split(None, 3)[3] for line in lines_of(done.stdout, "SKIP")}
    assert skipped == {
        "doc.md:1": "marked skip in the info string",
        "doc.md:6": "needs a real LLM",
        "doc.md:14": "a comment over several lines",
        "doc.md:18": "json is not run (a text format)",
        "doc.md:22": "untagged; tag the fence (```python, ```sh, ...) to run it",
        "doc.md:26": "cobol is not a language the sandbox runs (bash, python, sh)",
    }
    saved, read = lines_of(done.stdout, "PASS")
    assert saved.startswith("PASS  doc.md:30  json") and "saved to config.json" in saved
    assert read.startswith("PASS  doc.md:34  python")


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        ("42\n", "42\n", True),
        ("42", "42   \n\n\n", True),  # trailing whitespace and blank lines are not compared
        ("a\r\nb\r\n", "a\nb\n", True),
        ("42\n", "43\n", False),
        ("", "", True),  # an empty output fence expects no output
        ("", "something\n", False),
        ("first\n...\nlast\n", "first\nx\ny\nlast\n", True),  # a line of ... matches lines
        ("first\n...\nlast\n", "first\nlast\n", True),  # ... including none
        ("first\n...\nlast\n", "first\nx\n", False),
        ("took ... seconds\n", "took 0.25 seconds\n", True),  # ... within a line
        ("took ... seconds\n", "took 0.25\nseconds\n", False),  # but not across lines
        ("a.b\n", "axb\n", False),  # everything but ... is literal
        ("  indented\n", "indented\n", False),  # leading spaces count
    ],
)
def test_output_matches(expected: str, actual: str, matches: bool) -> None:
    assert output_matches(expected, actual) is matches


def test_expected_output_is_checked_and_a_mismatch_fails_with_a_diff(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", f"""\
        {F}python
        import time
        print("pid", 12345)
        print("answer", 6 * 7)
        {F}

        Prints, among other things:

        <!-- sandbox: expect -->
        {F}text
        ...
        answer 42
        {F}

        {F}python
        print("answer", 41)
        {F}

        {F}output
        answer 42
        {F}
    """)
    done = run_md("--local", "doc.md", cwd=tmp_path)
    assert done.returncode == 1
    assert lines_of(done.stdout, "PASS")[0].startswith("PASS  doc.md:1")
    assert lines_of(done.stdout, "FAIL")[0].startswith("FAIL  doc.md:15")
    assert "stdout differs from the expected output at doc.md:19" in done.stdout
    assert "      | -answer 42\n      | +answer 41\n" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("1 passed, 1 failed, 0 skipped")  # outputs are no tests


def test_junit_report_has_a_suite_per_file_and_a_case_per_block(tmp_path: Path) -> None:
    write(tmp_path, "ok.md", PASSING)
    write(tmp_path, "mixed.md", f"""\
        {F}python
        import sys
        print("\\x1b[31mred\\x1b[0m and a NUL \\x00")
        print("on stderr", file=sys.stderr)
        sys.exit(1)
        {F}

        <!-- sandbox: skip: not today -->
        {F}sh
        exit 1
        {F}

        {F}python
        print(1)
        {F}

        {F}output
        2
        {F}
    """)
    report = tmp_path / "reports" / "run-md.xml"  # the directory is created, as pytest does
    done = run_md("--local", "ok.md", "mixed.md", "--junit", str(report), cwd=tmp_path)
    assert done.returncode == 1
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("5", "2", "0", "1")
    assert [(s.get("name"), s.get("tests"), s.get("failures"), s.get("skipped")) for s in root] == [
        ("ok.md", "2", "0", "0"), ("mixed.md", "3", "2", "1"),
    ]
    by_name = cases(report)
    assert list(by_name) == ["ok.md:3", "ok.md:14", "mixed.md:1", "mixed.md:9", "mixed.md:13"]
    assert by_name["ok.md:3"].get("classname") == "ok.md" and by_name["ok.md:3"].get("line") == "3"
    assert by_name["ok.md:3"].findtext("system-out") == "45\n" and not list(by_name["ok.md:3"].iter("failure"))

    crashed = by_name["mixed.md:1"].find("failure")
    assert crashed is not None and crashed.get("message") == "exit code 1" and crashed.get("type") == "error"
    assert "\\x1b[31mred\\x1b[0m and a NUL \\x00" in (crashed.text or "")  # control codes spelled out
    assert by_name["mixed.md:1"].findtext("system-err") == "on stderr\n"

    skipped = by_name["mixed.md:9"].find("skipped")
    assert skipped is not None and skipped.get("message") == "not today"

    mismatch = by_name["mixed.md:13"].find("failure")
    assert mismatch is not None and mismatch.get("type") == "output-mismatch"
    assert "-2\n+1" in (mismatch.text or "")
    assert sorted(p.name for p in report.parent.iterdir()) == ["run-md.xml"]  # no temporary left


def test_the_report_is_replaced_atomically_and_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    block = BlockReport(file="a.md", line=1, language="python", status=Status.PASSED)
    reports = [FileReport(file="a.md", blocks=(block,), started_at=0.0, duration_s=0.1)]
    target = tmp_path / "report.xml"
    target.write_text("old")
    target.chmod(0o640)
    write_junit(target, reports)
    assert ET.parse(target).getroot().get("tests") == "1" and target.stat().st_mode & 0o777 == 0o640

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep").write_text("")
    with pytest.raises(OSError):
        write_junit(occupied, reports)  # a non-empty directory cannot be replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["occupied", "report.xml"]


def test_exitfirst_stops_at_the_first_failure_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.md", f"{F}sh\nexit 4\n{F}\n\n{F}sh\necho later\n{F}\n")
    write(tmp_path, "b.md", f"{F}sh\necho never\n{F}\n")
    done = run_md("--local", "-x", "a.md", "b.md", cwd=tmp_path)
    assert done.returncode == 1
    skipped = lines_of(done.stdout, "SKIP")
    assert [line.split()[1] for line in skipped] == ["a.md:5", "b.md:1"]
    assert all("stopped at the first failure, a.md:1 (--exitfirst)" in line for line in skipped)


def test_a_timeout_fails_the_block_and_env_passes_variables(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", f"""\
        {F}sh
        echo "$GREETING $FROM_CALLER"
        {F}

        {F}output
        hello caller
        {F}

        {F}python
        import time; time.sleep(30)
        {F}
    """)
    done = run_md("--local", "--timeout", "1", "--env", "GREETING=hello", "--env", "FROM_CALLER", "--env", "UNSET_HERE",
                  "doc.md", cwd=tmp_path, env={"FROM_CALLER": "caller"})
    assert done.returncode == 1
    assert lines_of(done.stdout, "PASS")[0].startswith("PASS  doc.md:1")
    assert "timed out after 1 s" in done.stdout


def test_bad_files_exit_2_naming_each_problem_and_nothing_runs(tmp_path: Path) -> None:
    write(tmp_path, "good.md", f"{F}sh\ntouch ran\n{F}\n")
    write(tmp_path, "notes.txt", "text")
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe")
    (tmp_path / "docs").mkdir()
    report = tmp_path / "report.xml"
    done = run_md("--local", "--junit", str(report), "good.md", "missing.md", "notes.txt", "binary.md", "docs", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"sandbox: missing.md does not exist (relative to {tmp_path}); check the path",
        "sandbox: notes.txt is not a Markdown file (expected .md, .markdown); to run a script, use: sandbox run notes.txt",
        "sandbox: binary.md is not UTF-8 text (invalid start byte at byte 0); save it as UTF-8",
        "sandbox: docs is a directory; pass the Markdown files in it (e.g. docs/*.md)",
    ]
    assert not report.exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"<!-- sandbox: skipp -->\n{F}sh\necho\n{F}\n", "doc.md:2: unknown annotation <!-- sandbox: skipp -->"),
        (f"<!-- sandbox: skip -->\n\nSome prose.\n\n{F}sh\necho\n{F}\n", "doc.md:5: a <!-- sandbox: ... --> annotation"),
    ],
)
def test_an_annotation_that_applies_to_nothing_is_a_usage_error(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(MarkdownUsageError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        plan("doc.md", text)
    write(tmp_path, "doc.md", text)
    done = run_md("--local", "doc.md", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(f"sandbox: {problem}")


def test_an_output_fence_with_no_block_before_it_is_reported_not_run(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", f"{F}output\n42\n{F}\n")
    done = run_md("--local", "doc.md", cwd=tmp_path)
    assert done.returncode == 0
    assert lines_of(done.stdout, "SKIP") == ["SKIP  doc.md:1  output  expected output with no block right before it to check"]


def test_an_unreachable_engine_exits_125_and_reports_errors(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", PASSING)
    report = tmp_path / "report.xml"
    done = run_md("doc.md", "--junit", str(report), cwd=tmp_path, env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert done.returncode == 125
    assert lines_of(done.stdout, "ERROR")[0].startswith("ERROR doc.md:3  python")
    assert "no Docker engine" in done.stdout and "Traceback" not in done.stdout + done.stderr
    error = cases(report)["doc.md:3"].find("error")
    assert error is not None and error.get("type") == "EngineUnavailableError"
    assert cases(report)["doc.md:14"].find("skipped") is not None


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_a_document_runs_in_docker_sharing_its_workspace(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", PASSING + f"""
    {F}python
    import os
    print("uid", os.getuid(), "interfaces", sorted(os.listdir("/sys/class/net")))
    {F}

    {F}output
    uid ... interfaces ['lo']
    {F}

    {F}sh
    exit 9
    {F}
    """)
    report = tmp_path / "report.xml"
    done = run_md("doc.md", "--junit", str(report), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert [line.split()[1] for line in lines_of(done.stdout, "PASS")] == ["doc.md:3", "doc.md:14", "doc.md:18"], done.stdout
    assert lines_of(done.stdout, "FAIL")[0].startswith("FAIL  doc.md:27  sh")
    assert ET.parse(report).getroot().get("failures") == "1"


def test_on_a_terminal_a_run_line_shows_the_running_block_and_is_overwritten() -> None:
    import io

    from sandbox.extract import fenced_blocks
    from sandbox.markdown_report import ConsoleProgress

    out = io.StringIO()
    progress = ConsoleProgress(out, live=True)
    progress.started("doc.md", fenced_blocks(f"{F}python\nprint(1)\n{F}\n")[0])
    assert out.getvalue() == "RUN   doc.md:1  python ..."
    progress.finished(BlockReport(file="doc.md", line=1, language="python", status=Status.PASSED, duration_s=0.5))
    assert out.getvalue() == "RUN   doc.md:1  python ...\r\x1b[KPASS  doc.md:1  python  0.50s\n"


def test_a_junit_path_that_cannot_be_written_exits_2(tmp_path: Path) -> None:
    write(tmp_path, "doc.md", f"{F}sh\ntouch ran\n{F}\n")
    (tmp_path / "reports").mkdir()
    done = run_md("--local", "--junit", "reports", "doc.md", cwd=tmp_path)
    assert done.returncode == 2 and "--junit reports is a directory; give a file name" in done.stderr
    assert done.stdout == ""  # refused before anything ran
    (tmp_path / "not-a-dir").write_text("")
    done = run_md("--local", "--junit", "not-a-dir/report.xml", "doc.md", cwd=tmp_path)
    assert done.returncode == 2 and "cannot write the JUnit report not-a-dir/report.xml" in done.stderr
