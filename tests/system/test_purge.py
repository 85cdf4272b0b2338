"""Erasure that holds, through real daemons (docs/design.md, "Erasure"):
a purge erases a record and what links to it from every device and relay
that hears of it, and from one that joins later; an edit made offline
does not bring it back; retention erases what is old enough, by an
injected clock; a purge killed half-way is whole or not started after a
restart; every refusal is one line.

"Nothing on disk" is a byte search of every file of a device's data
directory and of its daemon's log, for the canaries a person typed and for
the ciphertext of every chunk the purge erased (16-byte windows), taken
from a copy of the admin's database made before the purge.

Sessions run only when a test asks (sync_interval 0), so who knows what,
and when, is the test's to say."""

import os
import random
import sys
import time
from pathlib import Path

import pytest

from conftest import FAIL, SAMEN, USAGE, wait_until

from test_lifecycle import add, join, link, members, refused
from test_sync import synced

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "torture"))
import purgecut  # noqa: E402
from purgecut import WINDOW, chunks_of  # noqa: E402


# Helpers.

def erased_between(before, after):
    """The ciphertexts of the chunks sealed before and purged after."""
    return [ct for k, ct in before.items()
            if ct is not None and k in after and after[k] is None]


def found(node, texts=(), cts=()):
    """Where on node's disk (or in its log) a canary or a window of a
    ciphertext is."""
    return purgecut.found(node, purgecut.needles(texts, cts))


def wait_clean(node, texts=(), cts=(), timeout=30):
    """The WAL is truncated after an erase on the loop, soon: poll."""
    try:
        wait_until(lambda: not found(node, texts, cts), timeout,
                   f"{node.name}: nothing of the purged records on disk")
    except BaseException:
        print(f"{node.name} still holds: {found(node, texts, cts)[:8]}")
        raise


def purge(node, *args, **kw):
    return node.samen("purge", *args, json=True, **kw).json


def log_of(node, coll, rid):
    return node.samen("log", coll, rid, json=True).json


def relay_name(r):
    return [k for k in r.circles() if k != "private"][0]


# 1. The canary: everywhere, and on a device that joins later.

CASE = "CANARY-CASE-7f3a1e"
TAG = "CANARY-TAG-91bc04"
NOTE = "CANARY-NOTE-c4d2e8"
OTHERS = ["CANARY-TASK-0d5e", "CANARY-CONTACT-6b2f"]
REASON = "AVG art. 17: resident's request 2026-113"


@pytest.mark.usefixtures("stores_checked")
def test_a_purge_erases_everywhere_and_a_late_device_gets_nothing(cluster):
    """A case with a canary in a field, a tag and a note that links to it,
    on A (admin), B (member) and R (relay).  A purges it with --cascade:
    after sync no file of A, B or R holds a canary or a byte of the erased
    chunks, an unrelated case stays, and samen log says who, when, why.
    E, added afterwards, syncs from B alone and finds nothing either; the
    chains verify everywhere (no change set refused, equal digests, and
    samen rebuild gives them again)."""
    a, b, r = (cluster.sync_node(k) for k in "abr")
    cluster.team(a, [b])
    add(a, r, "--role", "relay")
    link(r, a)
    join(r, a, name=None)
    kase = a.put("case", f"name={CASE}")
    a.samen("put", "case", kase, f"tags+={TAG}")
    note = a.samen("note", kase, NOTE, json=True).json["id"]
    # Links in any case, and from a set field.
    task = a.put("task", f"case={kase.lower()}", "title=CANARY-TASK-0d5e")
    contact = a.put("contact", "name=CANARY-CONTACT-6b2f",
                    f"cases+={kase}")
    keep = a.put("case", "name=KEEP-5e0a")
    synced(b, a)
    synced(r, a)
    assert b.get("case", kase)["fields"]["name"] == CASE
    assert found(r, [CASE, TAG, NOTE]) == []
    before = chunks_of(a)

    out = purge(a, "case", kase, "--cascade", "--reason", REASON)
    assert sorted((x["collection"], x["id"]) for x in out["records"]) == \
        sorted([("case", kase), ("note", note), ("task", task),
                ("contact", contact)])
    assert out["records"][0] == {"collection": "case", "id": kase}
    assert out["name"] == "team" and not out["local"] and out["tags"] == 4
    assert len(out["op"]) == 64
    erased = erased_between(before, chunks_of(a))
    # The case's creation, its tag, the note, the task and the contact.
    assert len(erased) == 5, erased
    synced(b, a)
    synced(r, a)
    for n in (a, b, r):
        wait_clean(n, [CASE, TAG, NOTE] + OTHERS, erased)
    for n in (a, b):
        line = n.samen("get", "case", kase, rc=FAIL).expect_error(FAIL)
        assert "was purged" in line, line
        n.samen("get", "note", note, rc=FAIL).expect_error(FAIL)
        assert n.get("case", keep)["fields"] == {"name": "KEEP-5e0a"}
        entry, = log_of(n, "case", kase)
        assert entry["op"] == "purge" and entry["value"] == REASON
        assert entry["author"] == a.device and entry["field"] is None
        assert log_of(n, "note", note) == [entry]
    human = a.samen("log", "case", kase).out
    assert f"{a.short}  purge  {REASON}" in human, human
    assert a.circles()["team"]["purges"] == 1
    # Purged already: said so, nothing written.
    line = refused(a, "purge", "case", kase, "--reason", "again")
    assert "was purged" in line, line

    # E joins afterwards and syncs from B only.
    e = cluster.sync_node("e")
    add(a, e)
    synced(b, a)
    link(e, b)
    join(e, b)
    synced(e, b)
    assert e.get("case", keep)["fields"] == {"name": "KEEP-5e0a"}
    line = e.samen("get", "case", kase, rc=FAIL).expect_error(FAIL)
    assert "was purged" in line, line
    assert log_of(e, "case", kase)[0]["value"] == REASON
    wait_clean(e, [CASE, TAG, NOTE] + OTHERS, erased)

    # Every chain verifies: nothing refused, the same replica everywhere,
    # and a rebuild from the change sets (erased chunks and all) agrees.
    digest = a.digest()
    for n in (a, b, e):
        assert n.digest() == digest, n.name
        assert n.samen("rebuild", json=True).json["replica_digest"] == \
            digest, n.name
    r.samen("rebuild", json=True)
    for n in (a, b, r, e):
        st = n.status()
        assert st["rejected"] == 0 and st["bad"] == 0, (n.name, st)
        assert st["purged_dropped"] == 0 and st["purges_refused"] == 0
        assert all(p["rejected"] == 0 for p in n.peer_ls()), n.name
    assert r.circles()[relay_name(r)]["purges"] == 1


def test_a_purge_of_the_private_circle_is_a_local_erase(cluster):
    """The private circle has no members chain and nobody else to tell:
    its records are erased here at once.  samen log says this device
    purged it, and when; the reason is kept nowhere."""
    a = cluster.sync_node("a")
    kase = a.put("case", "name=PRIVATE-CANARY-3d9f")
    note = a.samen("note", kase, "PRIVATE-NOTE-3d9f", json=True).json["id"]
    other = a.put("case", "name=PRIVATE-OTHER")
    out = purge(a, "case", kase, "--cascade", "--reason", "mine")
    assert out["local"] and out["op"] is None and out["name"] == "private"
    assert "from the private circle: erased on this device" in a.samen(
        "purge", "case", other, "--reason", "mine too").out
    for rid, coll in ((kase, "case"), (note, "note"), (other, "case")):
        entry, = log_of(a, coll, rid)
        assert entry["op"] == "purge" and entry["author"] == a.device
        assert entry["value"] is None and entry["time"] is not None
    wait_clean(a, ["PRIVATE-CANARY-3d9f", "PRIVATE-NOTE-3d9f",
                   "PRIVATE-OTHER"])
    assert a.samen("rebuild", json=True).json["replica_digest"] == \
        a.digest()


# 2. Resurrection.

@pytest.mark.usefixtures("stores_checked")
def test_an_edit_made_offline_does_not_bring_it_back(cluster):
    """B is offline while A purges a case; B edits it, then syncs.  B's
    edit arrives on A with the purged tag: it is stored purged, dropped,
    counted (status: purged_dropped) and logged; B erases the case and its
    own edit when it hears of the purge.  The case is back nowhere."""
    a, b = (cluster.sync_node(k) for k in "ab")
    cluster.team(a, [b])
    kase = a.put("case", "name=RESURRECT-ME-2b7d")
    synced(b, a)
    # Offline: B forgets A's address and stops; it comes back deaf.
    b.samen("peer", "rm", a.device)
    b.stop()
    purge(a, "case", kase, "--reason", "resident asked")
    b.start()
    b.samen("put", "case", kase, "status=EDITED-OFFLINE-8e1f")
    assert b.get("case", kase)["fields"]["status"] == "EDITED-OFFLINE-8e1f"
    # A calls B: B, answering, sends its edit as soon as it has A's
    # vector, before A's purge reaches it.
    b.restart("--listen", b.addr)
    synced(a, b)
    b.peer_add(a)
    assert a.status()["purged_dropped"] == 1
    wait_until(lambda: "chunks of purged records: dropped" in a.log_text(),
               10, "A to log the dropped chunk")
    for n in (a, b):
        line = n.samen("get", "case", kase, rc=FAIL).expect_error(FAIL)
        assert "was purged" in line, (n.name, line)
        wait_clean(n, ["RESURRECT-ME-2b7d", "EDITED-OFFLINE-8e1f"])
    synced(b, a)
    assert a.status()["purged_dropped"] == 1
    assert a.digest() == b.digest()


def test_a_purge_reaches_an_epoch_that_came_after_it(cluster):
    """A purges a case; C, another admin that has not heard, removes D,
    which starts an epoch; B learns the new key from C (not the purge),
    edits the case under it, and hands the edit to R, a relay: a chunk
    whose record tag A's purge could not name, which R (no key) cannot
    tell from any other.  A, once it holds the new key, works the case's
    tag under it out of the purge's sealed ids: the edit R brings is
    dropped and counted, and the case comes back nowhere a key reads."""
    a, b, c, d, r = (cluster.sync_node(k) for k in "abcdr")
    cluster.team(a, [b, c, d])
    add(a, r, "--role", "relay")
    link(r, a)
    join(r, a, name=None)
    link(b, c)
    link(b, r)
    a.samen("circle", "role", "team", c.device, "admin", json=True)
    kase = a.put("case", "name=EPOCH-CANARY-77aa")
    for n in (b, c, d, r):
        synced(n, a)
    purge(a, "case", kase, "--reason", "asked")
    epoch = c.circles()["team"]["epoch"]
    c.samen("circle", "rm", "team", d.device, json=True)
    synced(b, c)
    assert b.circles()["team"]["epoch"] != epoch
    b.samen("put", "case", kase, "status=EPOCH-EDIT-77aa")
    synced(b, r)
    synced(a, c)
    synced(a, r)
    assert a.status()["purged_dropped"] == 1
    synced(b, a)
    synced(c, a)
    for n in (a, b, c):
        line = n.samen("get", "case", kase, rc=FAIL).expect_error(FAIL)
        assert "was purged" in line, (n.name, line)
        wait_clean(n, ["EPOCH-CANARY-77aa", "EPOCH-EDIT-77aa"])
    assert a.digest() == b.digest() == c.digest()


# 3. A purge that does not count.

def test_a_purge_by_a_removed_admin_is_refused_and_counted(cluster):
    """A removes B, an admin, while B and C are apart from A; B purges a
    case meanwhile and C carries its op to A.  Not in the past of the
    removal, it does not count (FILTERED): A keeps the case, counts the
    refusal (status: purges_refused) and logs it.  C applied the purge
    while it still took B for an admin: an erase is not undone, and C
    counts the op refused too once it hears of the removal."""
    a, b, c = (cluster.sync_node(k) for k in "abc")
    cluster.team(a, [b, c])
    link(b, c)
    a.samen("circle", "role", "team", b.device, "admin", json=True)
    kase = a.put("case", "name=STAYS-4c1a")
    synced(b, a)
    synced(c, a)
    assert members(b)[b.device] == ("admin", "current")
    a.samen("circle", "rm", "team", b.device, json=True)
    purge(b, "case", kase, "--reason", "not any more")
    synced(c, b)
    c.samen("get", "case", kase, rc=FAIL).expect_error(FAIL)
    synced(c, a)
    assert a.get("case", kase)["fields"] == {"name": "STAYS-4c1a"}
    for n in (a, c):
        assert n.status()["purges_refused"] == 1, n.name
        assert n.circles()["team"]["purges"] == 0, n.name
    wait_until(lambda: "purge ops by devices that were not admins "
               "refused" in a.log_text(), 10, "A to log the refusal")
    assert "purges refused:        1" in a.samen("status").out


# 4. Retention, by an injected clock.

DAY_MS = 86400 * 1000


def hlc_ms(hlc):
    return hlc >> 16


@pytest.mark.usefixtures("stores_checked")
def test_retention_erases_what_is_old_enough_on_every_device(cluster,
                                                             monkeypatch):
    """visit records: three old, two new, and an old case (no policy).
    A sets visit's retention to 30d; nothing is that old yet.  The clock
    the retention check reads moves 30 days past the old ones: --due lists
    exactly them on A and B.  At their next start A (admin) purges them,
    B (member) erases them by itself, and R (relay) follows A's purge; the
    new visits and the case stay everywhere."""
    now_file = cluster.root / "retention-now"
    monkeypatch.setenv("SAMEND_TEST_RETENTION_NOW_FILE", str(now_file))
    a, b, r = (cluster.sync_node(k) for k in "abr")
    cluster.team(a, [b])
    add(a, r, "--role", "relay")
    link(r, a)
    join(r, a, name=None)
    old = [a.put("visit", f"text=OLD-VISIT-{i}-a9") for i in range(3)]
    old_case = a.put("case", "name=OLD-CASE-a9")
    last = max(log_of(a, coll, v)[-1]["hlc"]
               for coll, v in [("visit", v) for v in old] +
               [("case", old_case)])
    wait_until(lambda: time.time() * 1000 > hlc_ms(last) + 2, 5,
               "the wall clock past the old records")
    new = [a.put("visit", f"text=NEW-VISIT-{i}-a9") for i in range(2)]
    out = a.samen("circle", "retention", "team", "visit", "30d",
                  json=True).json
    assert out == {"circle": a.circles()["team"]["circle"], "name": "team",
                   "collection": "visit", "days": 30}
    refused(a, "circle", "retention", "team", "visit", "1m",
            says="for 30 days already")
    for n in (b, r):
        synced(n, a)
    policy = [{"collection": "visit", "days": 30}]
    assert a.circles()["team"]["retention"] == policy
    assert b.circles()["team"]["retention"] == policy
    assert "  keeps visit for 30 days" in a.samen("circle", "ls").out
    for n in (a, b):
        assert n.samen("circle", "retention", "team", "--due",
                       json=True).json["due"] == []
    before = {n.name: chunks_of(n) for n in (a, b, r)}

    # Thirty days after the first new one's last change: the old ones are
    # due, and it is exactly not.
    first = min(log_of(a, "visit", v)[-1]["hlc"] for v in new)
    assert hlc_ms(first) > hlc_ms(last)
    now_file.write_text(f"{hlc_ms(first) + 30 * DAY_MS}\n")
    for n in (a, b):
        due = n.samen("circle", "retention", "team", "--due",
                      json=True).json["due"]
        assert sorted(d["id"] for d in due) == sorted(old), (n.name, due)
        assert {(d["collection"], d["days"]) for d in due} == \
            {("visit", 30)}
        human = n.samen("circle", "retention", "team", "--due").out
        assert len(human.splitlines()) == 3 and old[0] in human, human
    refused(r, "circle", "retention", relay_name(r), "--due",
            says="holds no key")
    # Each erases at its start (unlock): B by itself, before A does.
    b.restart("--listen", b.addr)
    for v in old:
        b.samen("get", "visit", v, rc=FAIL).expect_error(FAIL)
        assert a.get("visit", v)["fields"]["text"].startswith("OLD")
    # A purges them, so that the relay follows.
    a.restart("--listen", a.addr)
    synced(r, a)
    for n in (a, b):
        for v in old:
            n.samen("get", "visit", v, rc=FAIL).expect_error(FAIL)
        for v in new:
            assert n.get("visit", v)["fields"]["text"].startswith("NEW")
        assert n.get("case", old_case)["fields"] == {"name": "OLD-CASE-a9"}
        assert n.samen("circle", "retention", "team", "--due",
                       json=True).json["due"] == []
    entry = log_of(a, "visit", old[0])[0]
    assert entry["op"] == "purge" and entry["author"] == a.device
    assert entry["value"] == "retention: visit kept 30 days"
    entry = log_of(b, "visit", old[0])[0]
    assert entry["op"] == "retention", entry
    assert entry["value"] == "retention: visit kept 30 days"
    # The same three chunks went on every device, the relay too.
    for n in (a, b, r):
        gone = erased_between(before[n.name], chunks_of(n))
        assert len(gone) == 3, (n.name, len(gone))
        wait_clean(n, [f"OLD-VISIT-{i}-a9" for i in range(3)], gone)
    assert a.digest() == b.digest()
    # none: the policy goes, and nothing more with it.
    a.samen("circle", "retention", "team", "visit", "none", json=True)
    assert a.circles()["team"]["retention"] == []
    synced(b, a)
    synced(r, a)
    assert len(b.ls("visit")) == 2


# 5. A purge killed half-way.

ROUNDS = int(os.environ.get("SAMEN_PURGE_ROUNDS", "3"))
NOTES = 40
DELAY_MS = 8  # after each change set the erase rewrites
KILL_WINDOW = 0.2 + NOTES * DELAY_MS / 1000


def test_a_purge_killed_half_way_is_whole_or_not_started(cluster,
                                                          monkeypatch):
    """A case with many notes, purged with --cascade, samend killed
    (SIGKILL) a random moment after the request went out (spread over
    the rounds: before the op, during the erase, after it), ROUNDS times.
    Restarted locked (nothing applies a purge then), its disk holds every
    one of their chunks or none; unlocked, every record is there or none
    is, and if the op was written, none of it is left anywhere.  The
    erase is slowed down (SAMEND_TEST_ERASE_DELAY_MS) so that kills land
    inside it."""
    monkeypatch.setenv("SAMEND_TEST_ERASE_DELAY_MS", str(DELAY_MS))
    a = cluster.node("a")
    a.init(passphrase="kill-me-softly")
    a.start()
    a.unlock()
    a.circle_new("team")
    a.circle_use("team")
    seed = int(os.environ.get("SAMEN_PURGE_SEED", str(time.time_ns())))
    rnd = random.Random(seed)
    seen = []
    purges = 0
    for i in range(ROUNDS):
        prev = chunks_of(a)
        kase = a.put("case", f"name=KILL-CASE-{i}")
        notes = [a.samen("note", kase, f"KILL-NOTE-{i}-{k}",
                         json=True).json["id"] for k in range(NOTES)]
        before = chunks_of(a)
        mine = {k: ct for k, ct in before.items() if k not in prev}
        assert len(mine) == NOTES + 1
        p = cluster.spawn([str(SAMEN), "-d", str(a.dir), "purge", "case",
                           kase, "--cascade", "--reason", "crash test"],
                          cluster.root / "purge.log")
        # The moment of the kill: this is what the test varies.
        time.sleep((i + rnd.random()) / ROUNDS * KILL_WINDOW)
        a.kill9()
        p.wait(30)
        a.start()
        assert a.status()["locked"]
        # Locked: the WAL was truncated at start, nothing applied since.
        gone = erased_between(mine, chunks_of(a))
        disk = b"".join(f.read_bytes() for f in a.dir.glob("samen.db*"))
        left = [ct for ct in mine.values() if ct[:WINDOW] in disk]
        assert (len(gone), len(left)) in ((0, NOTES + 1),
                                          (NOTES + 1, 0)), \
            (f"round {i} (seed {seed}): {len(gone)} chunks purged, "
             f"{len(left)} on disk")
        a.unlock()
        got = {a.samen("get", "note", n, rc=None).rc for n in notes}
        assert len(got) == 1, f"round {i} (seed {seed}): {got}"
        written = a.circles()["team"]["purges"] > purges
        if written:
            purges += 1
            assert got == {FAIL}
            wait_clean(a, cts=list(mine.values()))
        else:
            assert got == {0} and not gone
        seen.append("not started" if not written else
                    "whole at the kill" if gone else "whole at unlock")
    print(f"purge killed half-way (seed {seed}): {seen}")


# 6. Refusals.

def test_every_refusal_is_one_line_and_changes_nothing(cluster):
    """An unknown record, a member, a relay (it holds no record), no
    reason, a bad retention, --due with more: one line, exit 1, or exit 2
    for what samen catches before sending; nothing written anywhere."""
    a, b, r = (cluster.sync_node(k) for k in "abr")
    cluster.team(a, [b])
    add(a, r, "--role", "relay")
    link(r, a)
    join(r, a, name=None)
    kase = a.put("case", "name=REFUSED-3e3e")
    synced(b, a)
    synced(r, a)
    states = {n.name: n.state() for n in (a, b, r)}
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    says = [
        (a, ("purge", "case", unknown, "--reason", "x"), "no case with id"),
        (a, ("purge", "note", kase, "--reason", "x"), "no note with id"),
        (b, ("purge", "case", kase, "--reason", "x"), "only an admin"),
        (b, ("purge", "case", kase, "--cascade", "--reason", "x"),
         "only an admin"),
        (r, ("purge", "case", kase, "--reason", "x"), "no case with id"),
        (b, ("circle", "retention", "team", "note", "7y"), "only an admin"),
        (a, ("circle", "retention", "nope", "note", "7y"),
         "no shared circle"),
        (a, ("circle", "retention", "nope", "--due"), "no shared circle"),
        (a, ("circle", "retention", "team", "note", "none"),
         "no retention"),
    ]
    for node, args, what in says:
        refused(node, *args, says=what)
    for args in (
        ("purge", "case", kase),
        ("purge", "case", kase, "--reason", ""),
        ("purge", "case", kase, "--reason", "x" * 1025),
        ("purge", "case", "not-an-id", "--reason", "x"),
        ("purge", "Case", kase, "--reason", "x"),
        ("purge", "case", "--reason", "x"),
        ("purge", "case", kase, "extra", "--reason", "x"),
        ("purge", "case", kase, "--due", "--reason", "x"),
        ("circle", "retention", "team", "note", "7w"),
        ("circle", "retention", "team", "note", "0d"),
        ("circle", "retention", "team", "note", "101y"),
        ("circle", "retention", "team", "note", "d"),
        ("circle", "retention", "team", "note"),
        ("circle", "retention", "team"),
        ("circle", "retention", "team", "note", "7y", "--due"),
        ("circle", "retention", "team", "note", "--due"),
        ("circle", "retention", "team", "--cascade", "--due"),
    ):
        refused(a, *args, rc=USAGE)
    for n in (a, b, r):
        assert n.state() == states[n.name], n.name
    assert a.circles()["team"]["purges"] == 0
    assert a.get("case", kase)["fields"] == {"name": "REFUSED-3e3e"}
