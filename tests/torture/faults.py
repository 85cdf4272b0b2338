"""Fault injection for samend: what the harnesses share (docs/reliability.md).

The scenarios take a Cluster of tests/system/conftest.py (real daemons in a
directory of their own, driven by the real samen) and the parameters that
tell a short run in `make test` from a long one in `make torture`.  They
return a dict of figures and fail with AssertionError, naming what was
lost.  Nothing here waits by a bare sleep except to pick a random moment
for a fault: conditions are polled with a deadline.
"""

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SAMEN_BUILD", REPO / "build" / "test"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
CUTFS = BUILD / "tests" / "torture" / "cutfs"

OK, FAIL, USAGE, DOWN, LOCKED = 0, 1, 2, 3, 4


def poll(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns something true; AssertionError after
    timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for "
                                 f"{what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)


def can_mount():
    """Why this machine cannot run the mount harnesses, or None."""
    if os.geteuid() != 0:
        return "needs root (mounts)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    return None


def integrity(db):
    """PRAGMA integrity_check and foreign_key_check of a database file:
    the list of problems (empty when sound)."""
    con = sqlite3.connect(f"file:{db}?mode=rw", uri=True)
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
        fks = con.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        con.close()
    problems = [] if rows == ["ok"] else [f"integrity_check: {r}"
                                          for r in rows]
    problems += [f"foreign key: {t} row {rid} has no {p}"
                 for t, rid, p, _ in fks]
    return problems


def crash_state_integrity(src, scratch):
    """integrity() of a copy of the database and WAL in directory src (as
    a crash left them: opening them recovers the WAL, which must not
    touch the originals)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    for name in ("samen.db", "samen.db-wal"):
        if (src / name).exists():
            shutil.copyfile(src / name, scratch / name)
    if not (scratch / "samen.db").exists():
        return []
    try:
        return integrity(scratch / "samen.db")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ---- what was acknowledged ---------------------------------------------------

class Ledger:
    """Every put a writer was told succeeded, and the values a record may
    also hold: writes sent and not acknowledged since its last
    acknowledged one (a power cut may or may not have kept them)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}       # rid -> value of the last acknowledged write
        self.maybe = {}       # rid -> values sent since, not acknowledged
        self.puts = 0         # acknowledged puts (creates and updates)
        self.failed = 0       # puts answered with an error or no answer
        self.errors = {}      # first line of stderr -> count

    def sent(self, rid, value):
        with self.lock:
            self.maybe.setdefault(rid, set()).add(value)

    def ack(self, rid, value):
        with self.lock:
            self.acked[rid] = value
            self.maybe[rid] = set()
            self.puts += 1

    def fail(self, err):
        line = err.strip().splitlines()[0] if err.strip() else "(silent)"
        with self.lock:
            self.failed += 1
            self.errors[line] = self.errors.get(line, 0) + 1

    def check(self, records, who="replica"):
        """Every acknowledged record in records (rid -> value shown) with
        its acknowledged value or one sent after it: the problems."""
        lost, wrong = [], []
        with self.lock:
            for rid, v in self.acked.items():
                if rid not in records:
                    lost.append(rid)
                elif records[rid] != v and records[rid] not in \
                        self.maybe.get(rid, ()):
                    wrong.append(f"{rid}: {records[rid]!r}, acknowledged "
                                 f"{v!r}")
        out = []
        if lost:
            out.append(f"{who}: {len(lost)} acknowledged records missing, "
                       f"e.g. {lost[:5]}")
        if wrong:
            out.append(f"{who}: {len(wrong)} records lost an acknowledged "
                       f"write, e.g. {wrong[:5]}")
        return out


class Writer(threading.Thread):
    """Puts in a loop through samen until stopped: new cases, and updates
    of the cases it created itself (one writer per record, so the value
    acknowledged last is the one that must be shown)."""

    def __init__(self, node, ledger, tag, stop, update_ratio=0.3, seed=0,
                 pause_on_down=0.05, timeout=20):
        super().__init__(daemon=True, name=f"writer-{tag}")
        self.node, self.ledger, self.tag, self.stop = node, ledger, tag, stop
        self.update_ratio = update_ratio
        self.rng = random.Random(seed)
        self.pause_on_down = pause_on_down
        self.timeout = timeout
        self.own = []
        self.n = 0
        self.error = None

    def put_once(self):
        self.n += 1
        value = f"{self.tag}-{self.n}"
        update = self.own and self.rng.random() < self.update_ratio
        env = {"SAMEN_TIMEOUT": str(self.timeout)}
        if update:
            rid = self.rng.choice(self.own)
            self.ledger.sent(rid, value)
            r = self.node.samen("put", "case", rid, f"v={value}", json=True,
                                rc=None, env=env, timeout=self.timeout + 10)
        else:
            rid = None
            r = self.node.samen("put", "case", f"v={value}",
                                f"w={self.tag}", json=True, rc=None,
                                env=env, timeout=self.timeout + 10)
        if r.rc == OK:
            if rid is None:
                rid = r.json["id"]
                self.own.append(rid)
            self.ledger.ack(rid, value)
        else:
            self.ledger.fail(r.err)
        return r.rc

    def run(self):
        try:
            while not self.stop.is_set():
                if self.put_once() != OK and self.pause_on_down:
                    self.stop.wait(self.pause_on_down)
        except BaseException as e:   # noqa: B902 -- reported by the caller
            self.error = e


def run_writers(node, ledger, n, stop, seed, **kw):
    ws = [Writer(node, ledger, f"w{seed}x{i}", stop, seed=seed * 100 + i,
                 **kw) for i in range(n)]
    for w in ws:
        w.start()
    return ws


def join_writers(ws, timeout=60):
    for w in ws:
        w.join(timeout)
        if w.is_alive():
            raise AssertionError(f"{w.name} did not stop")
        if w.error is not None:
            raise w.error


def shown(node, collection="case"):
    """rid -> shown value of field v, for every live record of collection."""
    return {r["id"]: r["fields"].get("v")
            for r in node.ls(collection)}


def shown_if_audited(node, why, collection="case"):
    """shown(node), or None: a read of a shared circle writes its audit
    event before it is answered (docs/design.md, "Read audit"), so on a
    disk that refuses writes it is refused, with exactly one line that
    says why."""
    r = node.samen("ls", collection, json=True, rc=None)
    if r.rc == OK:
        return {x["id"]: x["fields"].get("v") for x in r.json}
    assert r.rc == FAIL and _expect_one_line(
        r.err, f"samen: refused: the read could not be audited: {why}"), r
    return None


def is_mounted(path):
    """Whether something is mounted at path, from /proc/self/mounts (a
    dead FUSE mount fails os.path.ismount's stat)."""
    p = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt = line.split()[1].replace("\\040", " ")
            if mnt == p:
                return True
    return False


# ---- cutfs: the power cut ----------------------------------------------------

class CutFS:
    """cutfs (tests/torture/cutfs.c) over backing, mounted at mnt."""

    def __init__(self, cluster, backing, mnt, log):
        self.cluster, self.backing, self.mnt, self.log = \
            cluster, Path(backing), Path(mnt), Path(log)
        self.proc = None
        self.backing.mkdir(exist_ok=True)
        self.mnt.mkdir(exist_ok=True)

    def mounted(self):
        return is_mounted(self.mnt)

    def mount(self):
        assert not self.mounted(), f"{self.mnt} is mounted already"
        self.proc = self.cluster.spawn(
            [str(CUTFS), str(self.backing), str(self.mnt), "-f"], self.log)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"cutfs exited {self.proc.returncode}:"
                                     f"\n{self.log.read_text()[-2000:]}")
            return self.mounted() and (self.mnt / ".cutfs").exists()
        poll(up, 20, "cutfs to mount")

    def command(self, text):
        with open(self.mnt / ".cutfs", "w") as f:
            f.write(text)

    def stats(self):
        out = {}
        for line in (self.mnt / ".cutfs").read_text().splitlines():
            k, _, v = line.partition(" ")
            out[k] = v
        return out

    def cut(self, mode, seed, torn=False):
        """The power cut; returns cutfs's one-line account of it."""
        self.command(f"cut {mode} {seed}{' torn' if torn else ''}\n")
        return self.stats().get("cut", "")

    def wait_unsynced(self, timeout, least=4096):
        """Spins until least bytes are written and not synced (a commit
        before its sync: what a random moment mostly misses), or for
        timeout seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and \
                int(self.stats().get("unsynced_bytes", 0)) < least:
            pass

    def random_cut(self, rng, linger_max):
        """The power cut as rng chooses: all, a prefix or a subset of the
        unsynced writes lost, torn sectors three times in ten.  Then, a
        third of the time, samend runs on against the dead disk (every
        operation EIO) for up to linger_max seconds: its error paths.
        Returns (mode, cutfs's account, seconds lingered)."""
        mode = rng.choice(("all", "suffix", "subset"))
        torn = rng.random() < 0.3
        account = self.cut(mode, rng.randrange(1, 1 << 40), torn)
        linger = rng.uniform(0.2, linger_max) if rng.random() < 1 / 3 else 0
        if linger:
            time.sleep(linger)
        return mode, account, linger

    def unmount(self):
        """Unmounts (lazily if something still holds it) and waits for
        cutfs to exit."""
        if self.mounted():
            r = subprocess.run(["umount", str(self.mnt)],
                               capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", str(self.mnt)],
                               capture_output=True)
        if self.proc is not None:
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        poll(lambda: not self.mounted(), 10, f"{self.mnt} to unmount")


SANITIZER_RE = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer")


def sanitizer_in(log):
    """The first lines of a sanitizer report in the file log, or None."""
    try:
        text = Path(log).read_text(errors="replace")
    except FileNotFoundError:
        return None
    m = SANITIZER_RE.search(text)
    return None if m is None else text[max(0, m.start() - 200):][:4000]


def kill9(node):
    """kill -9 of node's samend if it still runs; waits for it."""
    if node.proc is not None and node.proc.poll() is None:
        node.proc.kill()
    if node.proc is not None:
        node.proc.wait(30)
    node.pid = None


def start_with(node, env=None, wait=True):
    """Starts node's samend (listening if it has a port) with env added
    to its environment (test knobs: SAMEND_TEST_*)."""
    assert not node.running(), f"{node.name}: samend already running"
    argv = node.samend_argv(*(["--listen", node.addr]
                              if node.port is not None else []))
    node.proc = node.cluster.spawn(argv, node.log, env=env)
    node.pid = node.proc.pid
    if wait:
        node.wait_serving()
    return node.proc


def seeded(seed):
    """A random generator and the seed that makes it again: seed, or a
    random one if None (print it: SEED=... runs the same choices)."""
    if seed is None:
        seed = random.Random().randrange(1 << 30)
    return random.Random(seed), seed


def node_on_cutfs(cluster, name):
    """A node of cluster whose data directory is cutfs over NAME.disk
    (not mounted yet)."""
    n = cluster.node(name)
    return n, CutFS(cluster, cluster.root / f"{name}.disk", n.dir,
                    cluster.root / f"{name}-cutfs.log")


def powercut(cluster, rounds, seed=None, writers=3, max_run_s=2.5,
             peer=True, early_ratio=0.15, log=print):
    """Power cuts at random moments under a stream of puts.

    Node a's data directory is cutfs over a.disk; node b (an ordinary
    disk) shares a circle with it and syncs every second.  Each round
    mounts cutfs, starts a's samend, checks every put acknowledged so far
    and that b holds no fork of a, writes with `writers` clients, cuts the
    power after a random moment (or, in early_ratio of the rounds, while
    samend is still starting), kills samend, unmounts, and checks the
    crash state's integrity on a copy.  The last round restarts a once
    more, checks, syncs both ways, compares, and stops a cleanly."""
    rng, seed = seeded(seed)
    log(f"powercut: seed {seed}, {rounds} rounds")
    root = cluster.root
    a, fs = node_on_cutfs(cluster, "a")
    ledger = Ledger()
    figures = {"rounds": 0, "early": 0, "modes": {}, "cuts": []}
    try:
        fs.mount()
        a.init()
        b = None
        if peer:
            b = cluster.sync_node("b", sync_interval=1)
            a.start_listening(sync_interval=1, wal_autocheckpoint=100)
            cluster.team(a, [b])
        else:
            a.configure(wal_autocheckpoint=100)
            a.start()
        # The set-up on disk before the first cut, as an admin's config
        # file would be: unsynced, the first cut took samen.conf away, and
        # with it the small wal_autocheckpoint of every later round.
        fs.command("sync\n")
        for rnd in range(rounds):
            # Syncs held back a few ms in most rounds: the cut then often
            # falls between a commit and its sync, where the replies wait.
            delay = rng.choice((0, 2, 5, 20, 50))
            env = {"SAMEND_TEST_SYNC_DELAY_MS": str(delay)} if delay else {}
            early = False
            if a.running():
                kill9(a)        # started without the knob: once
                fs.cut("all", 1)
                fs.unmount()
            fs.mount()
            early = rng.random() < early_ratio
            figures["early"] += early
            start_with(a, env, wait=not early)
            if not early:
                problems = ledger.check(shown(a), "a")
                st = a.status()
                problems += [f"a: {k} = {st[k]}" for k in
                             ("bad", "flagged", "pending") if st[k]]
                circ = a.circles()
                if peer and not circ.get("team", {}).get("default"):
                    problems.append("a: circle team is no longer the "
                                    "default (default-circle lost)")
                if a.samen("conflicts", json=True).json:
                    problems.append("a: conflicts on a single writer")
                if b is not None:
                    bs = b.status()
                    if bs["flagged"]:
                        problems.append(f"b: flagged {bs['flagged']}: a "
                                        f"forked its chain")
                assert not problems, f"round {rnd}: " + "; ".join(problems)
            stop = threading.Event()
            ws = [] if early else run_writers(a, ledger, writers, stop,
                                              seed=seed + rnd)
            wait = rng.uniform(0, 0.6) if early else \
                rng.uniform(0.05, max_run_s)
            time.sleep(wait)    # the random moment of the cut
            # Half the time, the next moment a commit is written and not
            # synced yet (what a random moment mostly misses).
            aimed = not early and rng.random() < 0.5
            if aimed:
                fs.wait_unsynced(5)
            mode, account, linger = fs.random_cut(rng, 1.5)
            if linger:
                figures["lingered"] = figures.get("lingered", 0) + 1
            kill9(a)
            rep = sanitizer_in(a.log)
            assert rep is None, f"round {rnd}: sanitizer report:\n{rep}"
            stop.set()
            join_writers(ws)
            fs.unmount()
            problems = crash_state_integrity(fs.backing, root / "scratch")
            assert not problems, f"round {rnd}: crash state: {problems}"
            figures["rounds"] += 1
            figures["modes"][mode] = figures["modes"].get(mode, 0) + 1
            figures["cuts"].append(account.strip())
            figures["aimed"] = figures.get("aimed", 0) + aimed
            log(f"round {rnd}: {'early ' if early else ''}"
                f"{'aimed ' if aimed else ''}"
                f"{f'lingering {linger:.1f}s ' if linger else ''}cut after "
                f"{wait:.2f}s (syncs +{delay} ms), {account.strip()}; {ledger.puts} puts "
                f"acknowledged, {ledger.failed} not")
        # The last restart: everything acknowledged, then the peer.
        fs.mount()
        start_with(a)
        problems = ledger.check(shown(a), "a")
        if b is not None:
            r = b.sync(a, rc=None)
            r2 = a.sync(b, rc=None)
            assert r.rc == OK and r2.rc == OK, f"{r!r}\n{r2!r}"
            problems += ledger.check(shown(b), "b")
            if a.status()["shared_digest"] != b.status()["shared_digest"]:
                problems.append("a and b differ after syncing both ways")
            if b.status()["flagged"]:
                problems.append("b flagged a fork of a")
        digest = a.digest()
        rebuilt = a.samen("rebuild", json=True).json["replica_digest"]
        if rebuilt != digest:
            problems.append(f"rebuild gives {rebuilt}, was {digest}")
        a.stop()
        fs.unmount()
        problems += integrity(fs.backing / "samen.db")
        assert not problems, "; ".join(problems)
    finally:
        kill9(a)
        if fs.mounted() or fs.proc is not None:
            fs.unmount()
    figures.update(acked=ledger.puts, records=len(ledger.acked),
                   failed=ledger.failed, errors=dict(ledger.errors),
                   lost=0, seed=seed)
    return figures


# ---- a small disk: full, then read-only ------------------------------------

class LoopFS:
    """A small ext4 image, loop-mounted at mnt (errors=remount-ro, no
    blocks reserved for root: samend runs as root here)."""

    def __init__(self, image, mnt, mb):
        self.image, self.mnt, self.mb = Path(image), Path(mnt), mb
        self.mnt.mkdir(exist_ok=True)
        with open(self.image, "wb") as f:
            f.truncate(mb << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)],
                       check=True, capture_output=True)

    def mount(self):
        subprocess.run(["mount", "-o", "loop,errors=remount-ro",
                        str(self.image), str(self.mnt)], check=True,
                       capture_output=True)

    def device(self):
        p = os.path.realpath(self.mnt)
        with open("/proc/self/mounts") as f:
            for line in f:
                dev, mnt = line.split()[:2]
                if mnt == p:
                    return dev
        return None

    def unmount(self):
        if is_mounted(self.mnt):
            r = subprocess.run(["umount", str(self.mnt)],
                               capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", str(self.mnt)],
                               capture_output=True)

    def fsck(self):
        """e2fsck -fy of the unmounted image: its exit status (0: clean,
        1: errors corrected, which a file system that went read-only on
        an error has to have)."""
        return subprocess.run(["e2fsck", "-fy", str(self.image)],
                              capture_output=True).returncode

    def fill(self, name="ballast"):
        """Writes a file until the disk is full; returns its size."""
        path = self.mnt / name
        n = 0
        with open(path, "ab", buffering=0) as f:
            for chunk in (1 << 20, 1 << 12, 512):
                buf = b"\0" * chunk
                while True:
                    try:
                        n += f.write(buf)
                        os.fsync(f.fileno())
                    except OSError:
                        break
        return n

    def free(self, name="ballast"):
        (self.mnt / name).unlink(missing_ok=True)

    def go_readonly(self):
        """What the kernel does on a disk error with errors=remount-ro:
        ext4's trigger_fs_error; False where the kernel has none."""
        dev = self.device()
        knob = Path("/sys/fs/ext4") / os.path.basename(dev or "-") / \
            "trigger_fs_error"
        if not knob.exists():
            return False
        knob.write_text("samen fault harness\n")
        return True


def _expect_one_line(err, want):
    lines = err.splitlines()
    return len(lines) == 1 and lines[0] == want


def _small_disk_pair(cluster, mb):
    """a on a small loop-mounted disk, b on the ordinary one, sharing a
    circle; returns (a, b, disk)."""
    root = cluster.root
    disk = LoopFS(root / "a.img", root / "a.fs", mb)
    disk.mount()
    a = cluster.node("a")
    a.dir = disk.mnt / "data"
    a.init()
    b = cluster.sync_node("b", sync_interval=0)
    a.start_listening(sync_interval=0, wal_autocheckpoint=100)
    cluster.team(a, [b])
    return a, b, disk


def _converge(a, b):
    """Syncs both ways until the shared digests are equal."""
    def same():
        a.sync(b, rc=None)
        b.sync(a, rc=None)
        return a.status()["shared_digest"] == b.status()["shared_digest"]
    poll(same, 120, "a and b to converge", interval=0.5)


def diskfull(cluster, cycles=1, mb=32, writers=2, log=print):
    """The data directory on a small disk: fill it under a stream of
    puts, check that puts fail with one clear line and exit 1, that status
    goes on and a read is answered or refused in one line (its audit event
    needs room), that a sync from a peer breaks nothing; free the
    space, check the puts come back without a restart and the two
    converge; every acknowledged put there throughout, and after a
    restart; integrity_check at the end."""
    a, b, disk = _small_disk_pair(cluster, mb)
    ledger = Ledger()
    figures = {"cycles": 0, "refused_while_full": 0, "errors": {},
               "recovered_without_restart": 0}
    want = "samen: not stored: No space left on device"
    try:
        for cyc in range(cycles):
            stop = threading.Event()
            ws = run_writers(a, ledger, writers, stop, seed=cyc)
            before = ledger.failed
            disk.fill()
            poll(lambda: ledger.failed > before + 3, 120,
                 "puts to fail on the full disk", interval=0.1)
            # A write by hand: the message, the exit code.  A full disk
            # is not quite full all the time (a rolled-back transaction,
            # a checkpoint frees a little), so: the first refused one.
            for _ in range(50):
                r = a.samen("put", "case", "v=full", rc=None)
                if r.rc != OK:
                    break
            assert r.rc == FAIL and r.out == "" and \
                _expect_one_line(r.err, want), f"a full disk: {r!r}"
            assert set(ledger.errors) == {want}, ledger.errors
            # Status goes on; a read is answered when its audit event
            # finds room, else refused in one line.
            seen = shown_if_audited(a, "No space left on device")
            problems = [] if seen is None else ledger.check(seen, "a (full)")
            st = a.status()
            assert st["bad"] == 0 and not problems, problems
            # A peer's sync into the full disk: refused or done, never
            # half stored.
            for i in range(20):
                b.put("case", f"v=b{cyc}-{i}")
            rb = b.sync(a, rc=None)
            stop.set()
            join_writers(ws)
            figures["refused_while_full"] += ledger.failed - before
            disk.free()
            # Back without a restart.
            poll(lambda: a.samen("put", "case", "v=free", rc=None).rc == OK,
                 60, "a put to succeed once space is freed", interval=0.2)
            figures["recovered_without_restart"] += 1
            _converge(a, b)
            problems = ledger.check(shown(a), "a") + \
                ledger.check(shown(b), "b")
            assert not problems, problems
            figures["cycles"] += 1
            log(f"diskfull cycle {cyc}: {ledger.puts} acknowledged, "
                f"{ledger.failed} refused; peer's sync while full: "
                f"rc {rb.rc} {rb.out.strip() or rb.err.strip()}")
        a.stop()
        problems = integrity(a.dir / "samen.db")
        a.start("--listen", a.addr)
        problems += ledger.check(shown(a), "a after restart")
        assert not problems, problems
        a.stop()
    finally:
        kill9(a)
        disk.unmount()
    figures.update(acked=ledger.puts, failed=ledger.failed,
                   errors=dict(ledger.errors), lost=0)
    return figures


def readonly(cluster, cycles=1, mb=32, writers=2, log=print):
    """The disk under samend goes read-only (ext4's errors=remount-ro,
    triggered) under a stream of puts: puts are refused with one clear
    line (or, once a checkpoint's sync fails, samend stops and says so:
    docs/design.md), reads too (their audit events cannot be stored) while
    status goes on; after a fsck and a mount, samend starts with every
    acknowledged put."""
    a, b, disk = _small_disk_pair(cluster, mb)
    ledger = Ledger()
    figures = {"cycles": 0, "samend_stopped": 0, "errors": {}}
    want = "samen: not stored: Read-only file system"
    try:
        for cyc in range(cycles):
            stop = threading.Event()
            ws = run_writers(a, ledger, writers, stop, seed=cyc)
            poll(lambda: ledger.puts > 20 * (cyc + 1), 60, "some puts")
            before = ledger.failed
            if not disk.go_readonly():
                stop.set()
                join_writers(ws)
                figures["skipped"] = "no ext4 trigger_fs_error"
                return figures
            poll(lambda: ledger.failed > before + 3, 60,
                 "puts to fail on the read-only disk", interval=0.1)
            if a.running():
                r = a.samen("put", "case", "v=ro", rc=None)
                if a.running():
                    assert r.rc == FAIL and \
                        _expect_one_line(r.err, want), r
                    # Reads need their audit event stored: refused.
                    assert shown_if_audited(
                        a, "Read-only file system") is None
            stop.set()
            join_writers(ws)
            # Status goes on.  Not beside the writers: a status that
            # shares a batch with a put is refused with it when the
            # commit fails (ctl.c, aborted), which is left as it is.
            if a.running():
                assert a.status()["bad"] == 0
            if a.running():
                a.proc.send_signal(signal.SIGTERM)
                try:
                    a.proc.wait(30)
                except subprocess.TimeoutExpired:
                    kill9(a)
            else:
                figures["samend_stopped"] += 1
                assert "the disk failed to sync" in a.log_text(), \
                    a.log_text()[-2000:]
            a.pid = None
            disk.unmount()
            disk.fsck()
            disk.mount()
            a.start("--listen", a.addr)
            problems = ledger.check(shown(a), "a after remount")
            assert not problems, problems
            a.put("case", "v=again")
            figures["cycles"] += 1
            log(f"readonly cycle {cyc}: {ledger.puts} acknowledged, "
                f"{ledger.failed} refused, errors {ledger.errors}")
        _converge(a, b)
        problems = ledger.check(shown(b), "b")
        a.stop()
        problems += integrity(a.dir / "samen.db")
        assert not problems, problems
    finally:
        kill9(a)
        disk.unmount()
    figures.update(acked=ledger.puts, failed=ledger.failed,
                   errors=dict(ledger.errors), lost=0)
    return figures


# ---- out of file descriptors --------------------------------------------------

def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except FileNotFoundError:
        return -1


class Flood:
    """n connections to a Unix socket path or a (host, port), opened as
    fast as the other side takes them and held until close()."""

    def __init__(self, target, n):
        import socket
        self.socks = []
        self.refused = 0
        for _ in range(n):
            if isinstance(target, tuple):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            else:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect(target if isinstance(target, tuple)
                          else str(target))
            except OSError:
                self.refused += 1
                s.close()
                continue
            self.socks.append(s)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def fdlimit(cluster, cycles=2, nofile=64, peers=3, flood=150, writers=2,
            log=print):
    """samend under `ulimit -n nofile` with peers and a stream of puts,
    flooded with control connections and peer connections it cannot all
    take: it must refuse cleanly (the client sees a closed connection,
    exit 3, one line), not spin, keep serving the peers, and take
    requests again once the flood is gone; nothing acknowledged lost."""
    a = cluster.node("a")
    a.init()
    a.port = None
    ps = [cluster.sync_node(chr(ord("b") + i), sync_interval=1)
          for i in range(peers)]
    a.start_listening(sync_interval=1)
    cluster.team(a, ps)
    a.stop()
    # prlimit sets the limit and execs samend: the pid is samend's.
    a.samend_argv_plain = a.samend_argv

    def limited(*extra):
        return ["prlimit", f"--nofile={nofile}:{nofile}", "--",
                *a.samend_argv_plain(*extra)]
    a.samend_argv = limited
    a.start("--listen", a.addr)
    ledger = Ledger()
    figures = {"cycles": 0, "base_fds": open_fds(a.pid), "refused": 0,
               "clients_refused": 0, "max_cpu_share": 0.0}
    host, port = a.addr[len("tcp://"):].rsplit(":", 1)
    hz = os.sysconf("SC_CLK_TCK")
    try:
        for cyc in range(cycles):
            stop = threading.Event()
            ws = run_writers(a, ledger, writers, stop, seed=cyc)
            poll(lambda: ledger.puts > 10 * (cyc + 1), 60, "some puts")
            before = ledger.failed
            fl = [Flood(a.dir / "ctl.sock", flood),
                  Flood((host, int(port)), flood)]
            assert a.running(), f"samend died:\n{a.log_text()[-3000:]}"
            fds = open_fds(a.pid)
            # A client now: refused cleanly or served, nothing else.
            r = a.samen("put", "case", "v=flooded", rc=None)
            assert r.rc in (OK, DOWN) and (r.rc == OK or (
                r.out == "" and len(r.err.splitlines()) == 1)), r
            figures["clients_refused"] += r.rc == DOWN
            # No busy loop on a listener it cannot accept from.
            t0, c0 = time.monotonic(), cpu_ticks(a.pid)
            stop.wait(2)
            share = (cpu_ticks(a.pid) - c0) / hz / (time.monotonic() - t0)
            figures["max_cpu_share"] = max(figures["max_cpu_share"],
                                           round(share, 2))
            for f in fl:
                f.close()
            assert a.running(), f"samend died:\n{a.log_text()[-3000:]}"
            poll(lambda: a.samen("put", "case", "v=after", rc=None).rc
                 == OK, 60, "a put to succeed after the flood",
                 interval=0.2)
            stop.set()
            join_writers(ws)
            figures["refused"] += ledger.failed - before
            log(f"fdlimit cycle {cyc}: {fds} fds open under the flood "
                f"(limit {nofile}), cpu {share:.0%} meanwhile, "
                f"{ledger.puts} acknowledged, {ledger.failed} refused")
            figures["cycles"] += 1
        for p in ps:
            _converge(a, p)
        problems = ledger.check(shown(a), "a")
        for p in ps:
            problems += ledger.check(shown(p), p.name)
        assert not problems, problems
        assert "out of file descriptors" in a.log_text(), \
            "no refusal logged"
        assert figures["max_cpu_share"] < 0.5, figures
    finally:
        kill9(a) if not a.running() else None
    figures.update(acked=ledger.puts, failed=ledger.failed,
                   errors=dict(ledger.errors), lost=0)
    return figures


# ---- network faults --------------------------------------------------------------

NETEMU = Path(__file__).resolve().parent / "netemu.py"


class NetLab:
    """n network namespaces joined by netemu.py (a switch in user space
    with netem's impairments: this kernel has no sch_netem)."""

    def __init__(self, n):
        self.n = n
        self.prefix = f"sm{os.getpid() % 100000}x"
        self.names = [f"{self.prefix}{i}" for i in range(n)]
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(NETEMU), self.prefix, str(n)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            start_new_session=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise AssertionError(f"netemu did not start: {line!r}")
        self.down = set()

    def ip(self, i):
        return f"10.77.0.{i + 1}"

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stats(self):
        self.cmd("stats")
        line = self.proc.stdout.readline().split()
        return {k: int(v) for k, v in (w.split("=") for w in line[1:])}

    def link(self, i, up):
        subprocess.run(["ip", "-n", self.names[i], "link", "set",
                        f"{self.prefix}t{i}", "up" if up else "down"],
                       check=True, capture_output=True)
        (self.down.discard if up else self.down.add)(i)

    def heal(self):
        for i in list(self.down):
            self.link(i, True)
        self.cmd("heal")

    def close(self):
        """Deletes the namespaces, whatever happened before."""
        if self.proc.poll() is None:
            try:
                self.cmd("quit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for ns in self.names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def in_netns(node, lab, i, port=7400):
    """Makes node's samend run in namespace i, listening on its address
    there."""
    plain = node.samend_argv
    node.samend_argv = lambda *extra: ["ip", "netns", "exec", lab.names[i],
                                       *plain(*extra)]
    node.port = port
    node.__class__ = type("NetNode", (node.__class__,), {
        "addr": property(lambda self: f"tcp://{lab.ip(i)}:{self.port}")})


class MixWriter(Writer):
    """A Writer that also updates a few records every node shares, so
    that concurrent edits make conflicts; and pauses between puts."""

    def __init__(self, node, ledger, tag, stop, shared, pause, **kw):
        super().__init__(node, ledger, tag, stop, **kw)
        self.shared, self.pause = shared, pause
        self.shared_puts = 0

    def run(self):
        try:
            while not self.stop.is_set():
                if self.shared and self.rng.random() < 0.2:
                    rid = self.rng.choice(self.shared)
                    self.n += 1
                    r = self.node.samen("put", "case", rid,
                                        f"s={self.tag}-{self.n}", rc=None)
                    self.shared_puts += r.rc == OK
                else:
                    self.put_once()
                self.stop.wait(self.rng.uniform(0, self.pause))
        except BaseException as e:   # noqa: B902 -- reported by the caller
            self.error = e


def conflicts_of(node):
    return sorted(json.dumps(c, sort_keys=True)
                  for c in node.samen("conflicts", json=True).json)


def netfaults(cluster, nodes=5, duration_s=180, seed=None, pause=0.3,
              kinds=None, log=print):
    """nodes daemons, each in a namespace of its own, a circle they all
    share and a full mesh of peers syncing every 2 s; random puts on all
    of them (own records, and a few shared ones everybody edits) for
    duration_s under changing loss, delay, duplication and reordering,
    partitions and links taken down; then heal and check that they
    converge, show the same conflicts, hold every acknowledged put, and
    that a sync from every node ends (no session stuck).  kinds: the
    faults to take in turn (default: at random)."""
    rng, seed = seeded(seed)
    log(f"netfaults: seed {seed}, {nodes} nodes, {duration_s}s")
    lab = NetLab(nodes)
    ns = []
    ledger = Ledger()
    events = []
    figures = {"nodes": nodes, "duration_s": duration_s, "seed": seed}
    try:
        for i in range(nodes):
            n = cluster.node(chr(ord("a") + i))
            n.init()
            in_netns(n, lab, i)
            n.start_listening(sync_interval=2)
            ns.append(n)
        cluster.team(ns[0], ns[1:])
        for x in ns[1:]:
            for y in ns[1:]:
                if x is not y:
                    x.peer_add(y)
        shared = [ns[0].put("case", f"s=start{k}") for k in range(3)]
        for n in ns[1:]:
            n.sync(ns[0])
        stop = threading.Event()
        ws = [MixWriter(n, ledger, n.name, stop, shared, pause,
                        seed=seed + i, timeout=30)
              for i, n in enumerate(ns)]
        for w in ws:
            w.start()
        t_end = time.monotonic() + duration_s
        turn = 0
        while time.monotonic() < t_end:
            if kinds:
                kind = kinds[turn % len(kinds)]
                turn += 1
            else:
                kind = rng.choice(("impair", "impair", "part", "down",
                                   "heal"))
            if kind == "impair":
                imp = dict(loss=rng.choice((0.01, 0.05, 0.1, 0.2)),
                           delay=rng.choice((0, 0.005, 0.02, 0.1)),
                           jitter=rng.choice((0, 0.005, 0.02)),
                           dup=rng.choice((0, 0.01, 0.05)),
                           reorder=rng.choice((0, 0.1, 0.25)))
                lab.cmd("impair " + " ".join(f"{k}={v}"
                                             for k, v in imp.items()))
                what = "impair " + " ".join(f"{k}={v}" for k, v in
                                            imp.items() if v)
            elif kind == "part":
                members = list(range(nodes))
                rng.shuffle(members)
                cut = rng.randrange(1, nodes)
                groups = [members[:cut], members[cut:]]
                lab.cmd("part " + " ".join(",".join(map(str, g))
                                           for g in groups))
                what = f"partition {groups}"
            elif kind == "down":
                i = rng.randrange(nodes)
                lab.link(i, False)
                what = f"link of {ns[i].name} down"
            else:
                lab.heal()
                what = "heal"
            events.append(what)
            hold = rng.uniform(2, 8) if not kinds else rng.uniform(3, 5)
            log(f"{time.monotonic() - t_end + duration_s:6.1f}s {what} "
                f"for {hold:.1f}s; {ledger.puts} puts acknowledged")
            stop.wait(min(hold, max(0, t_end - time.monotonic())))
            if kind == "down":
                lab.link(i, True)
        stop.set()
        join_writers(ws, timeout=120)
        lab.heal()
        net = lab.stats()
        t0 = time.monotonic()

        def converged():
            for n in ns:
                n.samen("sync", "--wait", "--timeout", "30", rc=None,
                        timeout=90)
            ds = {n.status()["shared_digest"] for n in ns}
            return len(ds) == 1
        poll(converged, 600, "the nodes to converge", interval=1)
        figures["converge_s"] = round(time.monotonic() - t0, 1)
        problems = []
        for n in ns:
            problems += ledger.check(shown(n), n.name)
            st = n.status()
            problems += [f"{n.name}: {k} = {st[k]}" for k in
                         ("bad", "flagged", "pending") if st[k]]
        cs = [conflicts_of(n) for n in ns]
        if any(c != cs[0] for c in cs):
            problems.append("conflicts differ between nodes")
        # No session stuck: a sync from each node with every peer ends.
        for n in ns:
            r = n.sync(timeout=60, rc=None)
            if r.rc != OK:
                problems.append(f"{n.name}: sync after healing: {r!r}")
        assert not problems, "; ".join(problems)
        figures.update(
            acked=ledger.puts, failed=ledger.failed, lost=0,
            records=len(ledger.acked), conflicts=len(cs[0]),
            shared_puts=sum(w.shared_puts for w in ws),
            errors=dict(ledger.errors), events=len(events), packets=net)
        log(f"netfaults: converged {figures['converge_s']}s after healing")
    finally:
        for n in ns:
            if n.running():
                n.stop(expect_rc=None)
        lab.close()
    return figures
