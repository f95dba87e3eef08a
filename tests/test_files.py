"""Files in and out of the workspace: the round trip on every runner, then the refusals.

The round trip runs over every backend (the workspace is a bind mount in Docker, and a root
caller's files are lent to the sandbox uid); the refusals are the shared code's and run on a
FakeExecutor's workspace, where the test can plant what hostile code would plant.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import CodeBlock, CodeExecutor, ExecutorClosedError, FakeExecutor, FileLimitError, FileLimits
from sandbox.executors.base import BaseExecutor
from sandbox.workspace import PathRejected

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a0f6a2b20000000049454e44ae426082"
)


def test_put_run_and_get_back_on_every_runner(executor: CodeExecutor, tmp_path: Path) -> None:
    assert isinstance(executor, BaseExecutor)  # the file verbs are every runner's, not the protocol's
    host_file = tmp_path / "model.bin"
    host_file.write_bytes(bytes(range(256)) * 4)
    put = executor.put_files(
        {"data/in.csv": b"a,b\n1,2\n3,4\n", "notes.txt": "h\u00e9llo", "model.bin": host_file}
    )
    assert [(f.path, f.size, f.created, f.mime_type) for f in put] == [
        ("data/in.csv", 12, True, "text/csv"), ("notes.txt", 6, True, "text/plain"),
        ("model.bin", 1024, True, "application/octet-stream"),
    ]
    code = (
        "import csv, json, os\n"
        "rows = list(csv.DictReader(open('data/in.csv')))\n"
        "os.makedirs('out', exist_ok=True)\n"
        "json.dump({'total': sum(int(r['b']) for r in rows), 'notes': open('notes.txt').read(),\n"
        "           'model': len(open('model.bin', 'rb').read())}, open('out/result.json', 'w'))\n"
        f"open('out/pixel.dat', 'wb').write({PNG_1x1!r})\n"
        "open('notes.txt', 'a').write('!')\n"  # the code may change what it was given
    )
    result = executor.execute([CodeBlock(code, "python")])
    assert result.ok, result.output
    assert json.loads(executor.read_file("out/result.json")) == {"total": 6, "notes": "h\u00e9llo", "model": 1024}
    by_path = {f.path: f for f in result.files}
    assert set(by_path) == {"out/result.json", "out/pixel.dat", "notes.txt"}
    assert by_path["out/pixel.dat"].mime_type == "image/png" and by_path["out/pixel.dat"].is_image  # sniffed, not named
    assert by_path["out/result.json"].mime_type == "application/json" and by_path["out/result.json"].created
    assert not by_path["notes.txt"].created
    assert executor.get_files(result.files) == {
        "notes.txt": "h\u00e9llo!".encode(), "out/pixel.dat": PNG_1x1, "out/result.json": executor.read_file("out/result.json"),
    }
    assert list(executor.get_files("out/*")) == ["out/pixel.dat", "out/result.json"]
    assert executor.get_files("*.json") == {"out/result.json": executor.read_file(by_path["out/result.json"])}
    assert executor.get_files("nothing-*") == {}
    # a second put replaces a file the code owns now (Docker: lent to the sandbox uid)
    executor.put_files({"notes.txt": b"new"})
    assert executor.execute([CodeBlock("print(open('notes.txt').read())", "python")]).stdout == "new\n"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeExecutor]:
    ex = FakeExecutor(work_dir=tmp_path / "ws")
    yield ex
    ex.close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    (target / "secret").write_text("host secret")
    return target


@pytest.mark.parametrize(
    ("name", "why"), [("/etc/passwd", "absolute"), ("../x", "climbs out"), ("a/../../x", "climbs out"), ("", "empty")]
)
def test_paths_are_confined(fake: FakeExecutor, name: str, why: str) -> None:
    with pytest.raises(PathRejected, match=why):
        fake.put_files({name: b"x"})
    with pytest.raises(PathRejected, match=why):
        fake.read_file(name)
    assert list(fake.work_dir.iterdir()) == []


def test_symlinks_the_code_planted_are_never_followed(fake: FakeExecutor, outside: Path) -> None:
    ws = fake.work_dir
    os.symlink(outside / "secret", ws / "link.txt")
    os.symlink(outside, ws / "linkdir")
    with pytest.raises(PathRejected, match="symlink"):
        fake.read_file("link.txt")
    with pytest.raises(PathRejected, match="symlink"):
        fake.read_file("linkdir/secret")
    with pytest.raises(PathRejected, match="symlink"):
        fake.put_files({"linkdir/new.txt": b"x"})
    assert fake.get_files("*") == {}  # links are not files: never matched
    with pytest.raises(PathRejected, match="symlink"):
        fake.get_files(["link.txt"])
    # Putting a file where a link is replaces the link itself; its target is untouched.
    fake.put_files({"link.txt": b"mine"})
    assert not (ws / "link.txt").is_symlink() and (ws / "link.txt").read_bytes() == b"mine"
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "host secret"


def test_a_fifo_in_place_of_a_file_is_refused_without_hanging(fake: FakeExecutor) -> None:
    os.mkfifo(fake.work_dir / "pipe")
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            fake.read_file("pipe")
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "read_file blocked on a FIFO"
    assert isinstance(outcome[0], PathRejected) and "not a regular file" in str(outcome[0])


def test_caps_name_the_fix_and_nothing_is_written(fake: FakeExecutor, tmp_path: Path) -> None:
    small = FileLimits(max_file_bytes=10, max_total_bytes=15, max_files=2)
    with pytest.raises(FileLimitError, match=r"over the cap of 10; raise the cap with executor.file_limits"):
        fake.put_files({"big": b"x" * 11}, limits=small)
    with pytest.raises(FileLimitError, match="max_total_bytes"):
        fake.put_files({"a": b"x" * 8, "b": b"y" * 8}, limits=small)
    with pytest.raises(FileLimitError, match="max_files"):
        fake.put_files({"a": b"", "b": b"", "c": b""}, limits=small)
    assert list(fake.work_dir.iterdir()) == []
    (fake.work_dir / "big.bin").write_bytes(b"z" * 100)
    (fake.work_dir / "a.txt").write_bytes(b"a")
    (fake.work_dir / "b.txt").write_bytes(b"b")
    (fake.work_dir / "c.txt").write_bytes(b"c")
    fake.file_limits = small  # the executor-wide setting
    with pytest.raises(FileLimitError, match="100 bytes, over the cap of 10"):
        fake.read_file("big.bin")
    with pytest.raises(FileLimitError, match="3 files match, over the cap of 2; narrow the pattern"):
        fake.get_files("*.txt")
    assert fake.get_files(["a.txt", "b.txt"]) == {"a.txt": b"a", "b.txt": b"b"}
    with pytest.raises(ValueError, match="positive int"):
        FileLimits(max_files=0)


def test_a_failed_put_leaves_no_partial_file_no_temporary_and_no_new_directory(fake: FakeExecutor, tmp_path: Path) -> None:
    (fake.work_dir / "keep.txt").write_text("original")
    (fake.work_dir / "adir").mkdir()
    with pytest.raises(FileNotFoundError, match="does not exist"):  # checked before anything is written
        fake.put_files({"new/one.txt": b"1", "keep.txt": b"changed", "x": tmp_path / "missing"})
    with pytest.raises(PathRejected, match="directory of that name is in the way"):  # found while writing
        fake.put_files({"deep/er/one.txt": b"1", "keep.txt": b"changed", "adir": b"2"})
    assert sorted(p.name for p in fake.work_dir.iterdir()) == ["adir", "keep.txt"]
    assert (fake.work_dir / "keep.txt").read_text() == "original"
    assert list((fake.work_dir / "adir").iterdir()) == []


def test_bad_sources_and_missing_files_are_plain_errors(fake: FakeExecutor, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="bytes, str or a Path"):
        fake.put_files({"a": 42})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="mapping"):
        fake.put_files([("a", b"x")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a regular file"):
        fake.put_files({"d": tmp_path})
    with pytest.raises(ValueError, match="twice"):
        fake.put_files({"a.txt": b"1", "./a.txt": b"2"})
    with pytest.raises(FileNotFoundError, match="not in the workspace"):
        fake.read_file("nope.txt")
    with pytest.raises(FileNotFoundError, match="no directory 'sub'"):
        fake.read_file("sub/nope.txt")
    with pytest.raises(FileNotFoundError):
        fake.get_files(["nope.txt"])


def test_put_reports_changed_files_and_the_closed_executor_refuses(tmp_path: Path) -> None:
    ex = FakeExecutor(work_dir=tmp_path / "ws")
    (ex.work_dir / "old.txt").write_text("1")
    changes = ex.put_files({"old.txt": "22", "img/dot.png": PNG_1x1})
    assert [(c.path, c.created, c.size, c.is_image) for c in changes] == [
        ("old.txt", False, 2, False), ("img/dot.png", True, len(PNG_1x1), True),
    ]
    assert not [p for p in ex.work_dir.rglob("*") if p.name.startswith(".sandbox-put-")]
    ex.close()
    for call in (lambda: ex.put_files({"a": b""}), lambda: ex.read_file("old.txt"), lambda: ex.get_files("*")):
        with pytest.raises(ExecutorClosedError):
            call()
