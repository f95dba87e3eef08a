"""`sandbox doctor`: what works here (engine, image, runtimes, local runner) and what to do if not."""

from __future__ import annotations

import time
from typing import IO, Any

from .errors import SandboxError
from .models import CodeBlock

__all__ = ["run_checks"]

STAND_IN_LABEL = "io.sandbox.stand-in"


def _line(out: IO[str], ok: bool | None, what: str, detail: str = "") -> None:
    mark = {True: "ok  ", False: "FAIL", None: "--  "}[ok]
    out.write(f"[{mark}] {what}" + (f": {detail}" if detail else "") + "\n")


def _try_runtime(client: Any, image: str, runtime: str) -> tuple[bool, str]:
    started = time.monotonic()
    try:
        client.containers.run(image, ["true"], runtime=runtime, network_mode="none", remove=True)
    except Exception as exc:  # report, do not raise: this is a diagnosis
        return False, str(exc).splitlines()[0][:160]
    return True, f"a container started and exited in {time.monotonic() - started:.2f} s"


def run_checks(*, image: str | None, out: IO[str]) -> int:
    from .executors.docker import DEFAULT_IMAGE, _connect
    from .executors.docker_errors import OFFLINE_IMAGE_HINT, engine_address
    from .executors.local import LocalExecutor

    image = image or DEFAULT_IMAGE
    healthy = True
    with LocalExecutor(timeout=10) as local:
        result = local.execute([CodeBlock("print('ok')", "python")])
    _line(out, result.ok, "local runner", "runs Python" if result.ok else result.message or result.output)

    try:
        client = _connect()
    except SandboxError as exc:
        _line(out, False, "Docker engine", str(exc))
        return 1
    try:
        version = client.version()
        _line(out, True, "Docker engine", f"{engine_address()} (engine {version.get('Version', '?')}, API {version.get('ApiVersion', '?')})")
        try:
            img = client.images.get(image)
        except Exception:
            _line(out, False, f"image {image}", "missing: " + OFFLINE_IMAGE_HINT.format(image=image))
            return 1
        labels = img.labels or {}
        kind = "offline stand-in built from Debian's packages" if labels.get(STAND_IN_LABEL) == "true" else "pulled image"
        _line(out, True, f"image {image}", f"{kind}, {img.attrs.get('Size', 0) / 1e6:.0f} MB")
        runtimes = sorted((client.info().get("Runtimes") or {}).keys())
        for runtime in ("runc", "runsc"):
            if runtime not in runtimes:
                hint = "install Debian's runsc and register it in /etc/docker/daemon.json (scripts/setup does both)"
                _line(out, None, f"runtime {runtime}", f"not registered ({hint})")
                continue
            ok, detail = _try_runtime(client, image, runtime)
            healthy = healthy and (ok or runtime != "runc")
            _line(out, ok, f"runtime {runtime}", detail)
    finally:
        client.close()
    return 0 if healthy else 1
