"""samen handover FROM TO: every live case FROM leads gets lead TO, as
ordinary signed writes of the device that runs it; the history keeps who
wrote what before (docs/cli.md, "handover")."""

import msgpack
import pytest
import zmq

from conftest import FAIL, OK, SAMEN_EBASE, USAGE

HANDOVER = 22
SAMEN_EINVAL = SAMEN_EBASE + 18

# Every daemon's store holds what it showed, after each test.
pytestmark = pytest.mark.usefixtures("stores_checked")


def lead(node, rid):
    return node.get("case", rid)["fields"].get("lead")


def lead_conflict(node, rid):
    """The values of a conflict on lead, or None."""
    for c in node.get("case", rid)["conflicts"]:
        if c["field"] == "lead":
            return sorted(v["value"] for v in c["values"])
    return None


def test_handover(cluster):
    """A hands its cases over to C: exactly the live cases A leads move,
    in the circles A writes to; a case whose lead is in conflict is left;
    an edit B made meanwhile becomes a conflict, not a loss; samen log
    still names every earlier author."""
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    c = cluster.sync_node("c")
    cluster.team(a, [b, c])
    ida, idb, idc = a.device, b.device, c.device

    # A's cases; the id in capitals still names A.
    mine = a.put("case", "name=Familie Jansen", f"lead={ida.upper()}")
    edited = a.put("case", "name=Familie de Vries", f"lead={ida}")
    theirs = a.put("case", "name=Familie Bakker", f"lead={idb}")
    gone = a.put("case", "name=Familie Smit", f"lead={ida}")
    a.samen("rm", "case", gone)
    raced = a.put("case", "name=Familie Visser", f"lead={ida}")
    torn = a.put("case", "name=Familie Mulder", "lead=nobody")
    private = a.put("--circle", "private", "case", "name=Notitie",
                    f"lead={ida}")
    not_case = a.put("task", "name=bellen", f"lead={ida}")
    assert b.sync(a).json[0]["session"]["state"] == "done"

    # B writes on A's cases: a note, an edit; a lead conflict on torn
    # (A and B set it concurrently); and, unseen by A, a new lead for
    # raced.
    note = b.samen("note", mine, "gebeld, geen gehoor", json=True).json["id"]
    b.put("case", edited, "status=closed")
    b.put("case", torn, f"lead={idb}")
    a.put("case", torn, f"lead={ida}")
    assert b.sync(a).json[0]["session"]["state"] == "done"
    assert lead_conflict(a, torn) == sorted([ida, idb])
    b.put("case", raced, f"lead={idb}")

    # The team's cases, on A.
    r = a.samen("handover", ida, idc, "--circle", "team", json=True).json
    assert r["from"] == ida and r["to"] == idc
    assert sorted(r["moved"]) == sorted([mine, edited, raced])
    assert r["conflicts"] == [torn]
    assert lead(a, private) == ida
    # Then the rest (the private circle); then nothing: not an error.
    r = a.samen("handover", ida, idc)
    assert r.out.startswith(f"1 case moved from {ida[:12]} to {idc[:12]}\n")
    assert torn in r.out and "conflict" in r.out
    assert lead(a, private) == idc
    r = a.samen("handover", ida, idc, "--circle", "team")
    assert r.out.startswith("0 cases moved"), r

    # What B sees after sync.
    assert b.sync(a).json[0]["session"]["state"] == "done"
    assert lead(b, mine) == idc
    assert lead(b, edited) == idc
    assert b.get("case", edited)["fields"]["status"] == "closed"
    assert lead(b, theirs) == idb
    assert lead_conflict(b, torn) == sorted([ida, idb])
    # B's concurrent edit is not lost: a conflict with A's handover.
    assert lead_conflict(b, raced) == sorted([idb, idc])
    b.samen("get", "case", gone, rc=FAIL)
    assert b.samen("log", "case", gone, json=True).json[-1]["op"] == "delete"
    assert all(e["field"] != "lead" or e["value"] == ida
               for e in b.samen("log", "case", gone, json=True).json)
    assert a.get("task", not_case)["fields"]["lead"] == ida
    notes = b.get("case", mine)["notes"]
    assert [n["id"] for n in notes] == [note]

    # The history: the earlier entries keep their authors; the lead
    # change is A's.
    log = b.samen("log", "case", edited, json=True).json
    leads = [e for e in log if e["field"] == "lead"]
    assert [(e["author"], e["value"]) for e in leads] == \
        [(ida, ida), (ida, idc)]
    status = [e for e in log if e["field"] == "status"]
    assert [e["author"] for e in status] == [idb]
    assert leads[-1]["replaced"] == 1
    log = b.samen("log", "case", mine, json=True).json
    assert log[0]["author"] == ida and log[0]["op"] == "create"
    assert log[-1]["author"] == ida and log[-1]["value"] == idc
    # C, the new lead, sees it too; all three hold the same team.
    assert c.sync(a).json[0]["session"]["state"] == "done"
    assert lead(c, mine) == idc
    assert b.sync(a).json[0]["session"]["state"] == "done"
    assert a.status()["shared_digest"] == b.status()["shared_digest"] == \
        c.status()["shared_digest"]


def test_handover_refusals(cluster):
    """Usage errors never reach the daemon (exit 2); an unknown circle, or
    a new lead who could not read the cases, is refused (exit 1) and
    nothing is written."""
    a = cluster.sync_node("a")
    c = cluster.sync_node("c")
    d = cluster.node("d")
    d.init()
    cluster.team(a, [c])
    ida, idc, idd = a.device, c.device, d.device
    rid = a.put("case", "name=Familie Jansen", f"lead={ida}")
    state = a.state()

    a.samen("handover", ida, ida, rc=USAGE).expect_error(USAGE)
    a.samen("handover", ida, ida.upper(), rc=USAGE).expect_error(USAGE)
    line = a.samen("handover", ida, idc[:-1] + ("a" if idc[-1] != "a"
                   else "b"), rc=USAGE).expect_error(USAGE)
    assert "checksum" in line or "device" in line
    a.samen("handover", "nobody", idc, rc=USAGE).expect_error(USAGE)
    a.samen("handover", ida, rc=USAGE).expect_error(USAGE)
    a.samen("handover", ida, idc, "--circle", "no such",
            rc=USAGE).expect_error(USAGE)
    line = a.samen("handover", ida, idc, "--circle", "elsewhere",
                   rc=FAIL).expect_error(FAIL)
    assert "elsewhere" in line
    # d is not in the team: it could not read what it would lead.
    line = a.samen("handover", ida, idd, rc=FAIL).expect_error(FAIL)
    assert "not a member" in line and "team" in line
    assert a.state() == state
    assert lead(a, rid) == ida
    # The daemon checks the same, whoever asks.
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(f"ipc://{a.dir}/ctl.sock")
        sock.send_multipart([b"", msgpack.packb(
            [1, HANDOVER, [ida, ida.upper(), None]])])
        assert sock.poll(60000)
        code, msg, _ = msgpack.unpackb(sock.recv_multipart()[1], raw=False)
    finally:
        sock.close()
    assert code == SAMEN_EINVAL and "different devices" in msg, msg
    assert a.state() == state
    assert a.samen("handover", ida, idc).rc == OK
    assert lead(a, rid) == idc
    assert c.sync(a).json[0]["session"]["state"] == "done"
    assert lead(c, rid) == idc
