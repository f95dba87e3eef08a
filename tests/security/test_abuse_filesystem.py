"""Filesystem: a read-only root, no host file in sight, nothing carried into the next sandbox."""

from __future__ import annotations

import json

import pytest

from sandbox import Outcome

from conftest import Target

NOT_A_SANDBOX = "the local runner is not a sandbox: it shares the host's filesystem"


@pytest.mark.session
def test_the_root_filesystem_is_read_only(target: Target) -> None:
    """Root filesystem read-only: / is mounted ro; writes to /, /etc, /usr, /var/tmp fail."""
    if not target.is_docker:
        target.not_applicable(NOT_A_SANDBOX)
    result = target.run("""
        import json
        root = [line.split()[3].split(',') for line in open('/proc/mounts') if line.split()[1] == '/']
        refused = {}
        for path in ('/pwned', '/etc/pwned', '/usr/bin/pwned', '/var/tmp/pwned', '/workspace/../pwned'):
            try:
                open(path, 'w').close()
                refused[path] = 'WRITTEN'
            except OSError as exc:
                refused[path] = exc.strerror
        print(json.dumps({'root_options': root[-1], 'refused': refused}))
    """)
    assert result.outcome is Outcome.SUCCESS, result
    report = json.loads(result.stdout)
    assert "ro" in report["root_options"], report
    assert "WRITTEN" not in report["refused"].values(), report


def test_host_files_outside_the_workspace_are_not_visible(target: Target) -> None:
    """Host files: a marker planted on the host (outside the workspace) is found nowhere, by
    its host path or by walking the whole sandbox filesystem."""
    if not target.is_docker:
        target.not_applicable(NOT_A_SANDBOX)
    marker = target.plant("abuse-marker-3f9c1e.txt", b"the host's secret\n")
    result = target.run(f"""
        import os
        found = []
        for root, dirs, files in os.walk('/'):
            if root in ('/proc', '/sys'):
                dirs[:] = []
                continue
            found += [os.path.join(root, n) for n in files if n == {marker.name!r}]
        print('found:', found)
        print('by host path:', os.path.exists({str(marker)!r}), os.path.exists({str(marker.parent)!r}))
    """)
    assert result.outcome is Outcome.SUCCESS, result
    assert "found: []" in result.stdout, result.stdout
    assert "by host path: False False" in result.stdout, result.stdout


WRITE_STATE = """
import os
for d in ('/tmp', '/dev/shm', '/var/tmp', os.path.expanduser('~')):
    try:
        with open(os.path.join(d, 'abuse-state'), 'w') as fh:
            fh.write('left by the previous run')
        print('wrote', d)
    except OSError as exc:
        print('cannot write', d, exc.strerror)
"""

READ_STATE = """
import os
for d in ('/tmp', '/dev/shm', '/var/tmp', os.path.expanduser('~')):
    print(d, 'state found' if os.path.exists(os.path.join(d, 'abuse-state')) else 'clean')
"""


@pytest.mark.session
def test_state_in_tmp_dev_shm_and_var_tmp_does_not_reach_the_next_sandbox(target: Target) -> None:
    """State written to /tmp, /dev/shm, /var/tmp and $HOME does not persist into the next fresh
    sandbox (session: it persists, as documented, until restart())."""
    if not target.is_docker:
        target.not_applicable("the local runner has no fresh sandbox: /dev/shm and /var/tmp are the host's")
    ex = target.executor()
    wrote = target.run(WRITE_STATE, executor=ex)
    assert wrote.ok and "wrote /tmp" in wrote.stdout and "wrote /dev/shm" in wrote.stdout, wrote
    after = target.run(READ_STATE, executor=ex).stdout
    if target.is_session:
        assert "/tmp state found" in after and "/dev/shm state found" in after, after
        ex.restart()
        after = target.run(READ_STATE, executor=ex).stdout
    assert "state found" not in after, after
