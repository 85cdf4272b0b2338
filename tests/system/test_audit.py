"""The read audit (NEN 7513; docs/design.md, "Read audit") through real
daemons: A (admin), B (member) and R (relay) share a circle, and B and A
sync only through R.  B reads a case every way samen returns contents
(get, ls, find, log, conflicts, export); A sees each read in `samen audit`,
with B's device, the action and the time, beside the writes in one
timeline, and in the case's subject export; B and R are refused the audit;
R carries the events and cannot read them; --device and --since filter;
a search that found nothing is an event too; retention erases what is
older than the period, on A and on R, with the clock injected
(SAMEND_TEST_RETENTION_NOW_FILE), and the floor of five years is enforced;
a purge of the case leaves the reads that name it; a read whose event
cannot be made durable is refused, and a read waits for its event's
sync."""

import hashlib
import json
import re
import sqlite3
import time

import msgpack
import nacl.bindings
import pytest
import zmq

from conftest import FAIL, TIME_RE, wait_until
from test_lifecycle import add, link
from test_sync import synced

pytestmark = pytest.mark.usefixtures("stores_checked")

DAY_MS = 86400 * 1000
RETENTION_DAYS = 1826


def ulid_bytes(text):
    """The 16 bytes of a record id (Crockford base32, as proto/rid.c)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    n = 0
    for ch in text.upper():
        n = n * 32 + alphabet.index(ch)
    return n.to_bytes(16, "big")


def audit_chain(circle_hex):
    """sync_audit_circle and sync_audit_key (proto/sync.h)."""
    circle = bytes.fromhex(circle_hex)
    chain = hashlib.blake2b(b"samen-audit-1" + circle, digest_size=16)
    key = hashlib.blake2b(b"samen-audit-key-1" + circle, digest_size=32)
    return chain.digest(), key.digest()


def audit_rows(node, circle_hex):
    """(header, payload) of every change set of the circle's audit chain
    in node's store, read as anyone who holds the file could."""
    chain, _ = audit_chain(circle_hex)
    con = sqlite3.connect(f"file:{node.dir / 'samen.db'}?mode=ro", uri=True)
    try:
        return con.execute("SELECT hdr, payload FROM cs WHERE circle = ? "
                           "ORDER BY aid, seq", (chain,)).fetchall()
    finally:
        con.close()


def journal_rows(node, circle_hex):
    """Rows of node's audit journal for the circle: a batch's events each,
    sealed, waiting to be shipped as a change set (docs/design.md, "Read
    audit")."""
    con = sqlite3.connect(f"file:{node.dir / 'samen.db'}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM audit_journal WHERE "
                           "circle = ?", (bytes.fromhex(circle_hex),)
                           ).fetchone()[0]
    finally:
        con.close()


def audit_boxes(node, circle_hex):
    """The batches of events node holds for the circle, shipped or not:
    the boxes of its audit chain and its journal's rows, read at once."""
    chain, _ = audit_chain(circle_hex)
    con = sqlite3.connect(f"file:{node.dir / 'samen.db'}?mode=ro", uri=True)
    try:
        con.execute("BEGIN")
        rows = con.execute("SELECT hdr, payload FROM cs WHERE circle = ?",
                           (chain,)).fetchall()
        queued = con.execute("SELECT count(*) FROM audit_journal WHERE "
                             "circle = ?", (bytes.fromhex(circle_hex),)
                             ).fetchone()[0]
    finally:
        con.close()
    return queued + sum(len(outer_open(h, p, circle_hex)[1])
                        for h, p in rows)


def outer_open(hdr, payload, circle_hex):
    """What a member or relay can read of an audit change set: its header,
    and each chunk's outer layer (the chunk key derives from the circle
    id).  Returns (header fields, [box bytes or None if purged])."""
    chain, key = audit_chain(circle_hex)
    h = msgpack.unpackb(hdr, raw=True)
    author, circle, seq = h[1], h[2], h[4]
    assert circle == chain
    boxes = []
    for chunk in msgpack.unpackb(payload, raw=True):
        if len(chunk) == 1:
            boxes.append(None)
            continue
        rtag, nonce, ct = chunk
        ad = (b"samen-chunk-1" + circle + author + seq.to_bytes(8, "little") +
              rtag)
        boxes.append(nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct, ad, nonce, key))
    return dict(author=author, seq=seq, hlc=h[6]), boxes


def team_circle(node):
    return node.circles()["team"]["circle"]


def world(cluster):
    """A admin, B member, R relay of "team"; B and A sync through R only.
    A case by A, with a note; then a conflict on its name (A and B each
    set it while apart)."""
    a, b, r = (cluster.sync_node(k) for k in "abr")
    a.circle_new("team")
    a.circle_use("team")
    add(a, r, "--role", "relay")
    add(a, b)
    link(r, a)
    link(b, r)
    synced(r, a)
    kase = a.put("case", "name=Familie Jansen")
    note = a.samen("note", kase, "eerste gesprek").out.strip()
    synced(r, a)
    synced(b, r)
    b.circle_use("team")
    a.samen("put", "case", kase, "name=Jansen (A)")
    b.samen("put", "case", kase, "name=Jansen (B)")
    synced(b, r)
    synced(a, r)
    synced(b, r)
    assert len(a.get("case", kase)["conflicts"]) == 1
    return a, b, r, kase, note


def reads(events, device, rid):
    """{what: [event]} of the reads of device that name record rid."""
    out = {}
    for e in events:
        if (e["action"] == "read" and e["device"] == device and
                any(x["id"] == rid for x in e["records"])):
            out.setdefault(e["what"], []).append(e)
    return out


def test_member_reads_admin_sees_relay_carries(cluster):
    a, b, r, kase, note = world(cluster)
    circle = team_circle(a)
    before = b.status()

    # B reads the case every way that returns its contents.
    assert b.get("case", kase)["id"] == kase
    assert kase in [x["id"] for x in b.ls("case")]
    assert kase in [x["id"] for x in b.samen("find", "Jansen",
                                             json=True).json]
    b.samen("log", "case", kase, json=True)
    assert kase in [x["id"] for x in b.samen("conflicts", json=True).json]
    out = cluster.root / "cases.json"
    b.samen("export", "case", "--format", "json", "-o", out)
    # Sync is not a read: B's audit reaches A through R.
    synced(b, r)
    synced(a, r)

    # R carries every audit change set B wrote, and reads none of them.
    # Each read was a batch of its own: a box each, shipped from B's
    # journal many to a change set.
    held_b = audit_rows(b, circle)
    held_r = audit_rows(r, circle)
    assert sum(len(outer_open(h, p, circle)[1]) for h, p in held_b) >= 6
    assert set(held_b) <= set(held_r)
    # status counts them apart; the records' change sets are as before.
    after = b.status()
    assert after["changesets"] == before["changesets"], (before, after)
    assert after["audit_changesets"] == len(held_b)
    assert after["pending"] == 0
    assert r.status()["audit_changesets"] == len(held_r)
    rid = ulid_bytes(kase)
    for hdr, payload in held_r:
        _, boxes = outer_open(hdr, payload, circle)
        for box in boxes:
            assert box is not None
            # The event inside is out of R's reach: not the record's id
            # (raw or as text), not its collection.
            assert rid not in box and kase.encode() not in box
            assert b"case" not in box
            # A sealed box: version, hint, ephemeral key, nonce, MAC'd
            # ciphertext.
            v = msgpack.unpackb(box, raw=True)
            assert len(v) == 5 and v[0] == 1 and len(v[2]) == 32
    # Nor is the record's id anywhere in R's files (the database, its
    # WAL): R carries the circle and is told no record of it.
    for p in r.dir.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert rid not in data and kase.encode() not in data, p.name

    # A: every read, by B, with the action and the time; writes beside.
    ev = a.samen("audit", "case", kase, json=True).json
    assert ev["truncated"] is False
    events = ev["events"]

    # B, a member, reads the case but not who else read it: A's own read
    # in world() travels to B too, and its time as the block holds it (a
    # msgpack u64: what only the audit key reveals; the change set's
    # header carries a later one) is in no box B or R can get at, each
    # chunk opened as far as anyone who knows the circle can.
    synced(b, r)
    assert len(audit_rows(b, circle)) > len(held_b)
    ours = [e for e in events if e["device"] == a.device and
            e["action"] == "read"]
    assert len(ours) == 1, ours
    canary = b"\xcf" + ours[0]["hlc"].to_bytes(8, "big")
    for node in (b, r):
        for hdr, payload in audit_rows(node, circle):
            for box in outer_open(hdr, payload, circle)[1]:
                assert canary not in box, node.name
    got = reads(events, b.device, kase)
    assert set(got) == {"get", "ls", "find", "log", "conflicts", "export"}
    for what, es in got.items():
        assert len(es) == 1, (what, es)
        e = es[0]
        assert TIME_RE.match(e["time"]) and e["hlc"] > 0
        assert e["circle"] == circle
        assert e["records"] == [{"collection": "case", "id": kase}]
    order = [e["what"] for e in events
             if e["action"] == "read" and e["device"] == b.device]
    assert order == ["get", "ls", "find", "log", "conflicts", "export"]
    writes = [(e["device"], e["what"]) for e in events
              if e["action"] == "write"]
    assert writes == [(a.device, "create"), (a.device, "update"),
                      (b.device, "update")] or writes == [
        (a.device, "create"), (b.device, "update"), (a.device, "update")]
    assert [e["hlc"] for e in events] == sorted(e["hlc"] for e in events)
    # The time of each read is after the writes B saw.
    assert min(e["hlc"] for es in got.values() for e in es) > max(
        e["hlc"] for e in events if e["action"] == "write")
    # The get of a case reads its notes too.
    assert "get" in reads(a.samen("audit", "note", note, json=True).json[
        "events"], b.device, note)
    human = a.samen("audit", "case", kase).out.splitlines()
    assert len(human) == len(events)
    assert any(f"  {b.short}  read   get" in line and kase in line
               for line in human), human

    # --device: whose; --since: from when.
    mine = a.samen("audit", "case", kase, "--device", a.device,
                   json=True).json["events"]
    assert mine and all(e["device"] == a.device for e in mine)
    # A's: its writes, and its get of the case in world().
    assert {(e["action"], e["what"]) for e in mine} == {
        ("write", "create"), ("write", "update"), ("read", "get")}
    theirs = a.samen("audit", "case", kase, "--device", b.device,
                     json=True).json["events"]
    assert {e["what"] for e in theirs if e["action"] == "read"} == set(got)
    log_time = got["log"][0]["time"]
    later = a.samen("audit", "case", kase, "--since", log_time,
                    json=True).json["events"]
    assert [e["what"] for e in later] == ["log", "conflicts", "export"]
    assert a.samen("audit", "case", kase, "--since", "2099-01-01",
                   json=True).json["events"] == []
    # Without a record: the whole circle, reads and writes.
    everything = a.samen("audit", json=True).json["events"]
    assert len(reads(everything, b.device, kase)) == 6
    assert any(e["action"] == "write" and e["what"] == "create" and
               {"collection": "note", "id": note} in e["records"]
               for e in everything)

    # The subject export on A holds the reads B just made.
    subj = cluster.root / "jansen.json"
    a.samen("export", "--subject", kase, "-o", subj)
    doc = json.loads(subj.read_text())
    trail = [(e["device"], e["action"], e["what"], e["id"])
             for e in doc["audit"]]
    for what in got:
        assert (b.device, "read", what, kase) in trail, (what, trail)

    # B, a member, and R, a relay: refused, one line, exit 1.
    for node in (b, r):
        for args in (("audit",), ("audit", "case", kase)):
            line = node.samen(*args, rc=FAIL).expect_error(FAIL)
            assert "admin" in line, line
            if node is b and len(args) > 1:
                assert f"case {kase} " in line, line


def test_retention_erases_what_is_older(cluster, monkeypatch):
    """Events older than audit_retention days are erased at start (the
    clock injected: SAMEND_TEST_RETENTION_NOW_FILE), on A and on R, the
    newer ones kept; the change sets' headers stay."""
    now_file = cluster.root / "retention-now"
    monkeypatch.setenv("SAMEND_TEST_RETENTION_NOW_FILE", str(now_file))
    a, b, r, kase, _ = world(cluster)
    circle = team_circle(a)
    b.get("case", kase)
    # A sync ships B's journal: the get's change set, dated now.
    synced(b, r)
    before = len(audit_rows(b, circle))
    # The next read a few milliseconds on: a cut falls between them.
    t0 = time.time()
    wait_until(lambda: time.time() > t0 + 0.02, 5, "the clock to move")
    b.samen("export", "--subject", kase, "-o", cluster.root / "s.json")
    synced(b, r)
    assert len(audit_rows(b, circle)) == before + 1
    synced(a, r)
    events = a.samen("audit", "case", kase, json=True).json["events"]
    got = reads(events, b.device, kase)
    get_ms = got["get"][0]["hlc"] >> 16
    export_ms = got["export"][0]["hlc"] >> 16
    assert export_ms > get_ms + 10
    # The cut: just before the export (a change set goes when its header,
    # written after its events, is older than the cut).
    now_file.write_text(f"{export_ms - 1 + RETENTION_DAYS * DAY_MS}\n")
    nrows = len(audit_rows(a, circle))

    for node in (a, r):
        node.restart("--listen", node.addr)

    def erased(node):
        rows = audit_rows(node, circle)
        boxes = [outer_open(h, p, circle)[1] for h, p in rows]
        return len(rows) == nrows and sum(
            all(x is None for x in bx) for bx in boxes)
    for node in (a, r):
        wait_until(lambda: erased(node) >= 1, 30,
                   f"{node.name}: the old events erased")
    left = reads(a.samen("audit", "case", kase, json=True).json["events"],
                 b.device, kase)
    assert "get" not in left and "export" in left
    # Every header still verifies as a chain (the relay serves them).
    synced(b, r)
    synced(a, r)
    synced(b, r)
    assert a.log_text().count("erased the events of") >= 1
    # Retention is a setting of at least five years: 1825 days is refused
    # with the file's line, 1826 taken.
    a.stop()
    for days, rc in ((1825, 1), (1826, 0)):
        a.configure(sync_interval=0, audit_retention=days)
        out = cluster.run(a.samend_argv("--check-config"), rc=rc)
        if rc:
            assert "audit_retention" in out.err and "1826" in out.err, out
        else:
            assert re.search(r"^audit_retention\s*=\s*1826$", out.out,
                             re.M), out


def test_purge_keeps_the_reads(cluster):
    """A purge of the case erases it everywhere; the reads that named it
    stay in the audit, on A (who purged it) and on R, who carries them."""
    a, b, r, kase, note = world(cluster)
    circle = team_circle(a)
    b.get("case", kase)
    synced(b, r)
    synced(a, r)
    held = set(audit_rows(r, circle))
    a.samen("purge", "case", kase, "--cascade", "--reason", "AVG art. 17")
    synced(a, r)
    synced(b, r)
    wait_until(lambda: b.samen("get", "case", kase, rc=None).rc == FAIL,
               30, "B: the case purged")
    synced(b, r)
    synced(a, r)
    # Nothing of the audit chain was rewritten by the purge.
    assert held <= set(audit_rows(r, circle))
    for who in (a, r):
        for hdr, payload in audit_rows(who, circle):
            assert None not in outer_open(hdr, payload, circle)[1]
    got = reads(a.samen("audit", "case", kase, json=True).json["events"],
                b.device, kase)
    assert "get" in got, got
    # The note's reads too (a case's get reads its notes).
    assert "get" in reads(a.samen("audit", "note", note, json=True).json[
        "events"], b.device, note)


def test_a_search_that_finds_nothing_is_noted(cluster):
    """find is a search: an event in the circle even when it returns
    nothing, without its text."""
    a, b, r, kase, _ = world(cluster)
    circle = team_circle(a)
    n = audit_boxes(b, circle)
    text = "Zonnebloemstraat-canary-81"
    assert b.samen("find", text, json=True).json == []
    assert audit_boxes(b, circle) == n + 1
    synced(b, r)
    synced(a, r)
    finds = [e for e in a.samen("audit", json=True).json["events"]
             if e["device"] == b.device and e["what"] == "find"]
    assert len(finds) == 1 and finds[0]["records"] == [], finds
    human = a.samen("audit", "--device", b.device).out
    assert "(nothing found)" in human, human
    # Its text is nowhere in any file of A's, B's or R's.
    for node in (a, b, r):
        for p in node.dir.rglob("*"):
            if p.is_file():
                assert text.encode() not in p.read_bytes(), p


def test_a_read_waits_for_its_event(cluster):
    """A read of a shared record waits for its event to reach the disk,
    and is refused when it cannot be stored; the private circle's reads
    are not audited."""
    a, b, r, kase, _ = world(cluster)
    circle = team_circle(a)
    priv = b.put("--circle", "private", "note", "text=my own")
    n = audit_boxes(b, circle)
    b.get("note", priv)
    b.ls("note", "text=my own")
    assert audit_boxes(b, circle) == n

    # Each sync of the WAL takes a second: so does the read.
    b.restart("--listen", b.addr, env={"SAMEND_TEST_SYNC_DELAY_MS": "1000"})
    t = time.monotonic()
    b.get("case", kase)
    assert time.monotonic() - t >= 1.0
    assert audit_boxes(b, circle) == n + 1

    # The disk fails its syncs: the read is refused, and says why.
    b.restart("--listen", b.addr, env={"SAMEND_TEST_SYNC_FAIL": "1"})
    line = b.samen("get", "case", kase, rc=FAIL).expect_error(FAIL)
    assert "audit" in line or "storage" in line, line
    b.stop(expect_rc=None)


def test_a_journaled_read_survives_kill9(cluster):
    """A read's event is a row of the journal, sealed and synced, before
    its reply; samend killed with it not yet shipped ships it after its
    restart, and A reads it."""
    a, b, r, kase, _ = world(cluster)
    circle = team_circle(a)
    # The journal waits (ten minutes) for a ship that never comes.
    b.restart("--listen", b.addr,
              env={"SAMEND_TEST_AUDIT_SHIP_MS": "600000"})
    n = len(audit_rows(b, circle))
    assert journal_rows(b, circle) == 0
    b.samen("log", "case", kase, json=True)
    assert journal_rows(b, circle) == 1
    assert len(audit_rows(b, circle)) == n
    b.kill9()
    b.start("--listen", b.addr)
    wait_until(lambda: journal_rows(b, circle) == 0, 30,
               "B: the journal shipped after the restart")
    assert len(audit_rows(b, circle)) == n + 1
    synced(b, r)
    synced(a, r)
    got = reads(a.samen("audit", "case", kase, json=True).json["events"],
                b.device, kase)
    assert "log" in got, got


def test_a_session_offers_what_the_journal_holds(cluster):
    """A session ships the journal before its HELLO says what this device
    holds, answering one as well as starting one (not only `samen sync`,
    which ships before it asks): a device told in that session that it was
    removed has no later one to pass its reads on (test_exile)."""
    a, b, r, kase, _ = world(cluster)
    circle = team_circle(a)
    # The journal waits ten minutes: only a session ships it.
    env = {"SAMEND_TEST_AUDIT_SHIP_MS": "600000"}
    b.restart("--listen", b.addr, env=env)
    b.samen("log", "case", kase, json=True)
    assert journal_rows(b, circle) == 1
    # R asks, B answers.
    synced(r, b)
    assert journal_rows(b, circle) == 0
    synced(a, r)
    got = reads(a.samen("audit", "case", kase, json=True).json["events"],
                b.device, kase)
    assert "log" in got, got

    # B starts one of its own, by its timer.
    b.stop()
    b.configure(sync_interval=1)
    b.start("--listen", b.addr, env=env)
    held = len(audit_rows(r, circle))
    assert kase in [x["id"] for x in b.samen("conflicts", json=True).json]
    wait_until(lambda: len(audit_rows(r, circle)) > held, 30,
               "R: B's read, offered by B's own session")
    assert journal_rows(b, circle) == 0
    synced(a, r)
    got = reads(a.samen("audit", "case", kase, json=True).json["events"],
                b.device, kase)
    assert "conflicts" in got, got


def test_a_ship_for_a_session_while_a_write_waits(cluster):
    """A session's ship waits for its sync (hook_offering), which releases
    what waited for the disk before it: here a batch of a write and a
    read, whose reply's gossip looks at every link's last session.  The
    hook runs before session_start frees that session (ASan, at the
    teardown's check of the logs, caught the read of freed memory)."""
    a, b, r, kase, _ = world(cluster)
    b.stop()
    b.configure(sync_interval=1)
    b.start("--listen", b.addr, env={"SAMEND_TEST_SYNC_DELAY_MS": "700",
                                     "SAMEND_TEST_AUDIT_SHIP_MS": "600000"})
    b.wait_session(r)
    d = zmq.Context.instance().socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    try:
        d.connect(f"ipc://{b.dir}/ctl.sock")
        for i in range(4):
            # A put and a get, one batch: one commit, one sync to wait
            # for, during which the next timer session ships the get's
            # event.
            d.send_multipart([b"", msgpack.packb(
                [1, 3, ["case", None, [[0, "name", f"w{i}"]]]])])
            d.send_multipart([b"", msgpack.packb([1, 4, ["case", kase]])])
            for _ in range(2):
                assert d.poll(30000), "no reply"
                code, msg, _ = msgpack.unpackb(d.recv_multipart()[1],
                                               raw=False)
                assert code == 0, msg
    finally:
        d.close()
    assert b.status()["records"] >= 6
    shipped = [line for line in b.log_text().splitlines()
               if "sync with" in line]
    assert len(shipped) >= 2, shipped
