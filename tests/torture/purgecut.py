"""Power cuts during erasure: `samen purge` on cutfs (docs/reliability.md).

An erase is two transactions and a truncate of the WAL (docs/design.md,
"Erasure"): the purge op, committed and synced before samen is answered;
the erase, after it; then the WAL checkpointed into samen.db, cut to
nothing and written ahead again.  A power cut may land anywhere in that,
or in the checkpoints and syncs of the writes beside it.  Whatever it
lost, once samen was told the purge is done, the next start must erase
the records again if need be, and leave no byte of them in any file of
the data directory, the WAL included; the puts acknowledged beside it
must all be there; and samend must start."""

import sqlite3
import threading
import time

import msgpack

from faults import (BUILD, OK, Ledger, crash_state_integrity, integrity,
                    join_writers, kill9, node_on_cutfs, poll, run_writers,
                    sanitizer_in, seeded, shown, start_with)

SAMEN = BUILD / "samen"
WINDOW = 16     # bytes of a chunk's ciphertext searched for at a time


def chunks_of(node):
    """{(csn, index): ciphertext, or None if purged} of every chunk of
    every change set of records in node's database (a consistent copy,
    taken through SQLite's backup while samend runs).  Audit change sets
    (cs.readable = 2) are left out: a purge never touches them, and they
    are shipped from the read audit's journal when samend decides, not
    when the reads were (docs/design.md, "Read audit")."""
    path = node.cluster.root / f"{node.name}-copy.db"
    path.unlink(missing_ok=True)
    src = sqlite3.connect(node.dir / "samen.db")
    dst = sqlite3.connect(path)
    try:
        src.backup(dst)
        rows = dst.execute("SELECT csn, payload FROM cs "
                           "WHERE readable <> 2").fetchall()
    finally:
        src.close()
        dst.close()
    path.unlink()
    out = {}
    for csn, payload in rows:
        for i, ch in enumerate(msgpack.unpackb(payload)):
            out[(csn, i)] = ch[2] if len(ch) == 3 else None
    return out


def needles(texts, cts, every=True):
    """The byte strings that must be nowhere: the canaries, and each
    ciphertext's WINDOW-byte windows (or only its first)."""
    out = [t.encode() for t in texts]
    for ct in cts:
        out += [ct[i:i + WINDOW] for i in
                range(0, len(ct) - WINDOW + 1, WINDOW)][:None if every
                                                        else 1]
    return out


def found(node, wanted):
    """Where in node's data directory (every file, the WAL included) or
    its daemon's log one of wanted is."""
    hits = []
    for p in [p for p in node.dir.rglob("*") if p.is_file()] + [node.log]:
        try:
            data = p.read_bytes()
        except OSError:
            continue    # the control socket
        hits += [f"{p.name}: {n[:24]!r}" for n in wanted if n in data]
    return hits


class Canary:
    """A case with notes that link to it, written for one round's purge:
    the texts typed and the ciphertext of every chunk they were sealed
    in."""

    def __init__(self, node, tag, notes):
        self.texts = [f"PURGECUT-CASE-{tag}"]
        before = chunks_of(node)
        self.case = node.put("case", f"name={self.texts[0]}")
        self.notes = []
        for k in range(notes):
            text = f"PURGECUT-NOTE-{tag}-{k}"
            self.texts.append(text)
            self.notes.append(node.samen("note", self.case, text,
                                         json=True).json["id"])
        after = chunks_of(node)
        self.cts = [ct for k, ct in after.items()
                    if k not in before and ct is not None]
        assert len(self.cts) == notes + 1, len(self.cts)
        self.acked = False      # samen purge said it is done
        self.state = None       # "purged" or "kept", once seen

    def records(self):
        return [("case", self.case)] + [("note", n) for n in self.notes]


def settle(node, c, op, every=True, timeout=30):
    """What a restart made of canary c's purge, whose op the roster holds
    (op) or not: with it, every record purged (polled: the erase runs on
    the loop after the start) and then no byte of them on disk (polled
    too: the WAL's truncate comes after the erase); without it, every
    record there, and samen must not have been told the purge was done."""
    def states():
        got = set()
        for coll, rid in c.records():
            r = node.samen("get", coll, rid, json=True, rc=None)
            got.add("kept" if r.rc == OK else
                    "purged" if "was purged" in r.err else r.err.strip())
        return got

    if op:
        poll(lambda: states() == {"purged"}, timeout,
             f"{c.case}: every record purged")
        state = "purged"
    else:
        got = states()
        assert got == {"kept"}, f"{c.case}: no purge op, records {got}"
        assert not c.acked, f"{c.case}: purge acknowledged, op lost"
        state = "kept"
    assert c.state in (None, state), f"{c.case}: was {c.state}, now {state}"
    c.state = state
    if state == "purged":
        # Polled on a window of each chunk, then every window once: a
        # search is a read of every file for every needle.
        quick = needles(c.texts, c.cts, every=False)
        try:
            poll(lambda: not found(node, quick), timeout,
                 f"{c.case}: nothing of the purged records on disk")
        except AssertionError:
            raise AssertionError(f"{c.case}: still on disk: "
                                 f"{found(node, quick)[:8]}") from None
        hits = found(node, needles(c.texts, c.cts)) if every else []
        assert not hits, f"{c.case}: still on disk: {hits[:8]}"
    return state


def purgecut(cluster, rounds, seed=None, notes=8, writers=2, log=print):
    """Power cuts during and after `samen purge --cascade`.

    Node a's data directory is cutfs over a.disk; a is the admin of the
    circle its puts go to.  Each round mounts cutfs and starts a (syncs
    held back 0-50 ms; in two rounds of three each change set the erase
    rewrites held back 10 or 30 ms, SAMEND_TEST_ERASE_DELAY_MS, so that
    cuts land inside it) and checks: every put acknowledged so far is there;
    each earlier round's purge left its records all purged or all there
    (purged if acknowledged) and, purged, no byte of them on disk.  Then
    a writes a canary case with `notes` notes, `writers` clients put
    other cases, `samen purge --cascade` runs, and the power is cut:
    while the request runs, a random moment after its reply, or the next
    moment after it that a write is not synced.  samend is killed (a
    third of the time after running on against the dead disk), cutfs
    unmounted, the crash state checked with integrity_check.  A last
    start checks everything again and stops a cleanly."""
    rng, seed = seeded(seed)
    log(f"purgecut: seed {seed}, {rounds} rounds")
    root = cluster.root
    a, fs = node_on_cutfs(cluster, "a")
    ledger = Ledger()
    canaries = []
    figures = {"rounds": 0, "phases": {}, "modes": {}, "acked_purges": 0,
               "purged": 0, "kept": 0}

    def check(rnd, env):
        st = a.status()
        problems = ledger.check(shown(a), "a")
        problems += [f"a: {k} = {st[k]}" for k in
                     ("bad", "flagged", "pending") if st[k]]
        assert not problems, f"round {rnd} ({env}): " + "; ".join(problems)
        # One op a round at most, and only the last round's is not known
        # yet: the ops beyond the purges seen are its.
        ops = a.circles()["team"]["purges"]
        known = sum(c.state == "purged" for c in canaries)
        assert ops - known in (0, 1) and (ops == known or
                                          canaries[-1].state is None), \
            f"round {rnd}: {ops} purge ops, {known} purges seen"
        for c in canaries:
            # Each purge's every window once, then its first ones.
            settle(a, c, c.state == "purged" or (c.state is None and
                                                 ops > known),
                   every=c.state is None)

    try:
        fs.mount()
        a.init()
        a.configure(wal_autocheckpoint=100)
        a.start()
        a.circle_new("team")
        a.circle_use("team")
        # The set-up on disk before the first cut, as an admin's config
        # file would be: unsynced, the first cut would take it away.
        fs.command("sync\n")
        for rnd in range(rounds):
            delay = rng.choice((0, 2, 5, 20, 50))
            erase = rng.choice((0, 10, 30))
            env = {}
            if delay:
                env["SAMEND_TEST_SYNC_DELAY_MS"] = str(delay)
            if erase:
                env["SAMEND_TEST_ERASE_DELAY_MS"] = str(erase)
            if a.running():
                kill9(a)        # started without the knobs: once
                fs.cut("all", 1)
                fs.unmount()
            fs.mount()
            start_with(a, env)
            check(rnd, env)
            c = Canary(a, f"{seed}-{rnd}", notes)
            canaries.append(c)
            stop = threading.Event()
            ws = run_writers(a, ledger, writers, stop, seed=seed + rnd)
            p = cluster.spawn([str(SAMEN), "-d", str(a.dir), "purge", "case",
                               c.case, "--cascade", "--reason",
                               "power cut test"], root / "purge.log")
            phase = rng.choice(("request", "request", "after", "after",
                                "aimed"))
            if phase == "request":
                window = 0.3 + (notes + 1) * erase / 1000
                time.sleep(rng.uniform(0, window))
            else:
                poll(lambda: p.poll() is not None, 60, "samen purge")
                if phase == "after":
                    time.sleep(rng.uniform(0, 1.0))
                else:
                    fs.wait_unsynced(2)
            mode, account, linger = fs.random_cut(rng, 1.0)
            kill9(a)
            rep = sanitizer_in(a.log)
            assert rep is None, f"round {rnd}: sanitizer report:\n{rep}"
            stop.set()
            join_writers(ws)
            c.acked = p.wait(30) == OK
            fs.unmount()
            problems = crash_state_integrity(fs.backing, root / "scratch")
            assert not problems, f"round {rnd}: crash state: {problems}"
            figures["rounds"] += 1
            figures["phases"][phase] = figures["phases"].get(phase, 0) + 1
            figures["modes"][mode] = figures["modes"].get(mode, 0) + 1
            figures["acked_purges"] += c.acked
            log(f"round {rnd}: cut {phase}{' lingering' if linger else ''}"
                f" (syncs +{delay} ms, erase +{erase} ms/cs), "
                f"{account.strip()}; purge "
                f"{'acknowledged' if c.acked else 'not acknowledged'}; "
                f"{ledger.puts} puts acknowledged, {ledger.failed} not")
        # The last start: every purge settled, every put there.
        fs.mount()
        start_with(a)
        check(rounds, {})
        a.stop()
        fs.unmount()
        problems = integrity(fs.backing / "samen.db")
        assert not problems, "; ".join(problems)
    finally:
        kill9(a)
        if fs.mounted() or fs.proc is not None:
            fs.unmount()
    figures["purged"] = sum(c.state == "purged" for c in canaries)
    figures["kept"] = sum(c.state == "kept" for c in canaries)
    figures.update(acked=ledger.puts, records=len(ledger.acked),
                   failed=ledger.failed, errors=dict(ledger.errors),
                   lost=0, seed=seed)
    return figures
