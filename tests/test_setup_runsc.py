"""scripts/lib.sh installs Debian's runsc when it is missing and registers it in daemon.json.

Run against stand-ins: a PATH holding only the tools the functions use plus fake `apt-get`
and `apt-cache` (the fake install drops a fake `runsc` on that PATH), and a daemon.json
under tmp_path (SANDBOX_DAEMON_JSON). Nothing on the machine is installed or changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLS = ("sh", "id", "grep", "mkdir", "cp", "chmod", "dirname", "python3")

pytestmark = pytest.mark.skipif(not Path("/etc/debian_version").exists(), reason="lib.sh installs runsc only on Debian")


def _fake_bin(tmp_path: Path, *, in_archive: bool) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = os.path.realpath(sys.executable) if tool == "python3" else shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    log = tmp_path / "apt.log"
    (bin_dir / "apt-get").write_text(
        "#!/bin/sh\n"
        f'echo "apt-get $*" >> {log}\n'
        'case "$*" in *install*runsc*) printf "#!/bin/sh\\n" > "$(dirname "$0")/runsc"; '
        'chmod +x "$(dirname "$0")/runsc";; esac\n'
    )
    (bin_dir / "apt-cache").write_text(f"#!/bin/sh\nexit {0 if in_archive else 100}\n")
    for name in ("apt-get", "apt-cache"):
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _ensure_runsc(tmp_path: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(bin_dir), "SANDBOX_DAEMON_JSON": str(tmp_path / "docker" / "daemon.json")}
    return subprocess.run(
        [str(bin_dir / "sh"), "-c", ". scripts/lib.sh && _ensure_runsc"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=30,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="lib.sh installs packages only as root")
def test_a_missing_runsc_is_installed_and_registered(tmp_path: Path) -> None:
    bin_dir = _fake_bin(tmp_path, in_archive=True)
    daemon_json = tmp_path / "docker" / "daemon.json"
    daemon_json.parent.mkdir()
    daemon_json.write_text('{"log-level": "warn"}\n')  # an existing setting must survive
    done = _ensure_runsc(tmp_path, bin_dir)
    assert done.returncode == 0, done.stderr
    assert "apt-get install -y -qq --no-install-recommends runsc" in (tmp_path / "apt.log").read_text()
    config = json.loads(daemon_json.read_text())
    assert config["log-level"] == "warn"
    # the default platform: --platform=kvm hangs where there is no nested KVM
    assert config["runtimes"]["runsc"] == {"path": str(bin_dir / "runsc"), "runtimeArgs": ["--network=none"]}
    again = _ensure_runsc(tmp_path, bin_dir)
    assert again.returncode == 1, "a second run must find nothing to do (no reload)"


@pytest.mark.skipif(os.geteuid() != 0, reason="lib.sh installs packages only as root")
def test_no_runsc_in_the_archive_leaves_the_engine_alone(tmp_path: Path) -> None:
    bin_dir = _fake_bin(tmp_path, in_archive=False)
    done = _ensure_runsc(tmp_path, bin_dir)
    assert done.returncode == 1
    assert "not in the apt sources" in done.stderr
    assert not (tmp_path / "docker" / "daemon.json").exists()
