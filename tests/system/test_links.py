"""The connections between daemons: a handshake refused because the other
side did not know us yet, then admitted once it does."""

import time

import pytest

from conftest import FAIL, wait_until

# Every daemon's store holds what it showed, after each test.
pytestmark = pytest.mark.usefixtures("stores_checked")


def lines_with(node, *words):
    """The lines of node's log that hold every one of words."""
    return [line for line in node.log_text().splitlines()
            if all(w in line for w in words)]


def test_refused_handshake_then_admitted(cluster):
    """A adds B before B knows A: B refuses A's handshake, and A logs and
    counts that; a sync A asks for meanwhile fails at once.  Then B adds
    A, and A syncs: A's link opens a fresh socket (libzmq does not retry
    after a refusal, and may keep taking messages for the dead
    connection) with a monitor of its own, so the sync succeeds and A's
    peer ls shows B connected."""
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    a.put("case", "name=Jansen")
    a.peer_add(b)
    wait_until(lambda: a.status()["handshake_failed"] > 0, 15,
               "A to count the refused handshake")
    assert b.status()["zap_refused"] > 0
    assert lines_with(a, "handshake with", b.short, "it refused us")
    assert a.peer(b)["state"] == "connecting"
    # Asked again, A tries a fresh connection, is refused again, and its
    # session says so at once instead of waiting for an answer that
    # cannot come (libzmq retries nothing after a refusal).
    t0 = time.monotonic()
    r = a.sync(b, timeout=15, rc=FAIL, json=False)
    assert r.out.startswith(f"{b.short} failed: handshake failed: it "
                            f"refused us"), r
    assert time.monotonic() - t0 < 10, r
    b.peer_add(a)
    r = a.sync(b, timeout=20)
    s = r.json[0]["session"]
    assert s["state"] == "done" and s["error"] is None, r
    # The new connection has a monitor: it saw the handshake succeed.
    wait_until(lambda: a.peer(b)["state"] == "connected", 10,
               "A to see its connection to B up")
    assert not lines_with(a, "cannot watch"), a.log_text()
    assert a.status()["handshake_failed"] >= 1

