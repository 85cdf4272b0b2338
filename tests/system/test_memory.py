"""Memory after a churn of control connections (issue 28: 12 cycles of
2,000 connections took samend from 8 to 64 MB for good).  Not a leak
(LeakSanitizer finds none, and malloc_trim(0) gives it all back): glibc
kept what libzmq's I/O thread freed.  daemon/trim.c gives it back once
it piles up.  Runs the samend built without sanitizers (ASan has an
allocator of its own): build/test-plain, which make test builds."""

import os
from pathlib import Path

import msgpack
import pytest
import zmq

from conftest import REPO, wait_until

PLAIN = Path(os.environ.get("SAMEN_PLAIN_BUILD",
                            REPO / "build" / "test-plain")) / "samend"

pytestmark = pytest.mark.skipif(not os.access(PLAIN, os.X_OK),
                                reason=f"no {PLAIN} (make test builds it)")

MB = 1 << 20


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def churn(path, cycles, n):
    """cycles times: n REQ connections at once, a status request on each,
    every reply read, all closed."""
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, n + 16)
    req = msgpack.packb([1, 1, []])
    try:
        for _ in range(cycles):
            socks = []
            for _ in range(n):
                s = ctx.socket(zmq.REQ)
                s.setsockopt(zmq.LINGER, 0)
                s.setsockopt(zmq.RCVTIMEO, 30000)
                s.connect(f"ipc://{path}")
                s.send(req)
                socks.append(s)
            for s in socks:
                code = msgpack.unpackb(s.recv())[0]
                assert code == 0
                s.close()
    finally:
        ctx.term()


def test_memory_given_back_after_connection_churn(cluster):
    """Three bursts of 1,500 connections: samend's resident memory rises
    by tens of MB and comes back near where it started within seconds
    (trim's period is 5 s), while it keeps answering."""
    n = cluster.node("a")
    n.init()
    n.samend_argv = lambda *extra: [str(PLAIN), "-d", str(n.dir),
                                    *map(str, extra)]
    n.start()
    base = rss(n.pid)
    peak = 0
    for _ in range(3):
        churn(n.dir / "ctl.sock", 1, 1500)
        peak = max(peak, rss(n.pid))
    assert peak > base + 32 * MB, \
        f"the churn should have cost memory: {base >> 20} -> {peak >> 20} MB"
    wait_until(lambda: rss(n.pid) < base + 24 * MB, 30,
               f"resident memory back near {base >> 20} MB "
               f"(peak {peak >> 20} MB)", interval=0.5)
    assert n.status()["records"] == 0
