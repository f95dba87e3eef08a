"""Privilege: not root, no capabilities, setuid binaries inert, /proc and /sys closed."""

from __future__ import annotations

import json
import os

import pytest

from sandbox import Outcome

from conftest import Target

NOT_A_SANDBOX = "the local runner is not a sandbox: it runs with the caller's {}"


@pytest.mark.session
def test_not_root_and_no_capabilities(target: Target) -> None:
    """Not root (uid, gid, groups), no capabilities in any set, no_new_privs (where shown)."""
    result = target.run("""
        import json, os
        status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines() if ':' in line)
        print(json.dumps({
            'ids': [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
            'groups': os.getgroups(),
            'caps': {k: status[k].strip() for k in status if k.startswith('Cap')},
            'no_new_privs': status.get('NoNewPrivs', '').strip(),
        }))
    """)
    assert result.outcome is Outcome.SUCCESS, result
    report = json.loads(result.stdout)
    if not target.is_docker:
        # The local runner never raises privilege, but it never lowers it either.
        assert report["ids"] == [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]
        if os.geteuid() == 0:
            target.not_applicable(NOT_A_SANDBOX.format("user and capabilities (root here)"))
        return
    assert 0 not in report["ids"] and 0 not in report["groups"], report
    assert report["caps"] and set(report["caps"].values()) == {"0000000000000000"}, report
    assert report["no_new_privs"] in ("1", ""), report  # gVisor's /proc does not show the line


@pytest.mark.session
def test_setuid_binaries_do_not_raise_privilege(target: Target) -> None:
    """Setuid-root binaries (su, passwd, mount, ...) are there but run without privilege:
    `su` waiting for a password has the caller's effective uid, not 0; `mount` is refused."""
    if not target.is_docker:
        target.not_applicable(NOT_A_SANDBOX.format("user: a setuid binary works as it does on the host"))
    result = target.run(r"""
        import os, stat, subprocess, time
        setuid = sorted(p for d in ('/bin', '/usr/bin', '/sbin', '/usr/sbin') if os.path.isdir(d)
                        for p in (os.path.join(d, n) for n in os.listdir(d))
                        if os.path.isfile(p) and os.stat(p).st_mode & stat.S_ISUID and os.stat(p).st_uid == 0)
        print('setuid-root binaries:', len(setuid))
        su = subprocess.Popen(['su', 'root', '-c', 'id'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        time.sleep(0.5)  # su is now waiting for a password, with whatever privilege it got
        uids = [l for l in open(f'/proc/{su.pid}/status') if l.startswith('Uid:')][0].split()[1:]
        su.kill()
        su.communicate()
        print('su uids:', ' '.join(uids))
        mount = subprocess.run(['mount', '-t', 'tmpfs', 'none', '/mnt'], capture_output=True, text=True)
        print('mount exit:', mount.returncode)
    """)
    assert result.outcome is Outcome.SUCCESS, result
    assert int(result.stdout.split("setuid-root binaries:")[1].split()[0]) > 0, "nothing to test: no setuid binary"
    uids = result.stdout.split("su uids:")[1].splitlines()[0].split()
    assert len(uids) == 4 and "0" not in uids, result.stdout
    assert "mount exit: 0" not in result.stdout


@pytest.mark.session
def test_proc_and_sys_hide_the_host_and_refuse_kernel_settings(target: Target) -> None:
    """/proc shows only the sandbox's processes (not this test's); /proc/sys and /sys refuse
    writes. A write that succeeded would rewrite the value already there, so it changes nothing."""
    if not target.is_docker:
        target.not_applicable(NOT_A_SANDBOX.format("view of /proc and /sys"))
    result = target.run(r"""
        import os
        cmdlines = []
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                cmdlines.append(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\0', b' ').decode())
            except OSError:
                pass
        print('processes:', len(cmdlines))
        print('host test visible:', any('pytest' in c for c in cmdlines))  # this test runs under pytest
        targets = ['/proc/sys/kernel/hostname', '/proc/sys/kernel/core_pattern', '/proc/sys/vm/swappiness',
                   '/proc/sys/net/ipv4/ip_forward', '/sys/class/net/lo/mtu', '/sys/kernel/mm/transparent_hugepage/defrag']
        for path in targets:
            try:
                with open(path) as fh:
                    value = fh.read()
            except OSError:
                continue  # not there (gVisor has fewer of them): nothing to write to
            try:
                with open(path, 'w') as fh:
                    fh.write(value)
                print('WROTE', path)
            except OSError as exc:
                print('refused', path, exc.strerror)
        try:
            open('/sys/fs/cgroup/sandbox-abuse', 'w').close()
            print('WROTE /sys/fs/cgroup')
        except OSError as exc:
            print('refused /sys/fs/cgroup', exc.strerror)
    """)
    assert result.outcome is Outcome.SUCCESS, result
    assert "host test visible: False" in result.stdout, result.stdout
    assert int(result.stdout.split("processes:")[1].split()[0]) < 20, result.stdout
    assert "WROTE" not in result.stdout, result.stdout
    assert "refused /proc/sys/kernel/hostname" in result.stdout
