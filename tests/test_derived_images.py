"""`DockerExecutor(requirements=[...])`: built once per list and base, reused after, clean on failure.

Nothing here reaches PyPI: the packages are wheels the test writes itself (a wheel is a zip
with METADATA, WHEEL and RECORD), installed with `no_index=True`, so the build container has
no network at all. Each test makes uniquely named packages and removes the images it built.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import CodeBlock, CodeExecutor, DockerExecutor, ImageBuildError, Requirements
from sandbox.executors.docker import DEFAULT_IMAGE, _connect
from sandbox.executors.images import DERIVED, DERIVED_BASE, DERIVED_REQUIREMENTS, ensure_derived_image
from sandbox.labels import MANAGED, MODE, OWNER_PID

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_required")]


def make_wheel(directory: Path, name: str, version: str, source: str) -> Path:
    """A minimal pure-Python wheel: one package, its METADATA, WHEEL and a RECORD with hashes."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: sandbox-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{dist}/RECORD"] = ("\n".join(record) + f"\n{dist}/RECORD,,\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, (2024, 1, 1, 0, 0, 0)), data)
    return wheel


@pytest.fixture
def client() -> Iterator[Any]:
    """A Docker client; every derived image this test leaves is removed afterwards."""
    c = _connect()
    before = {image.id for image in c.images.list(filters={"label": f"{DERIVED}=true"})}
    yield c
    for image in c.images.list(filters={"label": f"{DERIVED}=true"}):
        if image.id not in before:
            for tag in image.tags:
                c.images.remove(tag)
    c.close()


def _build_containers(client: Any) -> list[Any]:
    labels = [f"{MANAGED}=true", f"{MODE}=build", f"{OWNER_PID}={os.getpid()}"]
    return list(client.containers.list(all=True, filters={"label": labels}))


@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_requirements_are_built_once_and_reused(
    backend: str, client: Any, make_executor: Callable[..., CodeExecutor], tmp_path: Path
) -> None:
    name = f"tinypkg_{uuid.uuid4().hex[:8]}"
    wheel = make_wheel(tmp_path / "dist", name, "1.0", "ANSWER = 42\n")
    requirements = Requirements([wheel], no_index=True)
    first = make_executor(requirements=requirements)
    assert isinstance(first, DockerExecutor)
    assert first.base_image == DEFAULT_IMAGE and first.image.startswith("sandbox-derived:")
    result = first.execute([CodeBlock(f"import {name}\nprint({name}.ANSWER)", "python")])
    assert result.ok and result.stdout == "42\n", result.output
    image = client.images.get(first.image)
    assert image.labels[DERIVED] == "true" and image.labels[DERIVED_BASE] == DEFAULT_IMAGE
    assert image.labels[DERIVED_REQUIREMENTS] == f'["{wheel.name}"]'
    assert image.attrs["Config"]["Cmd"] == client.images.get(DEFAULT_IMAGE).attrs["Config"]["Cmd"]  # base config kept
    assert not image.labels.get(MANAGED)  # the build container's owner labels do not leak into the image

    second = make_executor(requirements=Requirements([str(wheel)], no_index=True))  # same list, spelled as a str
    assert isinstance(second, DockerExecutor)
    assert second.image == first.image and client.images.get(second.image).id == image.id  # reused, not rebuilt
    again = ensure_derived_image(client, DEFAULT_IMAGE, requirements, owner="test")
    assert (again.built, again.id, again.tag) == (False, image.id, first.image)
    assert _build_containers(client) == []


def test_a_changed_wheel_builds_a_new_image_and_names_resolve_in_find_links(client: Any, tmp_path: Path) -> None:
    name = f"tinypkg_{uuid.uuid4().hex[:8]}"
    links = tmp_path / "links"
    make_wheel(links, name, "1.0", "ANSWER = 1\n")
    by_name = ensure_derived_image(client, DEFAULT_IMAGE, Requirements([f"{name}==1.0"], find_links=[links], no_index=True), owner="test")
    assert by_name.built
    make_wheel(links, name, "1.0", "ANSWER = 2\n")  # same file name, new bytes
    rebuilt = ensure_derived_image(client, DEFAULT_IMAGE, Requirements([f"{name}==1.0"], find_links=[links], no_index=True), owner="test")
    assert rebuilt.built and rebuilt.tag != by_name.tag
    out = client.containers.run(rebuilt.tag, ["python3", "-c", f"import {name}; print({name}.ANSWER)"], remove=True, network_mode="none")
    assert out == b"2\n"


def test_a_failed_build_says_what_pip_said_and_leaves_nothing(client: Any) -> None:
    tags_before = sorted(t for i in client.images.list(name="sandbox-derived") for t in i.tags)
    missing = f"no-such-package-{uuid.uuid4().hex[:8]}==1.0"
    with pytest.raises(ImageBuildError) as info:
        DockerExecutor(requirements=Requirements([missing], no_index=True))
    message = str(info.value)
    assert f"installing ['{missing}'] on {DEFAULT_IMAGE} failed (pip exited 1); nothing was tagged" in message
    assert "No matching distribution found for" in message and "find_links=" in message
    assert sorted(t for i in client.images.list(name="sandbox-derived") for t in i.tags) == tags_before
    assert _build_containers(client) == []


def test_a_build_over_its_time_limit_is_stopped_and_leaves_nothing(client: Any, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, f"tinypkg_{uuid.uuid4().hex[:8]}", "1.0", "")
    tags_before = sorted(t for i in client.images.list(name="sandbox-derived") for t in i.tags)
    with pytest.raises(ImageBuildError, match=r"took longer than 0.01 s and was stopped; nothing was tagged"):
        ensure_derived_image(client, DEFAULT_IMAGE, Requirements([wheel], no_index=True, build_timeout=0.01), owner="test")
    assert sorted(t for i in client.images.list(name="sandbox-derived") for t in i.tags) == tags_before
    assert _build_containers(client) == []


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Requirements(["-e ."]), "is not a package"),
        (lambda: Requirements(["--index-url=https://example.invalid", "x"]), "is not a package"),
        (lambda: Requirements([]), "non-empty list"),
        (lambda: Requirements(["x"], build_timeout=0), "build_timeout"),
        (lambda: DockerExecutor(requirements=["./missing-1.0-py3-none-any.whl"]), "not a file here"),
        (lambda: DockerExecutor(requirements=Requirements(["x"], find_links=["/no/such/dir"])), "not a directory"),
        (lambda: DockerExecutor(requirements=Requirements(["x"], cert="/no/such/ca.pem")), "PEM CA bundle"),
    ],
)
def test_bad_requirement_lists_fail_before_any_container(client: Any, make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()
    assert _build_containers(client) == []
