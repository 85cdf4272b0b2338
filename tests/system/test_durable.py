"""Durable off the loop (docs/design.md): a batch's commit does not wait for
the disk on the loop; its replies, its ACKs and our own change sets wait for
the sync thread.  SAMEND_TEST_SYNC_DELAY_MS holds every sync back, so that
"before the sync" lasts long enough to look at."""

import threading
import time

from conftest import OK, wait_until

from test_sync import cs_count, synced

DELAY_MS = 2000


def restart_with(node, env, listen=True):
    """Restarts node's samend with env added to its environment."""
    node.stop()
    extra = ["--listen", node.addr] if listen else []
    node.proc = node.cluster.spawn(node.samend_argv(*extra), node.log,
                                   env=env)
    node.pid = node.proc.pid
    node.wait_serving()


def restart_slow(node):
    """Restarts node's samend (listening) with every sync held back."""
    restart_with(node, {"SAMEND_TEST_SYNC_DELAY_MS": str(DELAY_MS)})


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


def test_a_failed_sync_refuses_writes_until_restart(cluster):
    """After a failed fdatasync (SAMEND_TEST_SYNC_FAIL) nothing waits for
    ever: the write that waited and every request after it are answered
    with a storage error, the log says to restart, and a restarted samend
    writes again."""
    a = cluster.node("a")
    a.init()
    a.start()
    a.put("note", "text=before")
    restart_with(a, {"SAMEND_TEST_SYNC_FAIL": "1"}, listen=False)
    r = a.samen("put", "note", "text=lost?", rc=None, timeout=30)
    assert r.rc != OK, r
    assert "failed to sync" in r.err, r
    r = a.samen("put", "note", "text=after", rc=None, timeout=30)
    assert r.rc != OK and "storage error" in r.err, r
    r = a.samen("ls", "note", rc=None, timeout=30)
    assert r.rc != OK and "restart samend" in r.err, r
    assert "the disk failed to sync" in a.log_text()
    a.stop()
    a.start()
    a.put("note", "text=after the restart")
    texts = notes(a)
    assert {"before", "after the restart"} <= texts, texts
    assert "after" not in texts, texts


def test_a_responder_records_what_moved(cluster):
    """The responder never sees a session end, so it records the counts as
    they move: what it sent after each ACK, in a lazy transaction of its
    own, and what it received in the batch's own transaction.  peer ls
    shows them, and they are still there after a restart."""
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    cluster.team(a, [b])

    def moved(sent, received):
        def check():
            p = a.peer(b)
            return (p["sent"] - before["sent"], p["received"] -
                    before["received"]) == (sent, received) and p
        return wait_until(check, 10, f"a: {sent} sent, {received} received")

    # a only sends: its counts move on b's ACKs alone.
    before = a.peer(b)
    for i in range(3):
        a.put("note", f"text=from a {i}")
    s = synced(b, a)
    assert s["sent"] == 0 and s["received"] == 3, s
    moved(3, 0)
    # a only receives.
    for i in range(2):
        b.put("note", f"text=from b {i}")
    s = synced(b, a)
    assert s["sent"] == 2 and s["received"] == 0, s
    after = moved(3, 2)
    assert after["last_sync"] is not None, after
    a.stop()
    a.start("--listen", a.addr)
    again = a.peer(b)
    assert (again["sent"], again["received"]) == (after["sent"],
                                                   after["received"]), again


def test_a_failed_sync_ends_the_receiving_session(cluster):
    """A batch received while every sync fails is never acknowledged: the
    session ends with a storage error instead of waiting, and nothing
    after it is stored."""
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    cluster.team(a, [b])
    for i in range(3):
        b.put("note", f"text=from b {i}")
    restart_with(a, {"SAMEND_TEST_SYNC_FAIL": "1"})
    r = a.sync(b, rc=None, timeout=30)
    s = r.json[0]["session"]
    assert s["state"] == "failed" and "storage error" in s["error"], r
    assert "the disk failed to sync" in a.log_text()


def test_the_wal_is_written_ahead_at_start(cluster):
    """samend writes its WAL to twice wal_autocheckpoint frames at start
    (at most 64 MiB), so that syncs overwrite blocks instead of growing the
    file (docs/design.md, "A written WAL"); what is written over it is
    there after a kill -9 and a restart."""
    n = cluster.node("a")
    n.init()
    wal = n.dir / "samen.db-wal"
    frame = 4096 + 24
    n.configure(wal_autocheckpoint=100)
    n.start()
    assert wal.stat().st_size == 32 + 2 * 100 * frame
    ids = [n.put("case", f"name=n{i}") for i in range(20)]
    n.proc.kill()
    n.proc.wait()
    n.start()
    for i, rid in enumerate(ids):
        assert n.get("case", rid)["fields"] == {"name": f"n{i}"}
    assert wal.stat().st_size >= 32 + 2 * 100 * frame
    n.stop()

    n.configure(wal_autocheckpoint=1000000)
    n.start()
    assert wal.stat().st_size == 64 << 20
    assert n.get("case", ids[-1])["fields"] == {"name": "n19"}
