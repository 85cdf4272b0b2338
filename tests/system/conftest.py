"""System tests' harness: real samend processes, driven through the real samen.

Each test gets its own directory under /tmp (short: the control socket's path
must fit in 107 bytes) holding one data directory and one daemon log per node.
Daemons are started with subprocess and only the PIDs started here are ever
signalled.  Waiting is always polling a condition against a deadline.

At teardown every daemon still running is stopped with SIGTERM and must exit
0, and every daemon log and every samen stderr is searched for a sanitizer
report: the binaries are built with ASan and UBSan, and a report is a failing
test even when the exit code hides it.  When a test fails, the daemon logs are
printed and its directory is kept.

SAMEN_BUILD names the directory holding samend and samen (tests/run-tests.sh
sets it); the default is build/test, the sanitizer build of `make test`.
"""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ports import free_port

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SAMEN_BUILD", REPO / "build" / "test"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
SAMEN = BUILD / "samen"
SAMEND = BUILD / "samend"

# Exit codes of samen (docs/cli.md).
OK, FAIL, USAGE, DOWN, LOCKED = 0, 1, 2, 3, 4

# Error codes of control replies (proto/error.h).
SAMEN_EBASE = -10000
SAMEN_EVERSION = SAMEN_EBASE + 7

RID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
DEVID_RE = re.compile(r"^[a-z2-7]{56}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
HEX32_RE = re.compile(r"^[0-9a-f]{32}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

SANITIZER_RE = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer")

DEFAULT_TIMEOUT = 60  # seconds for one samen command (ASan is slow)
START_TIMEOUT = 30    # seconds for samend to answer after it started
STOP_TIMEOUT = 30     # seconds for samend to exit after SIGTERM


def sanitizer_report(text):
    """The first lines of a sanitizer report in text, or None."""
    m = SANITIZER_RE.search(text)
    if m is None:
        return None
    start = text.rfind("\n", 0, max(0, m.start() - 200)) + 1
    return text[start:start + 4000]


def refs_broken(db):
    """The schema's references that do not hold in db (samend does not
    have SQLite enforce them row by row): one problem per orphan row."""
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        rows = con.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        con.close()
    return [f"{db}: {table} row {rowid} has no {parent} row"
            for table, rowid, parent, _ in rows]


def base_env():
    """The environment of every samen and samend: no ambient data directory
    or passphrase, and the sanitizer options run-tests.sh uses."""
    env = dict(os.environ)
    for k in ("SAMEN_HOME", "SAMEN_PASSPHRASE", "XDG_DATA_HOME",
              "SAMEN_TIMEOUT"):
        env.pop(k, None)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def output_of(log):
    """A log file's text without the "### argv" lines spawn() writes."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("### "))


def wait_until(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns something true; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


class Result:
    """One finished samen command."""

    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    @property
    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError(
                f"not one JSON document ({e}) from {self.cmdline()}:\n"
                f"{self.out!r}") from None

    def cmdline(self):
        return " ".join(a if isinstance(a, str) else repr(a)
                        for a in self.args)

    def __repr__(self):
        return (f"$ {self.cmdline()}\nexit {self.rc}\n"
                f"--- stdout\n{self.out}--- stderr\n{self.err}---")

    def expect_error(self, rc):
        """The shape every error must have (docs/cli.md): the exit code,
        nothing on stdout, one line on stderr starting with "samen: "."""
        assert self.rc == rc, f"expected exit {rc}\n{self!r}"
        assert self.out == "", f"stdout must be empty on error\n{self!r}"
        lines = self.err.splitlines()
        assert len(lines) == 1 and self.err.endswith("\n"), \
            f"expected one line on stderr\n{self!r}"
        assert lines[0].startswith("samen: ") and len(lines[0]) > 10, \
            f"error must read 'samen: reason'\n{self!r}"
        return lines[0]


class Node:
    """One device: a data directory, its daemon and the samen that drives it."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.dir = cluster.root / name
        self.log = cluster.root / f"{name}.log"
        self.proc = None      # the samend we started last, if any
        self.pid = None       # pid of the serving daemon (also --daemonize)
        self.passphrase = None
        self.port = None      # the TCP port samend listens on for peers
        self._device = None

    # identity

    @property
    def device(self):
        """This device's id (samen id; no daemon needed)."""
        if self._device is None:
            self._device = self.samen("id").out.strip()
            assert DEVID_RE.match(self._device), self._device
        return self._device

    @property
    def short(self):
        return self.device[:12]

    @property
    def addr(self):
        assert self.port is not None, f"{self.name}: not listening"
        return f"tcp://127.0.0.1:{self.port}"

    # samen

    def samen(self, *args, json=False, env=None, rc=OK, timeout=DEFAULT_TIMEOUT,
              use_dir=True):
        """Runs samen -d DIR [--json] ARGS.  rc: the exit code required
        (None: any).  env: variables added to (or, as None, removed from)
        the base environment."""
        argv = [str(SAMEN)]
        if use_dir:
            argv += ["-d", str(self.dir)]
        if json:
            argv.append("--json")
        argv += [a if isinstance(a, bytes) else str(a) for a in args]
        return self.cluster.run(argv, env=env, rc=rc, timeout=timeout)

    def init(self, passphrase=None, **kw):
        """samen init: --no-passphrase unless a passphrase is given."""
        if passphrase is None:
            r = self.samen("init", "--no-passphrase", **kw)
        else:
            self.passphrase = passphrase
            r = self.samen("init", env={"SAMEN_PASSPHRASE": passphrase}, **kw)
        if r.rc == OK:
            assert DEVID_RE.match(r.out.strip()), r
        return r

    def status(self, **kw):
        return self.samen("status", json=True, **kw).json

    def state(self):
        """What must not change when a request is refused."""
        s = self.status()
        return (s["replica_digest"], s["changesets"], s["records"])

    def put(self, *args):
        """samen put ...; returns the record id it printed."""
        r = self.samen("put", *args, json=True)
        body = r.json
        assert RID_RE.match(body["id"]), r
        return body["id"]

    def get(self, collection, rid, **kw):
        return self.samen("get", collection, rid, json=True, **kw).json

    # peers, circles and sync (docs/cli.md)

    def configure(self, **opts):
        """Writes DIR/samen.conf with these options (replacing it)."""
        text = "# test configuration\n[samend]\n" + "".join(
            f"{k} = {v}\n" for k, v in opts.items())
        (self.dir / "samen.conf").write_text(text)

    def start_listening(self, sync_interval=0, wait=True, **opts):
        """Starts samend listening on a port of its own (the same one on
        every restart), with sync_interval and other config options."""
        if self.port is None:
            self.port = free_port()
        self.configure(sync_interval=sync_interval, **opts)
        return self.start("--listen", self.addr, wait=wait)

    def peer_add(self, other, addr=True, **kw):
        """samen peer add OTHER [its address]; other is a Node or an id."""
        dev = other if isinstance(other, str) else other.device
        args = ["peer", "add", dev]
        if addr is True:
            args.append(other.addr)
        elif addr:
            args.append(addr)
        return self.samen(*args, json=True, **kw)

    def peer_ls(self):
        return self.samen("peer", "ls", json=True).json

    def peer(self, other):
        """This node's peer ls entry of other (a Node or an id)."""
        dev = other if isinstance(other, str) else other.device
        for p in self.peer_ls():
            if p["device"] == dev:
                return p
        raise AssertionError(f"{self.name}: {dev} is not a peer")

    def wait_session(self, other, timeout=30):
        """Waits until this node has started a session with other and it
        has ended (a peer with an address gets one on connect, within a
        second); returns it."""
        def ended():
            s = self.peer(other)["session"]
            return s is not None and s["state"] != "running" and s
        return wait_until(ended, timeout,
                          f"{self.name}: a finished session with {other}")

    def sync(self, other=None, wait=True, timeout=60, rc=OK, json=True):
        """samen sync [--wait --timeout S] [DEVICE]: the Result."""
        args = ["sync"]
        if other is not None:
            args.append(other if isinstance(other, str) else other.device)
        if wait:
            args += ["--wait", "--timeout", str(timeout)]
        return self.samen(*args, json=json, rc=rc, timeout=timeout + 30)

    def circle_new(self, name):
        return self.samen("circle", "new", name, json=True).json

    def circle_add(self, name, other):
        dev = other if isinstance(other, str) else other.device
        return self.samen("circle", "add", name, dev, json=True).json

    def circle_use(self, name, **kw):
        return self.samen("circle", "use", name, json=True, **kw)

    def circles(self):
        return {c["name"]: c for c in
                self.samen("circle", "ls", json=True).json}

    def digest(self):
        return self.status()["replica_digest"]

    def ls(self, collection, *where):
        args = ["ls", collection]
        for w in where:
            args += ["--where", w]
        return self.samen(*args, json=True).json

    # samend

    def samend_argv(self, *extra):
        return [str(SAMEND), "-d", str(self.dir), *map(str, extra)]

    def start(self, *extra, wait=True, env=None):
        """Starts samend in the foreground, its output appended to the log;
        env: variables added to the base environment (test hooks)."""
        assert self.proc is None or self.proc.poll() is not None, \
            f"{self.name}: samend already running"
        self.proc = self.cluster.spawn(self.samend_argv(*extra), self.log,
                                       env=env)
        self.pid = self.proc.pid
        if wait:
            self.wait_serving()
        return self.proc

    def wait_serving(self, timeout=START_TIMEOUT):
        """Polls samen status until the daemon answers (locked or not)."""
        def answers():
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"{self.name}: samend exited with "
                            f"{self.proc.returncode} while starting\n"
                            f"{self.log_text()}")
            return self.samen("status", rc=None).rc == OK
        wait_until(answers, timeout, f"{self.name}: samend to answer")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, expect_rc=0, timeout=STOP_TIMEOUT):
        """Sends sig to our samend and waits for it to exit; returns the
        exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.name}: samend did not exit within "
                        f"{timeout}s of signal {sig}\n{self.log_text()}")
        if expect_rc is not None:
            assert rc == expect_rc, \
                f"{self.name}: samend exited {rc}\n{self.log_text()}"
        self.pid = None
        return rc

    def kill9(self):
        """kill -9 of our samend; waits for it to be gone."""
        assert self.proc is not None and self.proc.poll() is None
        self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)
        self.pid = None

    def restart(self, *extra, env=None):
        self.stop()
        return self.start(*extra, env=env)

    def unlock(self, passphrase=None, **kw):
        pw = self.passphrase if passphrase is None else passphrase
        return self.samen("unlock", env={"SAMEN_PASSPHRASE": pw}, **kw)

    def log_text(self):
        """What the daemons of this node printed (without our headers)."""
        return output_of(self.log)


def same_after_restart(nodes):
    """status and get read the index, which the merge tells of what it
    touched; a start loads the index from the store.  So a record half
    merged and left in the database shows only after a restart.  Every
    node of nodes still running and unlocked is stopped (all first, so that
    no session moves one while another is read), started again alone as it
    was (listening if it was), one by one, and must show what it showed
    before; a daemon syncs with its peers as it starts, so each is read
    while the others are down.  Then all are started again and left
    running.

    A session still in flight (a periodic sync, an admin's audit change
    set on its way to a relay) could add a change set between one node's
    status and its stop, so the statuses are taken until two rounds in a
    row agree before the nodes are stopped."""
    keys = ("changesets", "pending", "bad", "flagged", "records",
            "replica_digest", "shared_digest")

    def snapshot():
        seen = []
        for n in nodes:
            if n.running():
                st = n.status()
                if not st.get("locked"):
                    seen.append((n, st))
        return seen

    def view(seen):
        return [(n.name, [st[k] for k in keys]) for n, st in seen]

    last = [snapshot()]

    def settled():
        now = snapshot()
        same = view(now) == view(last[0])
        last[0] = now
        return same

    wait_until(settled, 15, "the daemons to stop changing")
    seen = last[0]
    for n, _ in seen:
        n.stop()

    def start(n):
        if n.port is not None:
            n.start("--listen", n.addr)
        else:
            n.start()

    for n, st in seen:
        start(n)
        again = n.status()
        n.stop()
        for k in keys:
            assert again[k] == st[k], (n.name, k, st, again)
    for n, _ in seen:
        start(n)


class Cluster:
    """The nodes of one test, in one directory under /tmp."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="samen-", dir="/tmp"))
        self.nodes = []
        self.procs = []       # every process we started: (Popen, log path)
        self.extra_pids = []  # daemons that detached (--daemonize)
        self.reports = []     # sanitizer reports found in samen's stderr
        self.transcript = []  # the last samen commands, for failure reports

    def node(self, name="a"):
        n = Node(self, name)
        self.nodes.append(n)
        return n

    def sync_node(self, name, sync_interval=0, **opts):
        """A device initialised without a passphrase, its samend listening
        for peers on a port of its own."""
        n = self.node(name)
        n.init()
        n.start_listening(sync_interval=sync_interval, **opts)
        return n

    def team(self, admin, members, circle="team", sync=True):
        """admin creates circle, adds members, and makes it its default.
        Each member adds admin as a peer first (admin admits it: a circle
        member), then admin adds the member, both with addresses, so that
        no handshake is refused (a refusal means a retry 10 s later).  With
        sync, every member syncs with admin, which gives it the circle, and
        makes it its default too: plain puts go to the circle everywhere."""
        admin.circle_new(circle)
        for m in members:
            admin.circle_add(circle, m)
        admin.circle_use(circle)
        for m in members:
            m.peer_add(admin)
            admin.peer_add(m)
        if sync:
            for m in members:
                r = m.sync(admin)
                assert r.json[0]["session"]["state"] == "done", r
                assert circle in m.circles(), r
                m.circle_use(circle)
            # The admin's own session on connect: over before we go on.
            for m in members:
                admin.wait_session(m)

    def run(self, argv, env=None, rc=OK, timeout=DEFAULT_TIMEOUT, stdin=None):
        e = base_env()
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        # No terminal: a command that would prompt must fail, not hang.
        p = subprocess.run(argv, env=e, capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL if stdin is None else stdin,
                           start_new_session=True)
        r = Result(argv, p.returncode,
                   p.stdout.decode("utf-8", "surrogateescape"),
                   p.stderr.decode("utf-8", "surrogateescape"))
        self.transcript.append(r)
        del self.transcript[:-30]
        rep = sanitizer_report(r.err)
        if rep is not None:
            self.reports.append(f"{r.cmdline()}:\n{rep}")
            pytest.fail(f"sanitizer report from samen:\n{r!r}")
        if rc is not None and r.rc != rc:
            raise AssertionError(f"expected exit {rc}\n{r!r}")
        return r

    def spawn(self, argv, log, env=None):
        """Starts a process with stdout and stderr appended to log."""
        e = base_env()
        e.update(env or {})
        with open(log, "ab") as f:
            f.write(f"### {' '.join(argv)}\n".encode())
            f.flush()
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f,
                                 stderr=subprocess.STDOUT, env=e,
                                 start_new_session=True)
        self.procs.append((p, log))
        return p

    def logs(self):
        return sorted(self.root.glob("*.log")) + sorted(
            self.root.glob("**/asan.*"))

    def teardown(self, failed):
        problems = []
        for n in self.nodes:
            if n.running():
                try:
                    n.proc.send_signal(signal.SIGTERM)
                    rc = n.proc.wait(STOP_TIMEOUT)
                    if rc != 0:
                        problems.append(f"{n.name}: samend exited {rc} "
                                        f"on SIGTERM at teardown")
                except subprocess.TimeoutExpired:
                    problems.append(f"{n.name}: samend ignored SIGTERM")
        # Whatever is left is ours: kill it by pid, nothing else.
        for p, _ in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for pid in self.extra_pids:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for path in self.logs():
            rep = sanitizer_report(path.read_text(errors="replace"))
            if rep is not None:
                problems.append(f"sanitizer report in {path}:\n{rep}")
        for n in self.nodes:
            problems += refs_broken(n.dir / "samen.db")
        problems += self.reports
        if failed or problems:
            for path in self.logs():
                print(f"\n===== {path} =====")
                print(path.read_text(errors="replace")[-20000:])
            if self.transcript:
                print("\n===== last samen commands =====")
                for r in self.transcript[-10:]:
                    print(repr(r))
            print(f"\n(kept {self.root})")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return problems


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


@pytest.fixture(scope="session", autouse=True)
def binaries():
    missing = [str(p) for p in (SAMEN, SAMEND) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("not built: " + ", ".join(missing) +
                    " (make test, or set SAMEN_BUILD)", pytrace=False)


@pytest.fixture
def cluster(request):
    """A directory of nodes; everything started in it is stopped and checked
    at teardown."""
    c = Cluster()
    yield c
    problems = c.teardown(_failed(request))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def stores_checked(cluster):
    """After the test, every daemon of it that still runs holds in its
    store what it showed (same_after_restart)."""
    yield
    same_after_restart(cluster.nodes)


@pytest.fixture
def node(cluster):
    """One device initialised without a passphrase, its daemon serving."""
    n = cluster.node("a")
    n.init()
    n.start()
    return n
