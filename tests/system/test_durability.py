"""What samen said it wrote is there: kill -9 in the middle of writes, a
failed sync of samen.db in a checkpoint, and a replica rebuilt from its
change sets."""

import os
import random
import threading
import time

from conftest import DOWN, FAIL, OK, RID_RE, wait_until

from test_durable import restart_with

WRITERS = 3          # concurrent put loops, so that writes share commits
PUTS = 150           # per writer at most; the kill comes long before


def test_kill9_loses_no_acknowledged_write(node):
    seed = int(os.environ.get("SAMEN_TEST_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    kill_after = rng.randrange(60, 300)
    print(f"seed {seed}: kill -9 after {kill_after} acknowledged puts")

    base = node.put("case", "name=Familie Jansen", "teller=0")
    acked = []            # (id, value) of every put that exited 0
    updates = []          # values of acknowledged updates of base, in order
    failures = []         # exit codes after the kill
    lock = threading.Lock()
    stop = threading.Event()

    errors = []

    def writer(w):
        try:
            write(w)
        except BaseException as e:    # pytest.fail raises a BaseException
            errors.append(e)
            stop.set()

    def write(w):
        for i in range(PUTS):
            if stop.is_set():
                return
            value = f"w{w}-{i}"
            if w == 0 and i % 5 == 4:
                # Updates of one record too: the last acknowledged wins.
                r = node.samen("put", "case", base, f"teller={value}",
                               rc=None)
            else:
                r = node.samen("put", "task", f"what={value}",
                               f"tags+=t{w}", rc=None)
            if r.rc == OK:
                rid = r.out.strip()
                assert RID_RE.match(rid), r
                with lock:
                    if rid == base:
                        updates.append(value)
                    else:
                        acked.append((rid, value))
            else:
                # After the kill: not running (3), or the reply was lost
                # with the daemon (1 or 3).  Never a usage error.
                assert r.rc in (DOWN, FAIL), r
                with lock:
                    failures.append(r.rc)
                    if len(failures) >= 3 * WRITERS:
                        stop.set()

    threads = [threading.Thread(target=writer, args=(w,))
               for w in range(WRITERS)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) + len(updates) >= kill_after or
                   not any(t.is_alive() for t in threads), 120,
                   f"{kill_after} acknowledged puts")
        node.kill9()
    finally:
        for t in threads:
            t.join(120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    with lock:
        acked_now, updates_now = list(acked), list(updates)
    assert len(acked_now) + len(updates_now) >= kill_after, \
        "the writers stopped before the kill"
    print(f"{len(acked_now)} creates and {len(updates_now)} updates "
          f"acknowledged; {len(failures)} puts failed after the kill")

    node.start()
    tasks = {r["id"]: r for r in node.samen("ls", "task", json=True).json}
    missing = [(rid, v) for rid, v in acked_now if rid not in tasks]
    assert not missing, f"acknowledged but lost: {missing[:10]}"
    wrong = [(rid, v, tasks[rid]["fields"]) for rid, v in acked_now
             if tasks[rid]["fields"] != {"what": v}]
    assert not wrong, wrong[:10]
    # At most the puts in flight at the kill may be there unacknowledged.
    assert len(tasks) - len(acked_now) <= WRITERS
    # get, one by one, for a sample and for the last ones acknowledged.
    sample = acked_now[-5:] + rng.sample(acked_now, min(10, len(acked_now)))
    for rid, v in sample:
        rec = node.get("task", rid)
        assert rec["fields"] == {"what": v}
        assert len(rec["sets"]["tags"]) == 1
    if updates_now:
        teller = node.get("case", base)["fields"]["teller"]
        # The last acknowledged update, or one in flight after it.
        assert teller in updates_now[-1:] or \
            int(teller.split("-")[1]) > int(updates_now[-1].split("-")[1]), \
            (teller, updates_now[-3:])
    # The device goes on writing where its chain left off.
    rid = node.put("task", "what=na de crash")
    assert node.get("task", rid)["fields"] == {"what": "na de crash"}
    s = node.status()
    assert s["bad"] == 0 and s["flagged"] == 0 and s["pending"] == 0


def test_a_failed_checkpoint_sync_stops_samend_with_its_wal_whole(cluster):
    """If the disk fails to sync samen.db in a checkpoint, what was copied
    may be lost while the WAL still holds it, and a later sync could
    succeed all the same.  So samend stops at once, as after a crash: no
    close, no checkpoint, its WAL left whole (a clean stop deletes it).
    The next start recovers every acknowledged write from the WAL.
    SAMEND_TEST_CKPT_SYNC_FAIL tells samend the sync failed once a
    checkpoint has copied; test_store_db fails the sync itself."""
    n = cluster.node("a")
    n.init()
    # The first checkpoint starts at 1,000 / 8 pages: after a dozen puts.
    n.configure(wal_autocheckpoint=1000)
    # A first start writes the device's private circle, and a second after
    # that commit the idle checkpoint would stop samend before any put: so
    # once without the knob.  The next start commits nothing.
    n.start()
    restart_with(n, {"SAMEND_TEST_CKPT_SYNC_FAIL": "1"}, listen=False)
    acked = []
    for i in range(2000):
        r = n.samen("put", "note", f"text={i} " + "z" * 2000, json=True,
                    rc=None)
        if r.rc != OK:
            assert r.rc in (DOWN, FAIL), r
            break
        acked.append((r.json["id"], i))
    wait_until(lambda: not n.running(), 30, "samend to stop")
    assert n.proc.returncode == 1, n.log_text()
    assert "failed to sync it; stopping with its WAL whole" in n.log_text()
    wal = n.dir / "samen.db-wal"
    assert wal.exists() and wal.stat().st_size > 32
    # About a dozen; fewer if a put came over a second after the one
    # before it (the idle checkpoint), never none.
    assert acked, n.log_text()
    print(f"{len(acked)} puts acknowledged before samend stopped")
    n.pid = None

    n.start()
    notes = {r["id"]: r["fields"]["text"]
             for r in n.samen("ls", "note", json=True).json}
    for rid, i in acked:
        assert notes.get(rid, "").split(" ")[0] == str(i), rid
    # At most the put in flight at the stop is there unacknowledged.
    assert len(notes) - len(acked) <= 1
    rid = n.put("note", "text=after the stop")
    assert n.get("note", rid)["fields"] == {"text": "after the stop"}
    # Without the knob, checkpoints run as ever and samend keeps running.
    for i in range(40):
        n.put("note", f"text=again {i} " + "z" * 2000)
    assert n.running()


def test_rebuild_gives_the_same_replica(node):
    a = node.put("case", "name=Familie Jansen", "status=open",
                 "tags+=schulden", "tags+=huisvesting")
    node.samen("put", "case", a, "status=in behandeling", "tags-=schulden")
    node.samen("note", a, "Huisbezoek: post ligt ongeopend op tafel.")
    b = node.put("case", "name=Familie Bakker", "status=open")
    node.samen("rm", "case", b)
    c = node.put("contact", "name=Wijkcentrum", "phone=020-1234567")
    node.samen("put", "contact", c, "phone=020-7654321")
    n2 = node.samen("note", a, "Budgetcoach gebeld.", json=True).json["id"]
    node.samen("rm", "note", n2)

    def snapshot():
        return {
            "status": {k: v for k, v in node.status().items()
                       if k in ("replica_digest", "records", "changesets",
                                "pending", "bad", "flagged")},
            "get": [node.samen("get", "case", a, json=True).out,
                    node.samen("get", "contact", c, json=True).out,
                    node.samen("get", "case", a).out],
            "ls": [node.samen("ls", coll, json=True).out
                   for coll in ("case", "note", "contact")],
            "find": node.samen("find", "e", json=True).out,
            "log": [node.samen("log", "case", a, json=True).out,
                    node.samen("log", "case", b, json=True).out],
            "conflicts": node.samen("conflicts", json=True).out,
        }

    before = snapshot()
    digest = before["status"]["replica_digest"]
    r = node.samen("rebuild", json=True).json
    assert r["replica_digest"] == digest
    assert r["changesets"] == before["status"]["changesets"]
    assert snapshot() == before
    # Human form: the digest.
    assert node.samen("rebuild").out.strip() == digest
    # And across a restart.
    node.restart()
    assert snapshot() == before
    assert node.samen("rebuild", json=True).json["replica_digest"] == digest
    # Writing after a rebuild works and changes the digest.
    node.samen("put", "case", a, "status=gesloten")
    assert node.status()["replica_digest"] != digest
