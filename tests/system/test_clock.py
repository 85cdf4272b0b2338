"""A device whose clock is wrong (issue 28): a laptop two days ahead writes
a case; its peer stores the change set and holds it back until its own clock
catches up, and says so; once the laptop's clock is right, what it writes
reaches the peer at once; a far-future clock never takes over what is shown
(docs/sync.md, "A clock ahead").  SAMEND_TEST_CLOCK_OFFSET_MS moves a
daemon's wall clock."""

import time

import pytest

from conftest import FAIL, OK, wait_until

pytestmark = pytest.mark.usefixtures("stores_checked")

DAY_MS = 86400000
OFFSET = "SAMEND_TEST_CLOCK_OFFSET_MS"


def clock(ms):
    return {OFFSET: str(ms)}


def restart(node, peer, offset_ms=None):
    """Restarts node's samend (with its clock moved by offset_ms), and
    waits for the session it starts with peer on connect to end, so that
    a write after it travels in the next samen sync."""
    node.stop()
    node.start("--listen", node.addr,
               env=clock(offset_ms) if offset_ms is not None else None)
    node.wait_session(peer)


def year_of(stamp):
    return time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").tm_year


def test_a_laptop_two_days_ahead(cluster):
    hub = cluster.sync_node("hub")
    laptop = cluster.sync_node("laptop")
    cluster.team(hub, [laptop])

    # The laptop's clock runs two days ahead: what it writes is held back
    # by the hub, which says so, and sync --wait says so and fails.
    restart(laptop, hub, 2 * DAY_MS)
    case = laptop.put("case", "name=Familie Jansen", "status=first")
    r = laptop.sync(hub, json=False, rc=FAIL)
    assert r.out.splitlines()[-1] == (
        f"held back by {hub.short}: 1 change set, clock 2d 0h ahead of "
        "the peer"), r
    s = laptop.sync(hub, rc=OK)
    assert s.json[0]["session"]["held"] == 0, s   # told once, stored
    held = laptop.peer(hub)["held_by_peer"]
    assert held["count"] == 1 and \
        abs(held["ahead_ms"] - 2 * DAY_MS) < 60000, held
    assert laptop.status()["held_by_peers"] == 1
    said = [line.split() for line in laptop.samen("status").out.splitlines()
            if line.startswith("held back by peers:")]
    assert said == [["held", "back", "by", "peers:", "1", "(clock", "2d",
                     "0h", "ahead", "of", "theirs)"]], said
    assert f"held back by {hub.short}: 1 change set" in \
        laptop.samen("peer", "ls").out

    st = hub.status()
    assert st["held"] == 1 and st["pending"] == 0, st
    assert hub.peer(laptop)["held_from_peer"] == 1
    hub.samen("get", "case", case, rc=FAIL)
    assert any("clock skew" in line and "held back" in line
               for line in hub.log_text().splitlines())

    # The clock is set right: new writes take the real time (said once in
    # its log) and reach the hub at once, the held one notwithstanding.
    restart(laptop, hub)
    later = laptop.put("case", "name=Pietersen")
    laptop.put("case", case, "status=second")
    assert year_of(laptop.get("case", later)["created"]) == \
        time.gmtime().tm_year
    r = laptop.sync(hub, rc=OK)
    s = r.json[0]["session"]
    # Two writes (and the read audit of the get).
    assert s["state"] == "done" and s["held"] == 0 and s["sent"] >= 2, r
    assert hub.get("case", later)["fields"] == {"name": "Pietersen"}
    assert hub.status()["held"] == 1
    said = [line for line in laptop.log_text().splitlines()
            if "clock was ahead by" in line]
    assert len(said) == 1 and "2d 0h" in said[0], said

    # The hub's clock reaches the held one's time: it is merged, and the
    # laptop's later write of the same field, which replaced it, stays.
    restart(hub, laptop, 2 * DAY_MS + 3600000)
    st = hub.status()
    assert st["held"] == 0 and st["pending"] == 0, st
    assert hub.get("case", case)["fields"] == {
        "name": "Familie Jansen", "status": "second"}
    laptop.sync(hub, rc=OK)
    assert laptop.status()["shared_digest"] == hub.status()["shared_digest"]
    assert laptop.get("case", case) == hub.get("case", case)


def test_a_far_future_clock_never_shows(cluster):
    hub = cluster.sync_node("hub")
    laptop = cluster.sync_node("laptop")
    cluster.team(hub, [laptop])
    shown = hub.put("case", "name=Jansen", "status=open")
    laptop.sync(hub, rc=OK)

    restart(laptop, hub, 10 * 365 * DAY_MS)
    laptop.put("case", shown, "status=from the future")
    laptop.sync(hub, json=False, rc=FAIL)
    # Ten years ahead: held, and never shown while it is in the future,
    # not after a restart either; the hub's own writes keep its time.
    for _ in range(2):
        assert hub.get("case", shown)["fields"]["status"] == "open"
        assert hub.status()["held"] == 1
        restart(hub, laptop)
    rid = hub.put("case", "name=after")
    assert year_of(hub.get("case", rid)["created"]) == time.gmtime().tm_year

    # The laptop's clock set right: its next write goes through and shows.
    restart(laptop, hub)
    laptop.put("case", shown, "status=fixed")
    laptop.sync(hub, rc=OK)
    assert hub.get("case", shown)["fields"]["status"] == "fixed"
    assert hub.status()["held"] == 1


def test_a_held_change_set_comes_due_while_running(cluster):
    """The hub, running, merges a held change set once its own clock gets
    there (the peer tick), and shows it: a laptop 8 s ahead of a hub that
    allows 1 s."""
    hub = cluster.sync_node("hub", max_clock_skew=1)
    laptop = cluster.sync_node("laptop")
    cluster.team(hub, [laptop])
    restart(laptop, hub, 8000)
    case = laptop.put("case", "name=Jansen")
    r = laptop.sync(hub, json=False, rc=FAIL)
    assert r.out.splitlines()[-1].startswith(
        f"held back by {hub.short}: 1 change set, clock "), r
    assert hub.status()["held"] == 1
    hub.samen("get", "case", case, rc=FAIL)
    wait_until(lambda: hub.samen("get", "case", case, rc=None).rc == OK, 30,
               "the held change set to come due on the hub")
    assert hub.get("case", case)["fields"] == {"name": "Jansen"}
    st = hub.status()
    assert st["held"] == 0 and st["pending"] == 0, st
    assert any("held change sets came due" in line
               for line in hub.log_text().splitlines())
