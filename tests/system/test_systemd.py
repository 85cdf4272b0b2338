"""samend under systemd: readiness and reloads told over $NOTIFY_SOCKET, and
the user unit as make install writes it.

systemctl --user cannot run here (no user manager), so a test binds the
datagram socket systemd would and reads what samend sends: READY=1 only
once `samen` can reach the control socket, RELOADING=1 with MONOTONIC_USEC
then READY=1 around SIGHUP (a refused reload too: the old configuration
serves on), STOPPING=1 on SIGTERM.  The unit file is checked with
systemd-analyze verify, as installed.
"""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import DOWN, OK, REPO, BUILD, wait_until


@pytest.fixture
def notify_socket(cluster):
    """A bound AF_UNIX datagram socket, as systemd's for one service."""
    path = cluster.root / "notify.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    yield s, str(path)
    s.close()


def receive(sock, timeout=30):
    """The next datagram, decoded; fails after timeout."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096).decode()
    except socket.timeout:
        pytest.fail(f"no sd_notify message within {timeout}s")


def nothing_more(sock):
    sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        sock.recv(4096)


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def start_notified(cluster, n, path):
    """samend in the foreground as systemd runs it: NOTIFY_SOCKET set."""
    n.proc = cluster.spawn(n.samend_argv("--foreground"), n.log,
                           env={"NOTIFY_SOCKET": path})
    n.pid = n.proc.pid
    return n.proc


def test_ready_reload_stop(cluster, notify_socket):
    sock, path = notify_socket
    n = cluster.node("a")
    n.init(passphrase="correct horse")
    start_notified(cluster, n, path)

    # READY=1 comes once the control socket is bound: samen reaches the
    # daemon at once (locked: samen unlock is what the user runs next).
    assert receive(sock) == "READY=1"
    st = n.status()
    assert st["locked"] is True
    n.unlock()
    assert n.status()["locked"] is False
    nothing_more(sock)

    # A reload: RELOADING=1 with the monotonic clock, then READY=1.
    before = monotonic_usec()
    n.configure(log_level="debug")
    n.proc.send_signal(signal.SIGHUP)
    msg = receive(sock)
    m = re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=(\d+)", msg)
    assert m, msg
    assert before <= int(m.group(1)) <= monotonic_usec()
    assert receive(sock) == "READY=1"
    wait_until(lambda: "reloaded" in n.log_text(), 20, "the reload's log")

    # A refused reload still ends in READY=1: the old configuration serves.
    (n.dir / "samen.conf").write_text("[samend]\nbatch_max = 0\n")
    n.proc.send_signal(signal.SIGHUP)
    assert receive(sock).startswith("RELOADING=1\n")
    assert receive(sock) == "READY=1"
    assert n.status()["locked"] is False

    assert n.stop() == 0
    assert receive(sock) == "STOPPING=1"
    nothing_more(sock)


def test_no_socket_is_fine(cluster):
    """Not under systemd: no NOTIFY_SOCKET, nothing sent, nothing logged.
    One that nobody listens on is logged and samend serves all the same."""
    n = cluster.node("a")
    n.init()
    n.start()
    assert "sd_notify" not in n.log_text()
    n.stop()
    start_notified(cluster, n, str(cluster.root / "nobody.sock"))
    n.wait_serving()
    assert re.search(r"sd_notify: .*No such file", n.log_text()), \
        n.log_text()
    assert n.stop() == 0


def test_unit_file_verifies(tmp_path):
    """The unit as make install writes it: samend's installed path, notify,
    reload by SIGHUP; systemd-analyze verify finds nothing to say, not
    even of its man pages (installed beside it)."""
    prefix = tmp_path / "usr"
    build = os.path.relpath(BUILD, REPO)
    r = subprocess.run(["make", "-s", "--no-print-directory", "install",
                        f"BUILD={build}", "SANITIZE=address,undefined",
                        f"PREFIX={prefix}"], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    unit = prefix / "lib" / "systemd" / "user" / "samend.service"
    text = unit.read_text()
    assert f"ExecStart={prefix}/bin/samend --foreground\n" in text
    assert "\nType=notify\n" in text
    assert "\nExecReload=/bin/kill -HUP $MAINPID\n" in text
    assert "@" not in text.replace("%h", ""), "a placeholder left"

    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime),
               MANPATH=str(prefix / "share" / "man"))
    r = subprocess.run(["systemd-analyze", "--user", "verify", str(unit)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", \
        f"exit {r.returncode}\n{r.stdout}{r.stderr}"

    # It can fail: a unit with a mistake is reported.
    bad = tmp_path / "samend.service"
    bad.write_text(text.replace("Type=notify", "Type=notfy"))
    r = subprocess.run(["systemd-analyze", "--user", "verify", str(bad)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert "notfy" in r.stderr, r.stderr
