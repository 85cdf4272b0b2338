"""Start-up with a replica to load: samend serves sync before its in-memory
index is in, control requests wait for the index (none sees a partial one),
what peers send meanwhile is in the index once it is, and a daemon stopped
in the middle of the load exits cleanly and refuses what was waiting.

The load is held back with SAMEND_TEST_LOAD_DELAY_MS (a test knob, see
docs/design.md): it stands in for a replica of a million records."""

import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import FAIL, OK, wait_until

from test_sync import synced


def start_slow(node, delay_ms):
    """Starts node's samend (listening as before) with its index load held
    back delay_ms; returns once its control socket exists, without asking
    it anything."""
    node.proc = node.cluster.spawn(
        node.samend_argv("--listen", node.addr), node.log,
        env={"SAMEND_TEST_LOAD_DELAY_MS": str(delay_ms)})
    node.pid = node.proc.pid
    wait_until(lambda: (node.dir / "ctl.sock").exists(), 30,
               f"{node.name}: control socket")


def test_sync_is_served_while_the_index_loads(cluster):
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    c = cluster.sync_node("c")
    cluster.team(a, [b, c])
    old = {a.put("case", f"name=old {i}") for i in range(5)}
    synced(b, a)
    # C knows B's address, B does not know C: B admits C only as a member
    # of the circle, which B reads from its store, not from the index.
    c.peer_add(b)
    b.stop()

    start_slow(b, 8000)
    with ThreadPoolExecutor(2) as ex:
        # Sent while B loads: they wait for the index.
        ls = ex.submit(b.samen, "ls", "case", json=True)
        put = ex.submit(b.samen, "put", "case", "name=during the load",
                        json=True)
        # Meanwhile A writes and syncs with B: B serves the session at
        # once, while the two requests above still wait.
        new = a.put("case", "name=sent during the load")
        # (B's own session on connect may have fetched it already.)
        synced(a, b)
        from_c = c.put("case", "name=from C during the load")
        synced(c, b)
        assert not ls.done() and not put.done(), \
            "B answered a control request before its index was loaded"
        listed = ls.result(timeout=60)
        put_id = put.result(timeout=60).json["id"]
    # Nothing partial: the ls that waited sees the old records and the one
    # that arrived by sync during the load; the put is there too.
    ids = {r["id"] for r in listed.json}
    assert old | {new, from_c} <= ids, listed
    assert b.get("case", new)["fields"] == {"name": "sent during the load"}
    assert b.get("case", put_id)["fields"] == {"name": "during the load"}
    # The record that came in during the load was read again after it.
    loads = re.findall(r"index loaded: \d+ records in \d+ ms "
                       r"\((\d+) changed by peers meanwhile\)", b.log_text())
    assert loads and int(loads[-1]) >= 1, b.log_text()
    # And after a plain restart everything is still there.
    b.restart("--listen", b.addr)
    assert old | {new, from_c, put_id} <= {r["id"] for r in b.ls("case")}
    synced(b, a)
    assert b.status()["shared_digest"] == a.status()["shared_digest"]


def test_stop_during_the_load(cluster):
    a = cluster.sync_node("a")
    a.put("case", "name=Jansen")
    a.stop()
    # Held back for longer than stop() waits (30 s): it must cut the load
    # short.
    start_slow(a, 120000)
    with ThreadPoolExecutor(1) as ex:
        st = ex.submit(a.samen, "status", rc=None)
        # Let the request reach samend and wait there.
        time.sleep(1.0)
        assert not st.done()
        assert a.stop() == 0
        r = st.result(timeout=30)
    assert r.rc == FAIL, r
    assert "shutting down" in r.err, r
    # The next start loads everything.
    a.start_listening()
    assert [x["fields"]["name"] for x in a.ls("case")] == ["Jansen"]
    assert a.samen("status", rc=None).rc == OK


def test_unreadable_replica_refuses_reads_until_rebuild(cluster):
    """A replica row that no longer decrypts (a damaged disk) makes the
    index load fail: samend then refuses to answer from a partial index,
    says to rebuild, and `samen rebuild`, which derives the replica again
    from the stored change sets, brings every record back."""
    a = cluster.sync_node("a")
    ids = {a.put("case", f"name=Familie {i}") for i in range(3)}
    a.stop()
    db = sqlite3.connect(str(a.dir / "samen.db"))
    with db:
        # A new record's values are in its row, its pack (schema 4).
        n = db.execute(
            "UPDATE records SET pbox = zeroblob(length(pbox)) "
            "WHERE rkey = (SELECT min(rkey) FROM records "
            "WHERE pbox IS NOT NULL)").rowcount
    db.close()
    assert n == 1
    a.start_listening()
    r = a.samen("ls", "case", rc=FAIL)
    assert "samen rebuild" in r.err, r
    a.samen("get", "case", sorted(ids)[0], rc=FAIL)
    assert "could not load the index" in a.log_text()
    a.samen("rebuild")
    assert {x["id"] for x in a.ls("case")} == ids
    assert a.status()["records"] == 3
