"""Group commit signs once per circle per batch: the writes that samend
handles in one batch become the chunks of one change set per circle
(docs/design.md, "Group commit").  Many requests pipelined on one DEALER
while the daemon loads its index (SAMEND_TEST_LOAD_DELAY_MS) are all
handled in one batch once it is in: that makes "one batch" certain."""

import sqlite3

import msgpack
import pytest
import zmq

from conftest import OK, wait_until

from test_sync import all_records, cs_count, synced

# Every daemon's store holds what it showed, after each test.
pytestmark = pytest.mark.usefixtures("stores_checked")

PUT, RM, LOG, NOTE = 3, 7, 8, 10
SET, ADD = 0, 1


def put(collection, rid=None, *assigns, circle=None):
    """A CTL_PUT request; assigns are (how, field, value)."""
    args = [collection, rid, [list(a) for a in assigns]]
    if circle is not None:
        args.append(circle)
    return [1, PUT, args]


def one_batch(node, reqs, delay_ms=1500):
    """Restarts node's samend with its index load held back, sends every
    request of reqs on one DEALER meanwhile, and returns the replies
    ([code, message, body] each), in order: samend handles requests that
    wait for the load in one batch."""
    node.stop()
    argv = node.samend_argv(*(["--listen", node.addr] if node.port else []))
    node.proc = node.cluster.spawn(
        argv, node.log, env={"SAMEND_TEST_LOAD_DELAY_MS": str(delay_ms)})
    node.pid = node.proc.pid
    wait_until(lambda: (node.dir / "ctl.sock").exists(), 30,
               f"{node.name}: control socket")
    d = zmq.Context.instance().socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    try:
        d.connect(f"ipc://{node.dir}/ctl.sock")
        for r in reqs:
            d.send_multipart([b"", msgpack.packb(r)])
        replies = []
        for _ in reqs:
            assert d.poll(60000), f"{node.name}: no reply\n{node.log_text()}"
            frames = d.recv_multipart()
            assert frames[0] == b"" and len(frames) == 2, frames
            replies.append(msgpack.unpackb(frames[1], raw=False))
    finally:
        d.close()
    return replies


def ok(reply):
    code, msg, body = reply
    assert code == 0, reply
    return body


def test_a_batch_of_puts_is_one_change_set_per_circle(cluster, node):
    node.circle_new("team")
    before = cs_count(node)
    reqs = []
    for i in range(120):
        circle = "team" if i % 3 == 0 else None
        reqs.append(put("case", None, (SET, "name", f"Familie {i}"),
                        (ADD, "tags", f"t{i % 5}"), circle=circle))
    replies = one_batch(node, reqs)
    bodies = [ok(r) for r in replies]
    assert all(b["created"] and b["collection"] == "case" for b in bodies)
    assert len({b["id"] for b in bodies}) == 120
    # 120 writes to two circles: two change sets, one per circle.
    assert cs_count(node) - before == 2, cs_count(node)

    got = all_records(node, "case")
    assert len(got) == 120
    for i, b in enumerate(bodies):
        rec = got[("case", b["id"])]
        assert rec["fields"] == {"name": f"Familie {i}"}, rec
        assert rec["sets"]["tags"] == [f"t{i % 5}"], rec
        assert (rec["circle"] == got[("case", bodies[0]["id"])]["circle"]) \
            == (i % 3 == 0), rec
    # Rebuilt from the change sets alone, the replica is the same.
    digest = node.digest()
    r = node.samen("rebuild", json=True)
    assert r.json["replica_digest"] == digest


def test_updates_of_one_record_in_one_batch(node):
    """An update of a record whose earlier write waits in the open group
    builds that group first, so it replaces what that write wrote: no
    conflict, and the later value shows."""
    x = node.put("case", "name=Jansen", "status=open")
    y = node.put("case", "name=Bakker")
    t = node.put("task", "what=call")
    before = cs_count(node)
    replies = one_batch(node, [
        put("case", x, (SET, "status", "closed")),
        put("case", x, (SET, "status", "reopened"), (ADD, "tags", "a")),
        put("case", y, (SET, "name", "Bakker-de Vries")),
        [1, RM, ["task", t]],
        put("case", None, (SET, "name", "new")),
        [1, NOTE, [x, "visited"]],
        put("case", x, (ADD, "tags", "b")),
        [1, RM, ["case", y]],
        [1, LOG, ["case", x]],
    ])
    bodies = [ok(r) for r in replies]
    assert bodies[0] == {"collection": "case", "id": x, "created": False}
    assert bodies[4]["created"] is True
    assert bodies[5]["case"] == x and bodies[5]["created"] is True
    # The log, in the same batch, sees every write to x before it.
    values = [e["value"] for e in bodies[8] if e["field"] == "status"]
    assert values == ["open", "closed", "reopened"], bodies[8]
    # Groups: [x] | [x, y, t, new, note] | [x, y]: the second write to x
    # builds the first, the third the second, the log the last.  Three
    # change sets for eight writes.
    assert cs_count(node) - before == 3

    rec = node.get("case", x)
    assert rec["fields"] == {"name": "Jansen", "status": "reopened"}, rec
    assert sorted(rec["sets"]["tags"]) == ["a", "b"], rec
    assert rec["conflicts"] == [], rec
    assert [n["fields"]["text"] for n in rec["notes"]] == ["visited"], rec
    assert node.ls("task") == []
    ids = {r["id"]: r for r in node.ls("case")}
    assert y not in ids and bodies[4]["id"] in ids
    assert node.samen("conflicts", json=True).json == []
    assert node.samen("get", "case", y, rc=None).rc != OK


def test_a_grouped_change_set_syncs_to_a_peer(cluster):
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    cluster.team(a, [b])
    old = a.put("case", "name=old")
    synced(b, a)
    before = cs_count(a)
    reqs = [put("case", None, (SET, "name", f"case {i}")) for i in range(60)]
    reqs += [put("case", old, (SET, "name", "old, renamed")),
             [1, NOTE, [old, "a note"]]]
    bodies = [ok(r) for r in one_batch(a, reqs)]
    # 60 puts and the note in one change set; the update of old (not in
    # the open group) in the same one.
    assert cs_count(a) - before == 1

    s = synced(b, a)
    assert s["received"] == 1, s
    assert b.status()["shared_digest"] == a.status()["shared_digest"]
    ra, rb = all_records(a, "case", "note"), all_records(b, "case", "note")
    assert ra == rb and len(ra) == 62
    assert b.get("case", old)["fields"] == {"name": "old, renamed"}
    assert b.get("case", bodies[59]["id"])["fields"] == {"name": "case 59"}


def test_a_group_that_cannot_be_stored_refuses_every_write(node):
    """A trigger makes SQLite refuse any change set bigger than a few
    writes: a batch's group fails, and with it every write of the batch,
    and nothing of it is kept; a single put still works."""
    keep = node.put("case", "name=kept")
    node.stop()
    db = sqlite3.connect(node.dir / "samen.db")
    db.execute("CREATE TRIGGER no_groups BEFORE INSERT ON cs"
               " WHEN length(NEW.payload) > 2000"
               " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    db.commit()
    db.close()
    node.start()
    state = node.state()

    def lost(n, at=()):
        reqs = [put("case", None, (SET, "name", f"lost {i}"))
                for i in range(n)]
        for i in at:
            reqs.insert(i, put("case", keep, (SET, "status", f"lost {i}")))
        return reqs

    # The group fails when the batch commits; then, in the second batch,
    # when the second write to keep must build it.
    for reqs in (lost(40, at=(20,)), lost(30, at=(15, 40))):
        replies = one_batch(node, reqs)
        for code, msg, body in replies:
            assert code < 0, (code, msg)
            assert "not stored" in msg or "could not store" in msg, msg
            assert not body, body
        assert node.state() == state
        assert [r["id"] for r in node.ls("case")] == [keep]
        assert node.get("case", keep)["fields"] == {"name": "kept"}
    assert "could not be stored" in node.log_text()
    # One write alone is one small change set: the trigger lets it in.
    node.put("case", keep, "status=open")
    assert node.get("case", keep)["fields"] == {"name": "kept",
                                                "status": "open"}


def test_a_group_closes_before_the_payload_cap(cluster):
    """Ten puts of about 900 KB each are over the 8 MiB a change set's
    payload may hold (CS_MAX_PAYLOAD): the group is built when the next
    chunk would not fit, and goes on in a second change set.  Both reach a
    peer."""
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    cluster.team(a, [b])
    before = cs_count(a)
    big = [(SET, f"f{k}", chr(ord("a") + k) * 64000) for k in range(14)]
    replies = one_batch(a, [put("case", None, (SET, "n", str(i)), *big)
                            for i in range(10)])
    ids = [ok(r)["id"] for r in replies]
    assert cs_count(a) - before == 2
    db = sqlite3.connect(f"file:{a.dir / 'samen.db'}?mode=ro", uri=True)
    try:
        sizes = [n for (n,) in db.execute(
            "SELECT length(payload) FROM cs ORDER BY csn DESC LIMIT 2")]
    finally:
        db.close()
    assert all(n <= 8 << 20 for n in sizes) and sum(sizes) > 8 << 20, sizes

    s = synced(b, a)
    assert s["received"] == 2, s
    assert b.status()["shared_digest"] == a.status()["shared_digest"]
    for i, rid in enumerate(ids):
        rec = b.get("case", rid)
        assert rec["fields"]["n"] == str(i)
        assert rec["fields"]["f13"] == "n" * 64000


def test_a_write_whose_chunk_would_be_refused_is_refused(node):
    """A remove names every tag of its element it saw; past OPS_MAX_REFS
    (4096) the chunk is one every decoder refuses, so the store would keep
    the change set as bad and apply nothing.  The writer says so instead of
    acknowledging a write that did not happen."""
    rid = node.put("case", "name=Jansen")
    for _ in range(17):
        node.samen("put", "case", rid, *(["tags+=x"] * 256))
    state = node.state()
    r = node.samen("put", "case", rid, "tags-=x", rc=None)
    assert r.rc != OK, r
    assert "not stored" in r.err or "could not store" in r.err, r
    assert node.state() == state
    rec = node.get("case", rid)
    assert rec["sets"]["tags"] == ["x"], rec["sets"]
    # The daemon goes on: the next write works.
    node.put("case", rid, "status=open")
    assert node.get("case", rid)["fields"]["status"] == "open"


def test_thousands_in_flight_all_answered(node):
    """A client that sends 6,000 reads before it reads one reply gets every
    reply: the control socket does not drop replies while the client's
    queues are full (libzmq's ROUTER drops at its send high-water mark,
    1,000 by default; samend sets its own, api.c)."""
    GET = 4
    x = node.put("case", "name=Jansen")
    n = 6000
    d = zmq.Context.instance().socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    try:
        d.connect(f"ipc://{node.dir}/ctl.sock")
        for _ in range(n):
            d.send_multipart([b"", msgpack.packb([1, GET, ["case", x]])])
        got = 0
        while got < n:
            assert d.poll(30000), f"{got} of {n} replies, then none"
            frames = d.recv_multipart()
            assert ok(msgpack.unpackb(frames[1], raw=False))["id"] == x
            got += 1
    finally:
        d.close()
    assert node.status()["records"] == 1
