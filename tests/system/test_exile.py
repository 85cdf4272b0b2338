"""Departures through real daemons (docs/sync.md, "Quarantine travels to
admins", "Exile sessions", "Departures"): what a removed device wrote past
its cut travels to the circle's admins only; a removed device that next
reaches a peer that knows is handed its removal, offers what it wrote
(into quarantine) and erases the circle; a revoked laptop erases
everything, keys included.

Sessions run only when a test asks (sync_interval 0), as in
test_lifecycle.py."""

import pytest

from conftest import FAIL, wait_until

from test_lifecycle import add, cannot_get, circle, link, members, on_disk
from test_sync import synced

# Every daemon's store holds what it showed, after each test.
pytestmark = pytest.mark.usefixtures("stores_checked")


def quarantined(node, name="team"):
    return circle(node, name)["quarantined"]


def left(node, name="team", timeout=30):
    """node erases circle name (after the session that told it ended)."""
    wait_until(lambda: name not in node.circles(), timeout,
               f"{node.name} to leave {name}")


def nowhere_on_disk(node, *texts, timeout=30):
    """None of texts in any file of node's data directory (the WAL is
    truncated after an erase, as soon as no reader holds it)."""
    wait_until(lambda: all(on_disk(node, t) == [] for t in texts), timeout,
               f"{node.name}'s files to hold none of {texts}")


def logged(node, text, timeout=30):
    wait_until(lambda: text in node.log_text(), timeout,
               f"{node.name} to log {text!r}")


# 1. Quarantine travels to admins (and relays) only.

def test_quarantine_travels_to_admins_only(cluster):
    """A and A2 admins, B and D members, R a relay; A removes C.  C, not
    knowing, writes, and reaches B first: B is the first to refuse it (it
    is quarantined there, never merged).  B syncs with D in one round trip
    and D gets none of it; B passes it to the admin A2 directly, and
    through R to A, who never meets B.  A member never receives it, not
    even from an admin that holds it.  Once A accepts it, it is an entry
    like any other and reaches D."""
    a, a2, b, d, r, c = (cluster.sync_node(k) for k in
                         ("a", "a2", "b", "d", "r", "c"))
    cluster.team(a, [b, d, c])
    add(a, a2, "--role", "admin")
    add(a, r, "--role", "relay")
    for n in (a2, r):
        link(n, a)
        synced(n, a)
    link(b, c)
    link(b, d)
    link(b, r)
    link(b, a2)
    before = c.put("case", "name=from C, before")
    synced(c, a)
    a.samen("circle", "rm", "team", c.device)
    for n in (b, d, r, a2):
        synced(n, a)
        name = [k for k in n.circles() if k != "private"][0]
        assert members(n, name)[c.device] == ("member", "removed"), n.name

    late = c.put("case", "name=QUARANTINED-CANARY from C")
    s = synced(c, b)
    assert s["sent"] >= 1, s
    left(c)
    # B refused it: held, listed, not merged.
    assert quarantined(b) == 1
    cannot_get(b, late)
    assert b.get("case", before)["fields"] == {"name": "from C, before"}
    # B's get above is a read: its audit event goes to D first.
    synced(b, d)
    # B and D: one round trip, although B holds what D does not.
    held = d.status()["changesets"]
    for who, other in ((b, d), (d, b)):
        s = synced(who, other)
        assert s["in_sync"] is True, s
        assert s["sent"] == s["received"] == 0, s
    assert d.status()["changesets"] == held
    assert quarantined(d) == 0 and d.status()["quarantined"] == 0
    # To the admins: A2 directly, A through the relay.
    synced(b, a2)
    assert quarantined(a2) == 1
    synced(b, r)
    assert r.status()["quarantined"] == 1
    synced(a, r)
    assert quarantined(a) == 1
    q = a.samen("circle", "quarantine", "team", json=True).json
    assert [(e["author"], e["records"]) for e in q] == \
        [(c.device, [{"collection": "case", "id": late}])], q
    cannot_get(a, late)
    # An admin that holds it still sends a member none of it.
    s = synced(d, a)
    assert s["received"] == 0, s
    assert quarantined(d) == 0
    # Accepted, it is an entry like any other.
    a.samen("circle", "accept", "team", c.device, json=True)
    synced(d, a)
    assert d.get("case", late)["fields"] == \
        {"name": "QUARANTINED-CANARY from C"}
    assert quarantined(d) == 0


# 2. Exile sessions and departures.

def test_a_removed_device_is_handed_its_removal_and_erases_the_circle(
        cluster):
    """A, B, C in a circle; A removes C and writes.  C, not knowing, has
    written meanwhile; it reaches A: A hands it the removal, C's entry
    lands in A's quarantine, and C erases the circle: no file of C's
    holds any of the circle's records, and it fetches nothing new.  The
    other way round: A reaches D (removed too) and D does the same."""
    a, b, c, d = (cluster.sync_node(k) for k in "abcd")
    cluster.team(a, [b, c, d])
    link(b, c)
    early_c = c.put("case", "name=EARLY-CANARY-C")
    early_d = d.put("case", "name=EARLY-CANARY-D")
    synced(c, a)
    synced(d, a)
    shared = a.put("case", "name=SHARED-CANARY-A")
    for n in (b, c, d):
        synced(n, a)
        assert n.get("case", shared)["fields"]["name"] == \
            "SHARED-CANARY-A"
    priv = c.samen("put", "--circle", "private", "case",
                   "name=PRIVATE-NOTE-C", json=True).json["id"]
    a.samen("circle", "rm", "team", c.device)
    a.samen("circle", "rm", "team", d.device)
    after = a.put("case", "name=AFTER-CANARY-A")
    late_c = c.put("case", "name=LATE-CANARY-C")
    late_d = d.put("case", "name=LATE-CANARY-D")

    # C connects to A.
    s = synced(c, a)
    # Its own entry, offered first, and the audit of its read of SHARED
    # (an exile's reads still reach the admins).
    assert s["sent"] == 2, s
    left(c)
    assert list(c.circles()) == ["private"]
    logged(c, "removed from circle")
    nowhere_on_disk(c, "EARLY-CANARY-C", "LATE-CANARY-C", "SHARED-CANARY-A",
                    "AFTER-CANARY-A")
    for rid in (early_c, late_c, shared, after):
        cannot_get(c, rid)
    # What is its own alone stays.
    assert c.get("case", priv)["fields"] == {"name": "PRIVATE-NOTE-C"}
    # Its entry waits in A's quarantine; A's others are untouched.
    q = a.samen("circle", "quarantine", "team", json=True).json
    assert [(e["author"], e["records"]) for e in q] == \
        [(c.device, [{"collection": "case", "id": late_c}])], q
    cannot_get(a, late_c)
    assert a.get("case", early_c)["fields"] == {"name": "EARLY-CANARY-C"}
    # It fetches nothing new, from A or B, and never joins again.
    held = c.status()["changesets"]
    newer = a.put("case", "name=NEWER-CANARY-A")
    synced(b, a)
    synced(c, a)
    synced(c, b)
    assert c.status()["changesets"] == held
    assert list(c.circles()) == ["private"]
    cannot_get(c, newer)
    nowhere_on_disk(c, "NEWER-CANARY-A")
    # Its default circle was team: now it is its private one.
    assert c.put("case", "name=after leaving") and \
        c.status()["changesets"] == held + 1

    # A connects to D, which it has an address for.
    s = synced(a, d)
    assert s["received"] == 2, s    # its entry, its read's audit
    left(d)
    nowhere_on_disk(d, "EARLY-CANARY-D", "LATE-CANARY-D", "SHARED-CANARY-A",
                    "AFTER-CANARY-A")
    q = a.samen("circle", "quarantine", "team", json=True).json
    assert sorted((e["author"], e["records"][0]["id"]) for e in q) == \
        sorted([(c.device, late_c), (d.device, late_d)]), q
    # A's admin view is unchanged: both removed, nothing merged of theirs.
    assert members(a)[c.device] == members(a)[d.device] == \
        ("member", "removed")
    assert circle(a)["quarantined"] == 2


def test_a_revoked_laptop_reconnects_and_erases_itself(cluster):
    """A revokes a lost laptop L (and a second one, M).  L connects to A:
    it is handed the revocation and erases everything, keys included:
    status says revoked, every other command is refused, no file of its
    holds a record or the key file, and a restart keeps it so.  A
    reaches M, which does the same."""
    a, b, lap, m = (cluster.sync_node(k) for k in ("a", "b", "lap", "m"))
    cluster.team(a, [b, lap, m])
    mine = lap.put("case", "name=LAPTOP-CANARY")
    priv = lap.samen("put", "--circle", "private", "case",
                     "name=LAPTOP-PRIVATE-CANARY", json=True).json["id"]
    m.put("case", "name=M-CANARY")
    synced(lap, a)
    synced(m, a)
    for n in (lap, m):
        a.samen("device", "revoke", n.device, "--reason", "lost on the bus")
    assert members(a)[lap.device] == ("member", "revoked")

    # `sync --wait` asks L how its session went: L may be revoked by then.
    r = lap.sync(a, rc=None)
    assert r.rc == 0 or "revoked" in r.err, r
    wait_until(lambda: lap.status()["revoked"], 30, "L to be revoked")
    st = lap.status()
    assert st["revoked"] and st["locked"], st
    assert st["records"] == 0 and st["changesets"] == 0, st
    assert not (lap.dir / "keys").exists()
    assert (lap.dir / "revoked").exists()
    nowhere_on_disk(lap, "LAPTOP-CANARY", "LAPTOP-PRIVATE-CANARY")
    logged(lap, "this device was revoked")
    for args in (("get", "case", priv), ("ls", "case"),
                 ("put", "case", "name=x"), ("circle", "ls"),
                 ("unlock",), ("sync",), ("peer", "ls")):
        line = lap.samen(*args, rc=FAIL, env={"SAMEN_PASSPHRASE": "x"}
                         ).expect_error(FAIL)
        assert "revoked" in line, line
    human = lap.samen("status")
    assert "revoked" in human.out and "revoked" in human.err, human
    # A restart is still revoked.
    lap.restart("--listen", lap.addr)
    st = lap.status()
    assert st["revoked"] and st["device"] == lap.device, st
    lap.samen("ls", "case", rc=FAIL).expect_error(FAIL)
    # A kept what L wrote before; B never heard of any of it.
    assert a.get("case", mine)["fields"] == {"name": "LAPTOP-CANARY"}

    # A reaches M.
    synced(a, m)
    wait_until(lambda: m.status()["revoked"], 30, "M to be revoked")
    assert not (m.dir / "keys").exists()
    nowhere_on_disk(m, "M-CANARY")
