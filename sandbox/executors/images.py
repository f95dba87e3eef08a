"""Derived images: a base image plus Python packages, built once and reused (AutoGen issue 741).

AutoGen users `pip install` inside every run, paying for the download each time and needing a
network in the sandbox. `DockerExecutor(requirements=["pkg==1.0", ...])` builds, the first
time only, an image `sandbox-derived:<key>` with the packages installed, and runs code in it;
every later executor with the same list on the same base finds it by its tag and starts at
once. The key hashes the base image's id, the requirement list (the bytes of local files, not
just their names), the index options and this builder's version, so changing any of them
builds anew and nothing stale is ever reused.

How it builds: one container from the base image runs `pip install` as root with every
capability but DAC_OVERRIDE dropped, no-new-privileges, memory and pids limits, the executor's
runtime, and no network at all unless pip needs an index. Local wheels, sdists and
find-links directories are bind-mounted read-only, so they leave no layer behind. On success
the container is committed and tagged (labelled `io.sandbox.derived=true`, with the base and
the list); on failure or timeout nothing is tagged, the container is removed, and
`ImageBuildError` carries pip's last lines. Images without pip (the offline stand-in) borrow
the caller's own `pip` package, mounted read-only for the build and not installed. Debian's
PEP 668 marker is passed with PIP_BREAK_SYSTEM_PACKAGES: the image is ours to change.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any, TypeAlias

import docker
from docker.types import Mount

from ..errors import ImageBuildError
from ..labels import EXECUTOR, MANAGED, MODE, OWNER_HOST, OWNER_PID, OWNER_STARTED, PREFIX, owner_labels
from .docker_errors import translate

__all__ = ["DerivedImage", "Requirement", "Requirements", "ensure_derived_image"]

Requirement: TypeAlias = "str | os.PathLike[str]"

BUILDER_VERSION = "1"  # part of the key: change it when the recipe below changes
REPOSITORY = "sandbox-derived"
DERIVED = f"{PREFIX}.derived"
DERIVED_KEY = f"{PREFIX}.derived.key"
DERIVED_BASE = f"{PREFIX}.derived.base"
DERIVED_BASE_ID = f"{PREFIX}.derived.base-id"
DERIVED_REQUIREMENTS = f"{PREFIX}.derived.requirements"
# Mount points under a tmpfs /tmp leave nothing in the committed layer (a bind's mount point
# made in the image's own filesystem would stay behind as an empty file or directory).
_BUILD_DIR = "/tmp/sandbox-build"
_TAIL_LINES = 25
_DIST_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")
_OWNER_KEYS = (MANAGED, OWNER_HOST, OWNER_PID, OWNER_STARTED, EXECUTOR, MODE)

# $@ is pip's argument list. The image's own pip first; else the lent one (never installed).
_SCRIPT = f"""
set -e
umask 022
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export TMPDIR=/var/tmp  # downloads on disk, not in the tmpfs that counts against the memory limit
py=$(command -v python3 || command -v python) || {{ echo "sandbox: the image has no python3 to install packages for" >&2; exit 3; }}
if "$py" -m pip --version >/dev/null 2>&1; then
    exec "$py" -m pip install --no-cache-dir --progress-bar off "$@"
fi
if [ -d {_BUILD_DIR}/lent/pip ]; then
    echo "sandbox: the image has no pip; using the caller's pip, mounted read-only for this build" >&2
    export PYTHONPATH={_BUILD_DIR}/lent
    exec "$py" -m pip install --no-cache-dir --progress-bar off "$@"
fi
echo "sandbox: the image has no pip, and the calling Python has none to lend" >&2
exit 3
"""


@dataclass(frozen=True, slots=True)
class Requirements:
    """What to install into a derived image, and where pip may look for it.

    `packages` are pip requirement strings (`"numpy==2.1"`, `"requests[socks]>=2"`) or local
    files (a path object, or a string ending in .whl, .tar.gz, .zip, ...). `find_links` are
    local directories of distributions; `no_index=True` keeps pip off every index (and the
    build off the network); `index_url` replaces PyPI; `cert` is a CA bundle on the host for
    pip to trust (behind a TLS-inspecting proxy). A plain list means `Requirements(list)`.
    """

    packages: Sequence[Requirement]
    _: KW_ONLY
    find_links: Sequence[str | os.PathLike[str]] = ()
    index_url: str | None = None
    no_index: bool = False
    cert: str | os.PathLike[str] | None = None
    build_timeout: float = 900  # seconds for the whole pip run

    def __post_init__(self) -> None:
        object.__setattr__(self, "packages", tuple(self.packages))
        object.__setattr__(self, "find_links", tuple(self.find_links))
        if isinstance(self.packages, str) or not self.packages:
            raise ValueError("requirements must be a non-empty list, e.g. requirements=['numpy==2.1']")
        for package in self.packages:
            if isinstance(package, str) and (not package.strip() or package.lstrip().startswith("-")):
                raise ValueError(
                    f"requirement {package!r} is not a package: pass options as "
                    "Requirements([...], index_url=..., find_links=[...], no_index=True)"
                )
        if self.build_timeout <= 0:
            raise ValueError(f"build_timeout must be positive seconds, not {self.build_timeout!r}")

    @classmethod
    def of(cls, value: Requirements | Sequence[Requirement]) -> Requirements:
        return value if isinstance(value, Requirements) else cls(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivedImage:
    """A derived image: its tag and id, and whether this call built it (False: found cached)."""

    tag: str
    id: str
    key: str
    built: bool


@dataclass(slots=True)
class _Plan:
    """A build worked out on the host: pip's arguments as the container sees them, its mounts, its key."""

    pip_args: list[str]
    mounts: dict[str, Path]  # where in the build container -> which host file or directory
    shown: list[str]  # the requirements as a person reads them, for labels and messages
    key_material: dict[str, Any]
    offline: bool


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def ensure_derived_image(
    client: docker.DockerClient,
    base: str,
    requirements: Requirements | Sequence[Requirement],
    *,
    owner: str,
    runtime: str | None = None,
) -> DerivedImage:
    """The derived image of `base` with `requirements`, built now unless a cached one exists.

    `owner` is the executor id that labels the build container (so `sandbox reap` finds it if
    this process dies mid-build). Raises `ImageBuildError` when pip fails or times out,
    `ImageNotFoundError` when `base` is missing, `ValueError` for a bad requirement list.
    """
    reqs = Requirements.of(requirements)
    plan = _plan(reqs)
    with translate(image=base, runtime=runtime):
        base_image = client.images.get(base)
    plan.key_material["base"] = base_image.id
    key = hashlib.sha256(json.dumps(plan.key_material, sort_keys=True).encode()).hexdigest()[:24]
    tag = f"{REPOSITORY}:{key}"
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one build per key in this process; others wait and then find it cached
        with translate(image=tag, runtime=runtime):
            try:
                found = client.images.get(tag)
                if (found.labels or {}).get(DERIVED_KEY) == key:
                    return DerivedImage(tag=tag, id=found.id, key=key, built=False)
            except docker.errors.ImageNotFound:
                pass
            image_id = _build(client, base, base_image.attrs.get("Config") or {}, plan, reqs, key, owner, runtime)
        return DerivedImage(tag=tag, id=image_id, key=key, built=True)


def _plan(reqs: Requirements) -> _Plan:
    args: list[str] = []
    mounts: dict[str, Path] = {}
    shown: list[str] = []
    packages: list[str] = []
    for i, package in enumerate(reqs.packages):
        local = _local_file(package)
        if local is None:
            spec = str(package).strip()
            packages.append(f"spec:{spec}")
            args.append(spec)
            shown.append(spec)
            continue
        inside = f"{_BUILD_DIR}/dist/{i}/{local.name}"  # pip reads a wheel's tags from its file name
        mounts[inside] = local
        packages.append(f"file:{local.name}:{_sha256(local)}")
        args.append(inside)
        shown.append(local.name)
    links: list[list[str]] = []
    for i, directory in enumerate(reqs.find_links):
        host = Path(os.fspath(directory)).expanduser().resolve()
        if not host.is_dir():
            raise ValueError(f"find_links entry {directory!s} is not a directory of distributions")
        inside = f"{_BUILD_DIR}/links/{i}"
        mounts[inside] = host
        links.append(sorted(f"{p.name}:{_sha256(p)}" for p in host.iterdir() if p.is_file()))
        args += ["--find-links", inside]
    if reqs.no_index:
        args.append("--no-index")
    if reqs.index_url:
        args += ["--index-url", reqs.index_url]
    if reqs.cert is not None:  # not part of the key: it changes how pip connects, not what it installs
        cert = Path(os.fspath(reqs.cert)).expanduser().resolve()
        if not cert.is_file():
            raise ValueError(f"cert {os.fspath(reqs.cert)!r} is not a file; pass the path of a PEM CA bundle")
        mounts[f"{_BUILD_DIR}/cert.pem"] = cert
        args += ["--cert", f"{_BUILD_DIR}/cert.pem"]
    lent = _lendable_pip()
    if lent is not None:
        mounts[f"{_BUILD_DIR}/lent/pip"] = lent
    material: dict[str, Any] = {
        "builder": BUILDER_VERSION, "packages": sorted(packages), "find_links": links,
        "index_url": reqs.index_url, "no_index": reqs.no_index,
    }
    return _Plan(pip_args=args, mounts=mounts, shown=shown, key_material=material, offline=reqs.no_index)


def _local_file(package: Requirement) -> Path | None:
    """The host file a requirement names, or None for a pip requirement string."""
    if isinstance(package, str) and not package.strip().lower().endswith(_DIST_SUFFIXES):
        return None
    path = Path(os.fspath(package)).expanduser()
    if not path.is_file():
        raise ValueError(f"requirement {os.fspath(package)!r} names a local distribution that is not a file here")
    return path.resolve()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _lendable_pip() -> Path | None:
    """The calling Python's `pip` package directory (pure Python, runs on the image's python3)."""
    spec = importlib.util.find_spec("pip")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def _build(
    client: docker.DockerClient, base: str, config: dict[str, Any], plan: _Plan, reqs: Requirements, key: str,
    owner: str, runtime: str | None,
) -> str:
    """Run pip in a build container and commit it; return the new image id, or raise ImageBuildError."""
    options: dict[str, Any] = dict(
        image=str(plan.key_material["base"]),  # the id that was hashed, even if the tag moves meanwhile
        command=["/bin/sh", "-c", _SCRIPT, "sandbox-build", *plan.pip_args],
        # Mounts, not `volumes=`: docker-py declares volumes in the container's config too,
        # and the commit would turn them into VOLUMEs of the image.
        mounts=[Mount(target=inside, source=str(host), type="bind", read_only=True) for inside, host in plan.mounts.items()],
        tmpfs={"/tmp": "rw,nosuid,nodev,mode=1777"},
        labels=owner_labels(executor_id=owner, mode="build"),
        network_mode="none" if plan.offline else "bridge",
        cap_drop=["ALL"],
        cap_add=["DAC_OVERRIDE"],  # root reads the caller's mounted files whatever their modes
        security_opt=["no-new-privileges"],
        mem_limit="2g",
        pids_limit=512,
    )
    # Whatever the build container sets differently from the base leaks into the commit, so
    # set only what must differ and restore it in `changes` (CMD, ENTRYPOINT, USER, labels).
    changes = [f"CMD {json.dumps(config['Cmd'])}"] if config.get("Cmd") else []
    if config.get("Entrypoint"):
        options["entrypoint"] = ["/bin/sh"]
        options["command"] = options["command"][1:]
        changes.append(f"ENTRYPOINT {json.dumps(config['Entrypoint'])}")
    if config.get("User") not in (None, "", "0", "root", "0:0"):
        options["user"] = "0:0"
        changes.append(f"USER {config['User']}")
    if runtime:
        options["runtime"] = runtime
    labels = {key_: "" for key_ in _OWNER_KEYS}  # blank the build container's owner labels
    labels.update({
        DERIVED: "true", DERIVED_KEY: key, DERIVED_BASE: base, DERIVED_BASE_ID: str(plan.key_material["base"]),
        DERIVED_REQUIREMENTS: json.dumps(plan.shown),
    })
    changes.append("LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in labels.items()))
    container = client.containers.create(**options)
    try:
        container.start()
        try:
            status = container.wait(timeout=reqs.build_timeout)
        except Exception as exc:  # requests' ReadTimeout or ConnectionError: the deadline passed
            if not _is_timeout(exc):
                raise
            raise ImageBuildError(
                f"installing {plan.shown} on {base} took longer than {reqs.build_timeout:g} s and was stopped; "
                f"nothing was tagged. Raise Requirements(..., build_timeout=...) or install fewer packages. "
                f"pip's last lines:\n{_tail(container)}"
            ) from None
        code = int(status.get("StatusCode", -1))
        if code != 0:
            tail = _tail(container)
            fix = (
                "pip does not trust the index's certificate (a TLS-inspecting proxy?): pass its CA bundle, "
                "Requirements([...], cert='/etc/ssl/certs/ca-certificates.crt')"
                if "CERTIFICATE_VERIFY_FAILED" in tail else
                "Fix the requirement (name, version, a distribution for the image's Python), or tell pip where "
                "to look: Requirements([...], find_links=[...], index_url=..., no_index=...)"
            )
            raise ImageBuildError(
                f"installing {plan.shown} on {base} failed (pip exited {code}); nothing was tagged. {fix}. "
                f"pip's last lines:\n{tail}"
            )
        image = container.commit(repository=REPOSITORY, tag=key, changes=changes)
        return str(image.id)
    finally:
        try:
            container.remove(force=True)
        except Exception:
            pass  # the reaper is the backstop; never mask the build's own outcome


def _tail(container: Any) -> str:
    try:
        text = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    except Exception as exc:
        return f"  (could not read the build's output: {exc})"
    lines = [line for line in text.splitlines() if line.strip()][-_TAIL_LINES:]
    return "\n".join(f"  {line}" for line in lines) or "  (pip printed nothing)"


def _is_timeout(exc: Exception) -> bool:
    import requests.exceptions

    return isinstance(exc, (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError))
