"""Durable off the loop (docs/design.md): a batch's commit does not wait for
the disk on the loop; its replies, its ACKs and our own change sets wait for
the sync thread.  SAMEND_TEST_SYNC_DELAY_MS holds every sync back, so that
"before the sync" lasts long enough to look at."""

import threading
import time

from conftest import OK, wait_until

from test_sync import cs_count, synced

DELAY_MS = 2000


def restart_slow(node):
    """Restarts node's samend (listening) with every sync held back."""
    node.stop()
    node.proc = node.cluster.spawn(
        node.samend_argv("--listen", node.addr), node.log,
        env={"SAMEND_TEST_SYNC_DELAY_MS": str(DELAY_MS)})
    node.pid = node.proc.pid
    node.wait_serving()


def notes(node):
    return {r["fields"]["text"] for r in node.ls("note")}


def test_own_writes_reach_peers_and_clients_only_once_synced(cluster):
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    cluster.team(a, [b])
    a.put("note", "text=before")
    synced(b, a)
    assert notes(b) == {"before"}
    restart_slow(a)
    before = cs_count(a)

    done = {}

    def put():
        t = time.monotonic()
        done["result"] = a.samen("put", "note", "text=held", rc=None)
        done["s"] = time.monotonic() - t

    t = threading.Thread(target=put)
    t.start()
    try:
        # Committed (another process sees it in the file), not synced.
        wait_until(lambda: cs_count(a) > before, 10, "a: the put committed")
        assert "result" not in done, "the put was answered before its sync"
        # A peer asking now gets nothing of it: a power cut could still
        # take it back, and a would then write another change set with
        # the same seq: a fork of its own chain.
        s = synced(b, a)
        assert s["received"] == 0, s
        assert "held" not in notes(b)
    finally:
        t.join(60)
    r = done["result"]
    assert r.rc == OK, r
    assert done["s"] >= DELAY_MS / 1000 * 0.9, done
    # Synced: now it travels.
    s = synced(b, a)
    assert s["received"] == 1, s
    assert notes(b) == {"before", "held"}


def test_received_batches_are_acked_once_synced(cluster):
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    cluster.team(a, [b])
    for i in range(3):
        b.put("note", f"text=from b {i}")
    restart_slow(a)
    t = time.monotonic()
    s = synced(a, b)
    took = time.monotonic() - t
    assert s["received"] == 3, s
    # The session ends after the ACK, and the ACK after a's sync.
    assert took >= DELAY_MS / 1000 * 0.9, took
    assert notes(a) == {f"from b {i}" for i in range(3)}
    # Stopping waits for the sync in flight; what was ACKed is there.
    a.stop()
    a.start("--listen", a.addr)
    assert notes(a) == {f"from b {i}" for i in range(3)}
