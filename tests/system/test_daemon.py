"""samend's life: one daemon per directory, signals, detaching, its config,
and a control socket that survives garbage."""

import ctypes
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import time

import msgpack
import pytest
import zmq

from conftest import (DOWN, SAMEN_EVERSION, SAMEND, output_of, pid_alive,
                      sanitizer_report, wait_until)


def test_two_daemons_one_directory(node, cluster):
    pid = node.pid
    rid = node.put("case", "name=Familie Jansen")
    second = cluster.root / "second.log"
    p = cluster.spawn(node.samend_argv(), second)
    rc = p.wait(30)
    assert rc != 0, "a second samend on the same directory must refuse"
    text = output_of(second)
    assert re.search(r"in use|already|lock", text, re.I), text
    assert str(node.dir) in text, "the message names the directory"
    # The first one goes on serving, its socket untouched.
    assert node.running()
    assert node.status()["pid"] == pid
    assert node.get("case", rid)["fields"] == {"name": "Familie Jansen"}
    node.put("case", "name=Familie Bakker")
    # --daemonize refuses alike, and its parent says so.
    p = cluster.spawn(node.samend_argv("--daemonize"), second)
    assert p.wait(30) != 0
    assert node.status()["pid"] == pid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(node, sig):
    rid = node.put("case", "name=Familie Jansen")
    sock = node.dir / "ctl.sock"
    assert sock.exists()
    assert node.stop(sig) == 0
    assert not sock.exists(), "the control socket must be removed"
    line = node.samen("status", rc=DOWN).expect_error(DOWN)
    assert "samend" in line
    node.start()
    assert node.get("case", rid)["fields"] == {"name": "Familie Jansen"}


def test_stale_socket_after_kill9(node):
    rid = node.put("case", "name=x")
    node.kill9()
    assert (node.dir / "ctl.sock").exists()
    t = time.monotonic()
    node.samen("status", rc=DOWN).expect_error(DOWN)
    assert time.monotonic() - t < 10, "a dead daemon must be seen at once"
    node.start()
    assert node.get("case", rid)["fields"] == {"name": "x"}


def set_subreaper():
    """Makes this process the reaper of the daemon that --daemonize
    orphans, so its exit status can be read.  Returns False if not Linux."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def test_daemonize(cluster):
    n = cluster.node("a")
    n.init()
    reaper = set_subreaper()
    # ASan writes to stderr, which a daemon closes: send reports to files.
    env = {"ASAN_OPTIONS": f"detect_leaks=1:abort_on_error=1:log_path="
                           f"{cluster.root}/asan",
           "UBSAN_OPTIONS": f"print_stacktrace=1:halt_on_error=1:log_path="
                            f"{cluster.root}/asan"}
    p = cluster.spawn(n.samend_argv("--daemonize"), n.log, env=env)
    assert p.wait(30) == 0, n.log_text()
    pidfile = n.dir / "samend.pid"
    assert pidfile.exists(), "--daemonize writes DIR/samend.pid"
    pid = int(pidfile.read_text().strip())
    cluster.extra_pids.append(pid)
    assert pid != p.pid and pid_alive(pid)
    # It answers as soon as the parent has returned.
    s = n.status()
    assert s["pid"] == pid
    n.put("case", "name=Familie Jansen")
    os.kill(pid, signal.SIGTERM)
    if reaper:
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    else:
        wait_until(lambda: not pid_alive(pid), 30, "samend to exit")
    assert not (n.dir / "ctl.sock").exists()
    assert not pidfile.exists()
    for f in cluster.root.glob("asan*"):
        rep = sanitizer_report(f.read_text(errors="replace"))
        assert rep is None, rep


def test_refuses_a_socket_path_too_long(cluster):
    """A data directory too deep for the control socket is refused with a
    message naming the limit (the CLI refuses it too, so the keys come from
    a device made elsewhere)."""
    src = cluster.node("src")
    src.init()
    n = cluster.node("deep")
    n.dir = cluster.root / ("d" * (107 - len(str(cluster.root)) - 5))
    n.dir.mkdir(mode=0o700)
    shutil.copy(src.dir / "keys", n.dir / "keys")
    p = cluster.spawn(n.samend_argv(), n.log)
    assert p.wait(30) != 0
    assert "107" in n.log_text(), n.log_text()


def write_conf(path, **opts):
    path.write_text("# test configuration\n[samend]\n" +
                    "".join(f"{k} = {v}\n" for k, v in opts.items()))


def lines_after(node, mark):
    return node.log_text()[mark:]


def test_sighup_reload(cluster):
    n = cluster.node("a")
    n.init()
    conf = n.dir / "samen.conf"
    write_conf(conf, log_level="info", batch_max=256)
    n.start()
    rid = n.put("case", "name=Familie Jansen")

    # A valid, changed configuration.
    mark = len(n.log_text())
    write_conf(conf, log_level="debug", batch_max=8, wal_autocheckpoint=1000)
    n.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: re.search(r"reload", lines_after(n, mark), re.I),
               20, "samend to log the reload")
    assert n.running()
    n.samen("put", "case", rid, "status=open")
    assert n.get("case", rid)["fields"]["status"] == "open"

    # A broken one: refused, said why (file:line), the old one kept.
    for bad, lineno in (("batch_max = 0\n", 3), ("bogus = 1\n", 3),
                        ("log_level = loud\n", 3), ("no equals sign\n", 3),
                        ("batch_max = 12abc\n", 3)):
        mark = len(n.log_text())
        conf.write_text("# broken\n[samend]\n" + bad)
        n.proc.send_signal(signal.SIGHUP)
        where = f"samen.conf:{lineno}"
        wait_until(lambda: where in lines_after(n, mark), 20,
                   f"samend to name {where} for {bad!r}")
        assert n.running()
        assert n.status()["locked"] is False
        n.samen("put", "case", rid, f"batch={bad.strip()}")

    # A good one again is taken.
    mark = len(n.log_text())
    write_conf(conf, log_level="info")
    n.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: re.search(r"reload", lines_after(n, mark), re.I),
               20, "samend to log the reload")
    assert n.get("case", rid)["fields"]["batch"] == "batch_max = 12abc"
    assert n.stop() == 0


def test_check_config(cluster):
    n = cluster.node("a")
    n.init()
    good = cluster.root / "good.conf"
    write_conf(good, batch_max=8, log_level="debug")
    r = cluster.run([str(SAMEND), "-d", str(n.dir), "-c", str(good),
                     "--check-config"])
    assert re.search(r"^batch_max\s*=\s*8$", r.out, re.M), r
    assert re.search(r"^log_level\s*=\s*debug$", r.out, re.M), r
    # Every option is printed, defaults too.
    assert re.search(r"^wal_autocheckpoint\s*=\s*\d+$", r.out, re.M), r

    # The default file, DIR/samen.conf, is optional.
    r = cluster.run([str(SAMEND), "-d", str(n.dir), "--check-config"])
    assert re.search(r"^batch_max\s*=\s*256$", r.out, re.M), r

    bad = cluster.root / "bad.conf"
    bad.write_text("[samend]\n# comment\nbatch_max = 70000\n")
    r = cluster.run([str(SAMEND), "-d", str(n.dir), "-c", str(bad),
                     "--check-config"], rc=None)
    assert r.rc != 0 and f"{bad}:3" in r.err, r

    # The default file is named too; samend will not start with it.
    (n.dir / "samen.conf").write_text("[samend]\nlog_level = info\nx = 1\n")
    r = cluster.run([str(SAMEND), "-d", str(n.dir), "--check-config"],
                    rc=None)
    assert r.rc != 0 and "samen.conf:3" in r.err, r
    p = cluster.spawn(n.samend_argv(), n.log)
    assert p.wait(30) != 0
    assert "samen.conf:3" in n.log_text()

    # A -c file that does not exist is an error, not the defaults.
    r = cluster.run([str(SAMEND), "-d", str(n.dir), "-c",
                     str(cluster.root / "missing.conf"), "--check-config"],
                    rc=None)
    assert r.rc != 0 and "missing.conf" in r.err, r


def test_samend_usage(cluster):
    r = cluster.run([str(SAMEND), "--version"])
    assert r.out.strip()
    r = cluster.run([str(SAMEND), "--help"])
    assert "--check-config" in r.out and "--daemonize" in r.out
    r = cluster.run([str(SAMEND), "--bogus"], rc=None)
    assert r.rc != 0 and r.out == ""
    r = cluster.run([str(SAMEND), "-d", "/tmp", "extra"], rc=None)
    assert r.rc != 0


# Garbage on the control socket.

def zreq(node, payload, timeout_ms=10000):
    """One raw REQ round trip; returns the decoded reply, or None if no
    reply came (the daemon dropped the message)."""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, timeout_ms)
    s.setsockopt(zmq.SNDTIMEO, timeout_ms)
    try:
        s.connect(f"ipc://{node.dir}/ctl.sock")
        s.send(payload)
        try:
            frames = s.recv_multipart()
        except zmq.Again:
            return None
    finally:
        s.close()
    assert len(frames) == 1, frames
    return msgpack.unpackb(frames[0], raw=False, strict_map_key=False)


def check_error_reply(rep, payload):
    assert isinstance(rep, list) and len(rep) == 3, (payload, rep)
    code, msg, _ = rep
    assert isinstance(code, int) and code < 0, (payload, rep)
    assert isinstance(msg, str) and msg, (payload, rep)
    return code, msg


def still_serves(node, rid):
    assert node.running(), node.log_text()
    assert node.status()["locked"] is False
    assert node.get("case", rid)["fields"]["name"] == "Familie Jansen"


def test_garbage_gets_an_error_reply(node):
    rid = node.put("case", "name=Familie Jansen")
    rng = random.Random(20261124)
    payloads = [
        b"",
        b"\x00",
        b"\xc1",                                   # never used in msgpack
        b"hello samend",
        b"\x93",                                   # array of 3, then nothing
        b"\xdd\xff\xff\xff\xff",                   # array32 of 4 billion
        b"\xdf\xff\xff\xff\xff",                   # map32 of 4 billion
        b"\x91" * 100000 + b"\x01",                # nesting 100000 deep
        msgpack.packb([1, 1, []]) + b"\x00",        # trailing byte
        msgpack.packb({"version": 1}),
        msgpack.packb([1, 1]),
        msgpack.packb([1, 1, [], 4]),
        msgpack.packb([-1, 1, []]),
        msgpack.packb([1, 2 ** 40, []]),
        msgpack.packb([1, 999, []]),                # unknown type
        msgpack.packb([1, 0, []]),
        msgpack.packb([1, 1, [1, 2, 3]]),           # status takes no args
        msgpack.packb([1, 4, ["case"]]),            # get needs two
        msgpack.packb([1, 4, ["case", b"\x01" * 16]]),
        msgpack.packb([1, 4, ["case", rid, "extra"]]),
        msgpack.packb([1, 4, [{"a": 1}, rid]]),
        msgpack.packb([1, 3, ["case", None, [[0, "name"]]]]),
        msgpack.packb([1, 3, ["case", None, [[7, "name", "x"]]]]),
        msgpack.packb([1, 3, ["case", None, [[0, "na me", "x"]]]]),
        msgpack.packb([1, 3, ["Case", None, [[0, "name", "x"]]]]),
        msgpack.packb([1, 3, ["case", None, []]]),
        msgpack.packb([1, 3, ["case", rid, [[0, "name", b"\xff"]]]]),
        msgpack.packb([1, 3, ["case", None, [[0, "n", "x"]] * 300]]),
        msgpack.packb([1, 3, ["case", None, [[0, "n", "x" * 70000]]]]),
        msgpack.packb([1, 5, ["case", [["a"]]]]),
        msgpack.packb([1, 5, ["case", [["a", "b"]] * 100]]),
        msgpack.packb([1, 6, [""]]),
        msgpack.packb([1, 7, ["case", "not-an-id"]]),
        msgpack.packb([1, 10, [rid, ""]]),
        msgpack.packb([1, 2, [12345]]),             # unlock, not a string
    ]
    payloads += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
                 for _ in range(40)]
    payloads += [msgpack.packb([1, 3, ["case", None, [[0, "name", "x"]]]])
                 [:k] for k in range(1, 20)]
    for p in payloads:
        rep = zreq(node, p)
        assert rep is not None, f"no reply to {p[:40]!r}"
        check_error_reply(rep, p[:40])
    still_serves(node, rid)
    # Nothing of it was written.
    assert node.samen("ls", "case", json=True).json[0]["id"] == rid
    assert len(node.samen("ls", "case", json=True).json) == 1


def test_wrong_version_is_named(node):
    rid = node.put("case", "name=Familie Jansen")
    for v in (0, 2, 99, 2 ** 32 - 1):
        rep = zreq(node, msgpack.packb([v, 1, []]))
        code, msg = check_error_reply(rep, v)
        assert code == SAMEN_EVERSION, rep
        assert "1" in msg and "version" in msg.lower(), rep
    # A well-formed raw request works.
    rep = zreq(node, msgpack.packb([1, 1, []]))
    assert rep[0] == 0 and rep[2]["pid"] == node.pid, rep
    still_serves(node, rid)


def test_oversized_and_multiframe_messages(node):
    """Messages over the size cap and messages of the wrong shape may be
    dropped without a reply; the daemon must go on serving."""
    rid = node.put("case", "name=Familie Jansen")
    ctx = zmq.Context.instance()
    # Over CTL_MAX_REQUEST (1 MiB).
    zreq(node, b"\x91" + msgpack.packb("x" * (2 << 20)), timeout_ms=2000)
    still_serves(node, rid)
    # A DEALER sending frames a REQ never would.
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect(f"ipc://{node.dir}/ctl.sock")
    d.send_multipart([b"a", b"b", b"c", b"d"])
    d.send_multipart([b"", msgpack.packb([1, 1, []]), b"extra"])
    d.send(b"no empty delimiter")
    d.send_multipart([b"", msgpack.packb([1, 1, []])])
    # The well-formed one still gets its answer.
    assert d.poll(10000), "no reply to a well-formed DEALER request"
    frames = d.recv_multipart()
    assert frames[0] == b"" and len(frames) == 2, frames
    assert msgpack.unpackb(frames[1], raw=False)[0] == 0
    d.close()
    still_serves(node, rid)


def test_raw_bytes_on_the_unix_socket(node):
    """Not even ZeroMQ: random bytes straight into the socket file."""
    rid = node.put("case", "name=Familie Jansen")
    rng = random.Random(7)
    for size in (1, 10, 64, 1000, 100000):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(str(node.dir / "ctl.sock"))
        try:
            s.sendall(bytes(rng.randrange(256) for _ in range(size)))
        except OSError:
            pass   # the daemon may hang up first
        s.close()
    # A ZMTP greeting that claims a huge frame, then silence.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(node.dir / "ctl.sock"))
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x01" + b"NULL" +
              b"\x00" * 16 + b"\x00" + b"\x00" * 31 +
              b"\x06\xff\xff\xff\xff\xff\xff\xff\xff")
    still_serves(node, rid)
    s.close()
    still_serves(node, rid)


def test_checkpoints_off_the_loop(cluster):
    """SQLite no longer checkpoints inside samend's commits; samend runs a
    checkpoint on its thread pool once the WAL holds wal_autocheckpoint
    pages.  Without it nothing would reach samen.db while samend runs:
    every write would stay in samen.db-wal."""
    n = cluster.node("a")
    n.init()
    n.configure(wal_autocheckpoint=100)     # 100 pages: 400 KB
    n.start()
    db = n.dir / "samen.db"
    n.put("case", "name=first")
    before = db.stat().st_size
    # About 1 MB of values, in 32 commits: the WAL passes 100 pages.
    for i in range(32):
        n.put("note", f"text={i} " + "x" * 30000)
    wait_until(lambda: db.stat().st_size > before + 400_000, 30,
               "a checkpoint to copy the WAL into samen.db")
    assert n.running()
    assert len(n.ls("note")) == 32


def wal_restarts(path):
    """The WAL header's checkpoint sequence: one more at each start-over."""
    with open(path, "rb") as f:
        head = f.read(16)
    return int.from_bytes(head[12:16], "big")


def records_in(db, tmp):
    """Rows of records in db: the file alone, read from a copy (without
    its WAL); None while a checkpoint is writing it."""
    copy = tmp / "copy.db"
    shutil.copyfile(db, copy)
    try:
        con = sqlite3.connect(copy)
        try:
            return con.execute("SELECT count(*) FROM records").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return None
    finally:
        copy.unlink()


def stream_puts(node, n, text, window=32):
    """n CTL_PUTs of a note on one DEALER, window of them in flight: a
    stream of writes that never pauses for long."""
    d = zmq.Context.instance().socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    sent = done = 0
    try:
        d.connect(f"ipc://{node.dir}/ctl.sock")
        while done < n:
            while sent < n and sent - done < window:
                # [version, CTL_PUT, [collection, rid, [[SET, f, v]]]]
                req = [1, 3, ["note", None, [[0, "text", f"{sent} {text}"]]]]
                d.send_multipart([b"", msgpack.packb(req)])
                sent += 1
            assert d.poll(60000), f"no reply\n{node.log_text()}"
            frames = d.recv_multipart()
            assert msgpack.unpackb(frames[1], raw=False)[0] == 0, frames
            done += 1
    finally:
        d.close()


def test_checkpoints_start_early_with_a_large_wal(cluster, tmp_path):
    """However large wal_autocheckpoint (16,000 pages by default: the WAL
    starts over rarely, and each start-over holds the loop), the thread
    pool copies from 500 pages on, 125 at a time: a stream of some 1,100
    pages has reached samen.db when it ends, not only a second later (the
    idle checkpoint).  Copying an eighth of the WAL first, as before,
    would copy nothing of it here.  The default itself shows in the WAL
    written ahead at start: twice 16,000 pages is past the 64 MiB cap,
    twice the old 4,000 was 33 MB.  (How often the WAL starts over in a
    stream is not a test: a checkpoint that catches up between two commits
    starts it over too, whenever it happens to.)"""
    n = cluster.node("a")
    n.init()
    n.start()
    db, wal = n.dir / "samen.db", n.dir / "samen.db-wal"
    assert wal.stat().st_size == 64 << 20
    stream_puts(n, 700, "z" * 2000)
    # At once: the idle checkpoint comes a second after the last write.
    deadline = time.monotonic() + 0.5
    got = None
    while time.monotonic() < deadline:
        got = records_in(db, tmp_path)
        if got is not None and got >= 100:
            break
        time.sleep(0.02)
    assert got is not None and got >= 100, got
    assert n.running()


@pytest.mark.parametrize("pool_delay_ms", [0, 50])
def test_the_wal_starts_over_and_samen_db_catches_up(cluster, tmp_path,
                                                     monkeypatch,
                                                     pool_delay_ms):
    """Checkpoints run early and in small steps on the thread pool; beside
    a stream of writes none copies all of the WAL, so once it holds
    wal_autocheckpoint pages the loop copies the rest and the WAL starts
    over: it stays within about twice that.
    However long a checkpoint on the pool takes (a busy machine leaves its
    thread waiting, a disk is slow to sync: SAMEND_TEST_CKPT_DELAY_MS holds
    each back 50 ms), since the stream goes on meanwhile: past twice the
    threshold the loop waits for it and copies the rest.
    Once the writes stop, within about a second samen.db alone holds every
    record, however few pages the last ones wrote."""
    if pool_delay_ms:
        monkeypatch.setenv("SAMEND_TEST_CKPT_DELAY_MS", str(pool_delay_ms))
    n = cluster.node("a")
    n.init()
    n.configure(wal_autocheckpoint=100)     # 100 pages: 400 KB
    n.start()
    db, wal = n.dir / "samen.db", n.dir / "samen.db-wal"
    n.put("case", "name=first")
    restarts = wal_restarts(wal)
    # About 2,000 pages of WAL, with no pause: ten times over, or more.
    stream_puts(n, 1200, "y" * 2000)
    assert wal_restarts(wal) >= restarts + 5
    # Written to 200 pages at start; never grown past 400.
    assert wal.stat().st_size <= 32 + 400 * (24 + 4096)
    n.put("note", "text=the last, small")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    total = con.execute("SELECT count(*) FROM records").fetchone()[0]
    con.close()
    assert total >= 1202
    wait_until(lambda: records_in(db, tmp_path) == total, 30,
               "samen.db alone to hold every record")
    assert n.running()
