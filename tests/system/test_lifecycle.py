"""The trust lifecycle through real daemons (docs/sync.md, "Members, roles
and epochs"): adding with each role and without history, role changes, a
removal that re-keys (the removed device reads nothing written after it,
and none of it is on its disk), what it wrote meanwhile held back until
accepted, two admins removing each other while apart, a relay that
carries what it cannot read, and every refusal.

Sessions run only when a test asks (sync_interval 0, no gossip), so who
knows what, and when, is the test's to say: a device that is not synced
is partitioned."""

import pytest

from conftest import FAIL, USAGE, wait_until

from test_sync import synced

# Every daemon's store holds what it showed, after each test.
pytestmark = pytest.mark.usefixtures("stores_checked")


def circle(node, name="team"):
    return node.circles()[name]


def members(node, name="team"):
    """{device: (role, state)} of circle name as node's roster has it."""
    return {m["device"]: (m["role"], m["state"])
            for m in circle(node, name)["members"]}


def add(admin, other, *opts, name="team"):
    return admin.samen("circle", "add", name, other.device, *opts,
                       json=True).json


def link(a, b):
    """a and b know each other's address (no session is forced)."""
    a.peer_add(b)
    b.peer_add(a)
    a.wait_session(b)
    b.wait_session(a)


def join(member, admin, name="team"):
    """member, added by admin, syncs with it and takes the circle (a
    relay, which cannot read its name, by its id: name None)."""
    synced(member, admin)
    held = member.circles()
    assert (name in held) if name else len(held) == 2, held


def cannot_get(node, rid):
    line = node.samen("get", "case", rid, rc=FAIL).expect_error(FAIL)
    assert "no case with id" in line, line


def on_disk(node, text):
    """The files of node's data directory that hold text, in any form
    SQLite could have left it (the WAL included)."""
    needle = text.encode()
    return [p.name for p in node.dir.rglob("*")
            if p.is_file() and needle in p.read_bytes()]


def refused(node, *args, rc=FAIL, says=None):
    line = node.samen(*args, rc=rc).expect_error(rc)
    if says is not None:
        assert says in line, line
    return line


# 1. Roles, and what each is given.

def test_add_with_each_role_and_no_history(cluster):
    """A adds B as member, C as admin, R as relay; all three join.  The
    members read the circle's history, the admin can add, the relay holds
    no key: it reads nothing and its disk holds none of the plaintext.
    After a removal starts a new epoch, N added with --no-history reads
    what is written now and not what was written before, nor the circle's
    name (sealed under the first key): it shows the circle by its id."""
    a = cluster.sync_node("a")
    b, c, r, x, n = (cluster.sync_node(k) for k in "bcrxn")
    a.circle_new("team")
    a.circle_use("team")
    old = a.put("case", "name=OLD-CANARY-1")
    assert add(a, b)["role"] == "member"
    assert add(a, c, "--role", "admin")["role"] == "admin"
    assert add(a, r, "--role", "relay")["role"] == "relay"
    assert add(a, x)["role"] == "member"
    for m in (b, c, r, x):
        link(m, a)
        join(m, a, name=None if m is r else "team")
    assert members(a) == {a.device: ("admin", "current"),
                          b.device: ("member", "current"),
                          c.device: ("admin", "current"),
                          r.device: ("relay", "current"),
                          x.device: ("member", "current")}
    for m in (b, c, x):
        assert members(m) == members(a), m.name
    rname = [k for k in r.circles() if k != "private"][0]
    assert members(r, rname) == members(a)
    assert circle(b)["role"] == "member" and circle(b)["writable"]
    assert b.get("case", old)["fields"] == {"name": "OLD-CANARY-1"}
    # The admin C admins: it adds, and A learns it.
    assert add(c, n, "--role", "relay")["role"] == "relay"
    synced(a, c)
    assert members(a)[n.device] == ("relay", "current")
    # The relay: a member that reads nothing.
    rc = circle(r, rname)
    assert rc["role"] == "relay" and not rc["writable"]
    assert rc["name"] == rc["circle"][:8], rc
    cannot_get(r, old)
    assert on_disk(r, "OLD-CANARY-1") == []
    assert r.status()["changesets"] >= 1
    r.samen("circle", "use", rc["name"], rc=FAIL).expect_error(FAIL)

    # A removes x: a new epoch.  n, the relay C added, made a member: it
    # is given every key, as an add with history gives them.
    a.samen("circle", "rm", "team", x.device, json=True)
    new = a.put("case", "name=NEW-CANARY-2")
    a.samen("circle", "role", "team", n.device, "member", json=True)
    link(n, a)
    join(n, a)
    assert circle(n)["role"] == "member" and circle(n)["writable"]
    assert n.get("case", new)["fields"] == {"name": "NEW-CANARY-2"}
    assert n.get("case", old)["fields"] == {"name": "OLD-CANARY-1"}
    # h, added with --no-history: the current key alone.
    h = cluster.sync_node("h")
    add(a, h, "--no-history")
    link(h, a)
    synced(h, a)
    hc = h.samen("circle", "ls", json=True).json[1]
    assert hc["role"] == "member" and hc["writable"], hc
    assert hc["name"] == hc["circle"][:8], hc
    assert h.get("case", new)["fields"] == {"name": "NEW-CANARY-2"}
    cannot_get(h, old)
    assert on_disk(h, "OLD-CANARY-1") == []
    # Nobody behind A at the end (a restart would sync on connect).
    for m in (b, c, r, n):
        synced(m, a)


def test_role_changes(cluster):
    """A makes B admin (B's add then counts everywhere), then a relay: the
    next epoch is not B's, so B reads nothing written after.  The last
    admin cannot step down."""
    a, b, d = (cluster.sync_node(k) for k in "abd")
    a.circle_new("team")
    a.circle_use("team")
    add(a, b)
    link(b, a)
    join(b, a)
    refused(b, "circle", "add", "team", d.device, says="only an admin")
    r = a.samen("circle", "role", "team", b.device, "admin", json=True).json
    assert r["role"] == "admin" and r["device"] == b.device
    synced(b, a)
    assert circle(b)["role"] == "admin"
    add(b, d)
    synced(a, b)
    assert members(a)[d.device] == ("member", "current")
    assert members(a)[b.device] == ("admin", "current")

    # B demoted to relay: A's maintenance starts an epoch B lacks.
    epoch = circle(a)["epoch"]
    a.samen("circle", "role", "team", b.device, "relay", json=True)
    wait_until(lambda: circle(a)["epoch"] != epoch, 30,
               "A to start an epoch without B")
    rid = a.put("case", "name=AFTER-RELAY-3")
    synced(b, a)
    assert circle(b)["role"] == "relay"
    assert not circle(b)["writable"]
    cannot_get(b, rid)
    assert on_disk(b, "AFTER-RELAY-3") == []
    # The only admin left cannot become anything else.
    refused(a, "circle", "role", "team", a.device, "member",
            says="last admin")
    refused(a, "circle", "role", "team", d.device, "member",
            says="already a member")
    human = a.samen("circle", "ls").out
    assert f"  {b.device[:12]}  relay   current" in human, human


# 2. Removal, re-key, quarantine.

def test_a_removed_device_reads_nothing_after_and_its_writes_wait(cluster):
    """A, B, C in a circle.  A removes C and writes a canary.  C, not
    knowing, writes and syncs with B, who does not know either; B then
    syncs with A.  C's entry is held back on A (listed, not in the
    replica); the canary is on B, never on C's disk, and C cannot get it.
    A accepts C's entry: it is in A's replica, then in B's."""
    a, b, c = (cluster.sync_node(k) for k in "abc")
    cluster.team(a, [b, c])
    link(b, c)
    early = c.put("case", "name=from C, before")
    synced(c, a)
    synced(b, a)

    r = a.samen("circle", "rm", "team", c.device, json=True).json
    assert r["device"] == c.device and r["cut"] == 1
    assert members(a)[c.device] == ("member", "removed")
    assert circle(a)["epochs"] == 2 and circle(a)["epoch"] == r["epoch"]
    canary = a.put("case", "name=CANARY-REMOVED-4")
    late = c.put("case", "name=from C, not knowing")
    synced(c, b)
    assert b.get("case", late)["fields"] == {"name": "from C, not knowing"}
    synced(b, a)

    # On A: held back, listed, not merged.
    assert circle(a)["quarantined"] == 1
    assert a.status()["quarantined"] == 1
    q = a.samen("circle", "quarantine", "team", json=True).json
    assert len(q) == 1, q
    assert q[0]["author"] == c.device and q[0]["seq"] == 2, q
    assert q[0]["records"] == [{"collection": "case", "id": late}], q
    cannot_get(a, late)
    line = a.samen("circle", "quarantine", "team").out
    assert line.startswith(c.device[:12]) and late in line, line
    # On B, which learnt of the removal: the canary; C's entry held too.
    assert b.get("case", canary)["fields"] == {"name": "CANARY-REMOVED-4"}
    assert members(b)[c.device] == ("member", "removed")
    cannot_get(b, late)
    assert b.get("case", early)["fields"] == {"name": "from C, before"}

    # C syncs with A: nobody shares the circle with it any more; it is
    # handed its removal, and nothing written since, and leaves the
    # circle (test_exile.py tells the rest).
    synced(c, a)
    wait_until(lambda: "team" not in c.circles(), 30, "C to leave team")
    cannot_get(c, canary)
    assert on_disk(c, "CANARY-REMOVED-4") == []
    assert on_disk(b, "CANARY-REMOVED-4") == []   # sealed at rest too

    # The accept: in A's replica, and after sync in B's.
    r = a.samen("circle", "accept", "team", c.device, json=True).json
    assert r["cut"] == 2
    assert a.get("case", late)["fields"] == {"name": "from C, not knowing"}
    assert circle(a)["quarantined"] == 0
    assert a.samen("circle", "quarantine", "team", json=True).json == []
    synced(b, a)
    assert b.get("case", late)["fields"] == {"name": "from C, not knowing"}
    assert circle(b)["quarantined"] == 0
    refused(a, "circle", "accept", "team", c.device, says="nothing to accept")


def test_two_admins_remove_each_other_while_apart(cluster):
    """A and B, admins, never meet.  A removes B and C; B removes A and C.
    D learns A's side, E learns B's, then D and E meet: both hold every op
    and resolve one membership (one admin survives: when both would go,
    the removal with the smaller id is ignored).  The survivor, told by D,
    resolves the same; every current device writes with the same epoch,
    and each reads the others.  The loser, next in touch with D, is
    handed its removal and nothing else, and leaves the circle."""
    a, b, c, d, e = (cluster.sync_node(k) for k in "abcde")
    a.circle_new("team")
    a.circle_use("team")
    add(a, b, "--role", "admin")
    for m in (c, d, e):
        add(a, m)
    for m in (b, c, d, e):
        link(m, a)
        join(m, a)
        m.circle_use("team")
    link(d, e)
    link(b, e)
    link(b, d)
    synced(b, a)
    synced(e, b)
    for n in (a, b, c, d, e):
        assert len(members(n)) == 5, n.name

    a.samen("circle", "rm", "team", b.device)
    a.samen("circle", "rm", "team", c.device)
    b.samen("circle", "rm", "team", a.device)
    b.samen("circle", "rm", "team", c.device)
    assert members(a)[b.device][1] == "removed"
    assert members(b)[a.device][1] == "removed"
    synced(d, a)
    synced(e, b)
    synced(d, e)
    synced(e, d)
    agreed = members(d)
    assert members(e) == agreed
    admins = [k for k, (role, state) in agreed.items()
              if role == "admin" and state == "current"]
    assert len(admins) == 1, agreed
    survivor, loser = (a, b) if admins == [a.device] else (b, a)
    assert agreed[loser.device] == ("admin", "removed")
    assert agreed[c.device] == ("member", "removed")
    assert agreed[d.device] == agreed[e.device] == ("member", "current")

    # The survivor learns the loser's ops through a member: the same.
    # The loser's ops that depend on its lost place (its removal of C,
    # and its epochs) count for nothing.
    synced(survivor, d)
    assert members(survivor) == agreed
    assert circle(survivor)["ops"]["filtered"] >= 1
    synced(d, survivor)
    synced(e, d)
    epochs = {n.name: circle(n)["epoch"] for n in (survivor, d, e)}
    assert len(set(epochs.values())) == 1, epochs
    for n in (survivor, d, e):
        assert members(n) == agreed, n.name
        assert circle(n)["writable"], n.name
    # Each writes under it and the others read.
    rd = d.put("case", "name=from D after the heal")
    synced(survivor, d)
    synced(e, survivor)
    assert e.get("case", rd)["fields"]["name"] == "from D after the heal"
    # The loser is told, and leaves.
    synced(loser, d)
    wait_until(lambda: "team" not in loser.circles(), 30,
               "the loser to leave team")
    cannot_get(loser, rd)


# 3. Relays.

def test_members_sync_through_a_relay_that_reads_nothing(cluster):
    """A and B sync only through R, a relay member: R verifies, stores and
    serves the circle's change sets, resolves its members, holds no key,
    and no file of it holds the plaintext."""
    a, b, r = (cluster.sync_node(k) for k in "abr")
    a.circle_new("team")
    a.circle_use("team")
    add(a, r, "--role", "relay")
    add(a, b)
    link(r, a)
    link(b, r)
    join(r, a, name=None)
    rid = a.put("case", "name=RELAYED-CANARY-5")
    synced(r, a)
    synced(b, r)
    assert "team" in b.circles()
    b.circle_use("team")
    assert b.get("case", rid)["fields"] == {"name": "RELAYED-CANARY-5"}
    rname = [k for k in r.circles() if k != "private"][0]
    assert members(r, rname) == members(a) == members(b)
    cannot_get(r, rid)
    assert on_disk(r, "RELAYED-CANARY-5") == []
    assert r.status()["pending"] >= 1
    rb = b.put("case", "name=back through R")
    synced(b, r)
    synced(a, r)
    assert a.get("case", rb)["fields"] == {"name": "back through R"}
    assert a.device not in [p["device"] for p in b.peer_ls()]


# 4. Refusals, and circle ls.

def test_every_refusal_is_one_line(cluster):
    """Not an admin, an unknown device, the last admin, a relay given a
    key, a revoked device added again, and the rest: one line, exit 1,
    nothing written.  Malformed arguments: exit 2, nothing sent."""
    a, b, d = (cluster.sync_node(k) for k in "abd")
    a.circle_new("team")
    add(a, b)
    link(b, a)
    join(b, a)
    stranger = cluster.node("s")
    stranger.init()
    before = a.state()
    refused(b, "circle", "rm", "team", a.device, says="only an admin")
    refused(b, "circle", "role", "team", b.device, "admin",
            says="only an admin")
    refused(a, "circle", "rm", "team", stranger.device, says="not a member")
    refused(a, "circle", "rm", "team", a.device, says="last admin")
    refused(a, "circle", "add", "team", d.device, "--role", "relay",
            "--no-history", says="a relay holds no key")
    refused(a, "circle", "add", "team", b.device, says="already a member")
    refused(a, "circle", "add", "nope", d.device, says="no shared circle")
    refused(a, "circle", "quarantine", "nope", says="no shared circle")
    refused(a, "circle", "accept", "team", b.device,
            says="nothing of it is held back")
    refused(a, "circle", "accept", "team", stranger.device, says="not in")
    refused(a, "device", "revoke", a.device, says="cannot revoke itself")
    refused(a, "device", "revoke", stranger.device,
            says="no circle this device administers")
    assert a.state() == before

    add(a, d)
    r = a.samen("device", "revoke", d.device, "--reason", "lost on the bus",
                json=True).json
    assert r == {"device": d.device, "circles": 1}
    assert members(a)[d.device] == ("member", "revoked")
    refused(a, "circle", "add", "team", d.device, says="never added again")
    refused(a, "device", "revoke", d.device,
            says="no circle this device administers")
    # The reason is sealed: the members chain's bytes do not show it.
    assert on_disk(a, "lost on the bus") == []

    for args in (
        ("circle", "add", "team", d.device, "--role", "owner"),
        ("circle", "add", "team", "not-a-device"),
        ("circle", "add", "team name", d.device),
        ("circle", "add", "team"),
        ("circle", "role", "team", d.device),
        ("circle", "role", "team", d.device, "king"),
        ("circle", "rm", "team"),
        ("circle", "accept", "team", d.device, "0"),
        ("circle", "accept", "team", d.device, "seven"),
        ("circle", "accept", "team", d.device, "9223372036854775808"),
        ("circle", "quarantine"),
        ("circle", "rm", "team", d.device, "--role", "admin"),
        ("device", "revoke"),
        ("device", "revoke", d.device, "--reason", "x" * 1025),
        ("device", "revoke", d.device, "--no-history"),
        ("device",),
    ):
        refused(a, *args, rc=USAGE)
    assert "never added again" in refused(a, "circle", "add", "team",
                                          d.device)
    synced(b, a)


def test_circle_ls_shows_roles_states_and_epochs(cluster):
    a, b = (cluster.sync_node(k) for k in "ab")
    a.circle_new("team")
    add(a, b)
    c = circle(a)
    assert c["kind"] == "shared" and c["role"] == "admin"
    assert c["state"] == "current" and c["epoch"] == 1
    assert c["epochs"] == 1 and c["quarantined"] == 0 and c["writable"]
    assert c["ops"] == {"valid": 2, "waiting": 0, "malformed": 0,
                        "unauthorized": 0, "filtered": 0}
    by_dev = {m["device"]: m for m in c["members"]}
    assert by_dev[b.device] == {"device": b.device, "role": "member",
                                "state": "current", "added_by": a.device,
                                "cut": None}
    p = circle(a, "private")
    assert p["kind"] == "private" and p["epoch"] == 1
    assert p["members"] == [] and p["ops"] is None
    a.samen("circle", "rm", "team", b.device)
    c = circle(a)
    assert c["epochs"] == 2 and c["epoch"] & 0x80000000
    m = {m["device"]: m for m in c["members"]}[b.device]
    assert m["state"] == "removed" and m["cut"] == 0
    out = a.samen("circle", "ls").out
    assert f"team  shared  epoch {c['epoch']:08x} (of 2)  admin\n" in out, \
        out
    assert (f"  {b.device[:12]}  member  removed  added by "
            f"{a.device[:12]}  cut at seq 0\n") in out, out


def test_a_circle_whose_members_cannot_be_resolved_says_so(cluster,
                                                          monkeypatch):
    """Past the ops of a members chain a device resolves (ROSTER_MAX_OPS,
    4,096; 6 here, by SAMEND_TEST_ROSTER_MAX_OPS), the circle has no
    roster and syncs with nobody (docs/sync.md, "A limit, not defended
    yet").  It does not vanish from circle ls: it shows, by its id, with
    why; the log says it; what needs the roster is refused, one line."""
    monkeypatch.setenv("SAMEND_TEST_ROSTER_MAX_OPS", "6")
    a = cluster.sync_node("a")
    a.circle_new("team")
    a.circle_use("team")
    rid = a.put("case", "name=Familie Jansen")
    # Retention ops, one each, up to the bound (no more than 10 tries).
    for days in range(31, 41):
        if circle(a)["ops"]["valid"] >= 6:
            break
        a.samen("circle", "retention", "team", "note", f"{days}d")
    assert circle(a)["ops"]["valid"] == 6
    assert circle(a)["unresolved"] is None
    # The seventh op: written, and the roster is given up.
    a.samen("circle", "retention", "team", "note", f"{days + 1}d")
    shared = [c for c in a.samen("circle", "ls", json=True).json
              if c["kind"] == "shared"]
    assert len(shared) == 1, shared
    c = shared[0]
    assert c["unresolved"] == "too many membership ops", c
    assert c["name"] == c["circle"][:8] and c["role"] is None, c
    assert not c["writable"] and c["members"] == [] and c["ops"] is None
    # Still the default: put refuses it rather than write elsewhere.
    assert c["default"] and not circle(a, "private")["default"], c
    out = a.samen("circle", "ls").out
    assert (f"\n{c['name']}  shared  (default)\n  members unknown here: "
            "too many membership ops; syncs with nobody\n") in out, out
    assert "could not resolve its members" in a.log_text()
    refused(a, "circle", "retention", c["name"], "note", "7d",
            says="member list")
    # Written to it, by name or as the default circle, nothing goes
    # anywhere (not to the private circle instead either).
    records = a.status()["records"]
    for args in (("put", "case", "name=X", "--circle", c["name"]),
                 ("put", "case", "name=X"),
                 ("circle", "use", c["name"])):
        refused(a, *args, says=f"circle '{c['name']}' cannot be written "
                "to: its members cannot be resolved on this device")
    assert a.status()["records"] == records
    # Its reads cannot be audited: refused too (fail-closed).
    refused(a, "get", "case", rid, says="cannot be audited")


def test_an_unresolvable_circle_is_listed_only_where_its_keys_are(
        cluster, monkeypatch):
    """The ops that freeze a circle reach a member and a relay whose bound
    is lower (8, by SAMEND_TEST_ROSTER_MAX_OPS) than the admin's (4,096).
    The member, which holds the circle's keys, lists it as unresolved; the
    relay, which holds none, lists nothing (a chain a device never had a
    key of does not put itself in its list).  Both log why."""
    a = cluster.sync_node("a")
    monkeypatch.setenv("SAMEND_TEST_ROSTER_MAX_OPS", "8")
    b, r = (cluster.sync_node(k) for k in "br")
    a.circle_new("team")
    add(a, b)
    add(a, r, "--role", "relay")
    link(b, a)
    join(b, a)
    link(r, a)
    join(r, a, name=None)
    for days in range(31, 51):
        if circle(a)["ops"]["valid"] > 8:
            break
        a.samen("circle", "retention", "team", "note", f"{days}d")
    # Nine ops and more: the admin resolves them (its bound is 4,096).
    assert circle(a)["ops"]["valid"] > 8 and circle(a)["unresolved"] is None
    for m in (b, r):
        m.sync(a, rc=None)
        wait_until(lambda: "could not resolve its members" in m.log_text(),
                   30, f"{m.name}: the roster given up")
    shared = [c for c in b.samen("circle", "ls", json=True).json
              if c["kind"] == "shared"]
    assert [c["unresolved"] for c in shared] == ["too many membership ops"]
    assert [c["kind"] for c in
            r.samen("circle", "ls", json=True).json] == ["private"]
