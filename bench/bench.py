#!/usr/bin/python3
"""samen's benchmarks: `make bench` runs this (bench/README.md).

Every scenario prints one JSON line, one line for a person, and the command
that reproduces it.  Nothing is asserted: a missed target is a figure, not a
failure.  The `limits` scenario always runs first, in the same run, and every
other scenario prints its ratio to the limit that bounds it, so that figures
from a busy machine still mean something.

Daemons run from --build (an -O2 build without sanitizers) on loopback, in
data directories under /tmp (the control socket's path must stay short),
removed at the end.  Only the processes started here are ever signalled.
"""

import argparse
import atexit
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import zmq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "system"))
from ports import free_port  # noqa: E402 (shared with the system tests)

# Control requests (proto/protocol.h).
CTL_STATUS, CTL_PUT, CTL_GET = 1, 3, 4
CTL_PEER_ADD, CTL_PEER_LS, CTL_PEER_RM, CTL_SYNC = 12, 13, 14, 15
CTL_CIRCLE_LS, CTL_CIRCLE_RM = 18, 24
SAMEN_ENOTFOUND = -10000 + 14

# Sync protocol constants (daemon/peer.c, proto/sync.h): for the round-trip
# model of a session.
SYNC_MAX_BATCH, BATCH_BYTES, WINDOW = 256, 1 << 20, 32  # as daemon/peer.c

SIZES = {
    # Every scenario, within 10 minutes on 2 cores.
    "quick": dict(initial=100_000, replay=20_000, bulk=100_000,
                  diff=100_000, insync_reps=20, entry_seq=1000,
                  entry_pipe=10_000, storm=1500, gossip=30, gossip_writes=3,
                  chain=8, chain_writes=5, removal=50, removals=10,
                  erase=100_000, erase_reps=3),
    # The sizes of the issue.
    "full": dict(initial=100_000, replay=100_000, bulk=1_000_000,
                 diff=1_000_000, insync_reps=50, entry_seq=1000,
                 entry_pipe=50_000, storm=1500, gossip=30, gossip_writes=10,
                 chain=8, chain_writes=30, removal=50, removals=10,
                 erase=100_000, erase_reps=5),
}

# Writes in flight from the one client of "entry": the rate and p99 of
# each trace the curve between them, and the target asks for both at once.
ENTRY_WINDOWS = (16, 32, 48, 64, 128, 256)
ENTRY_P99_MS = 5.0

# Reads in flight from the one client of "reads".
READS_WINDOWS = (1, 16, 64, 256)

SCENARIOS = ["limits", "initial", "insync", "diff", "bulk", "footprint",
             "entry", "reads", "storm", "gossip", "removal", "erase"]

TARGETS = {
    "initial": "≥ 0.7 × single-core ed25519 verify/s (stretch 1.4×)",
    "bulk": "≥ 0.55 × SQLite insert rows/s, in operations/s",
    "insync": "1 round trip, ≤ 512 B per circle both ways, ≤ 50 ms",
    "diff": "bytes ≤ 1.2 × missing change sets + ≤ 32 B per difference; "
            "≤ 4 round trips",
    "entry": "samen put p50 ≤ 5 ms, p99 ≤ 20 ms; API ≥ 20k durable "
             "writes/s with p99 ≤ 5 ms",
    "storm": "merge ≤ 100 ms (signatures apart); equal digests in "
             "another order",
    "gossip": "all hold a write in O(log N) rounds; chain: per-hop p50/p99",
    "footprint": "RSS ≤ 100 MB with 100k records; first sync request "
                 "served ≤ 200 ms after start with 1M records",
    "removal": "none set: the cost of a re-key in a circle of 50",
    "erase": "a purge of one record with 100 notes on 100k records: "
             "measured (issue 25 sets no bound)",
    "reads": "with the read audit on, samen get p50/p99 and the "
             "pipelined read rate within 1.5 × of the same without it",
}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round((len(v) - 1) * p)))]


def r3(x):
    return None if x is None else round(x, 3)


def human_n(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}" if x >= 100 else f"{x:.2f}"


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command's name (the first is
    the state), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def proc_cpu(pid):
    """User + system CPU seconds of a process."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_faults(pid):
    """Minor page faults of a process so far (every thread's)."""
    fields = proc_stat(pid)
    return None if fields is None else int(fields[7])


def page_cache_kib():
    """KiB of files in the page cache, machine-wide (/proc/meminfo's
    Cached), or None where the kernel does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("Cached:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def file_bytes(path):
    """Size of a file, 0 if it is not there."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


REPORTED = "/sys/module/page_reporting/parameters/reported_kib"


def reported_kib():
    """KiB of free memory this (virtual) machine has handed back to its
    host since boot (free page reporting), or None where the kernel has no
    such thing."""
    try:
        with open(REPORTED) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def disk_ops(path):
    """Write requests and cache flushes the block device holding path has
    completed so far, all processes' (/sys/dev/block/MAJ:MIN/stat), or None
    where the kernel does not say."""
    try:
        dev = os.stat(path).st_dev
        with open(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/stat") as f:
            v = [int(x) for x in f.read().split()]
        return (v[4], v[15]) if len(v) > 15 else None
    except (OSError, ValueError):
        return None


# The disk alone beside the pipelined puts (ctlbench disk), a second at each
# of these: 4 KiB writes a second (one request each), and writes each with
# its fdatasync a second (two requests each, as samend's WAL syncs).
DISK_PROBE = ((4000, False), (8000, False), (1000, True), (2000, True))


def disk_probe(run):
    """How the disk holds requests now: one ctlbench disk run for each of
    DISK_PROBE, or None where its file system refuses O_DIRECT."""
    out = []
    for rate, sync in DISK_PROBE:
        try:
            out.append(run.tool_json(run.tool("ctlbench"), "disk",
                                     run.root / "disk-probe", rate, 1,
                                     *(["sync"] if sync else [])))
        except subprocess.CalledProcessError:
            return None
    return out


def proc_mem(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


class Ctl:
    """A REQ client of one daemon's control socket."""

    def __init__(self, zctx, path, timeout_ms=120_000):
        self.zctx, self.path, self.timeout_ms = zctx, path, timeout_ms
        self.sock = None

    def _open(self):
        self.sock = self.zctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        self.sock.connect(f"ipc://{self.path}/ctl.sock")

    def call(self, typ, args):
        if self.sock is None:
            self._open()
        self.sock.send(msgpack.packb([1, typ, args], use_bin_type=True))
        try:
            raw = self.sock.recv()
        except zmq.Again:
            self.close()
            raise TimeoutError(f"{self.path}: no reply to request {typ}")
        code, msg, body = msgpack.unpackb(raw, raw=False)
        return code, msg, body

    def ok(self, typ, args):
        code, msg, body = self.call(typ, args)
        if code != 0:
            raise RuntimeError(f"{self.path}: request {typ}: {msg} "
                               f"({code})")
        return body

    def close(self):
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None


class Daemon:
    def __init__(self, run, path, port=None):
        self.run, self.path, self.port = run, Path(path), port
        self.proc = None
        self.ctl = Ctl(run.zctx, str(path))
        self.id = None

    @property
    def addr(self):
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, wait=True, env=None):
        args = [str(self.run.samend), "-d", str(self.path)]
        if self.port:
            args += ["--listen", self.addr]
        log = open(self.path.parent / (self.path.name + ".log"), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=log,
                                     env=dict(self.run.env, **(env or {})))
        log.close()
        self.run.procs.append(self.proc)
        self.run.running[self.path.resolve()] = self.proc
        if wait:
            self.wait_up()
        return self

    def log_tail(self):
        """The last line of its log, which says why it stopped."""
        try:
            lines = (self.path.parent / (self.path.name + ".log")
                     ).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "its log is empty"

    def wait_up(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"samend for {self.path} exited "
                                   f"({self.proc.returncode}): "
                                   f"{self.log_tail()}")
            if (self.path / "ctl.sock").exists():
                try:
                    c = Ctl(self.run.zctx, str(self.path), 200)
                    code, _, body = c.call(CTL_STATUS, [])
                    c.close()
                    if code == 0 and not body.get("locked"):
                        self.id = body["device"]
                        return body
                except (TimeoutError, zmq.ZMQError):
                    pass
            time.sleep(0.01)
        raise RuntimeError(f"samend for {self.path} did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.ctl.close()
        self.proc = None

    def status(self):
        return self.ctl.ok(CTL_STATUS, [])

    def session(self, device):
        for p in self.ctl.ok(CTL_PEER_LS, []):
            if p["device"] == device:
                return p
        return None


class Run:
    def __init__(self, args):
        self.args = args
        self.build = Path(args.build).resolve()
        self.samend = self.build / "samend"
        self.samen = self.build / "samen"
        self.tool = lambda name: str(self.build / "bench" / name)
        for b in (self.samend, self.samen, self.build / "bench" / "gen"):
            if not b.exists():
                sys.exit(f"bench: {b} is missing: make bench-build")
        self.size = SIZES[args.size]
        self.root = Path(tempfile.mkdtemp(prefix="samen-bench.", dir="/tmp"))
        self.outdir = Path(args.out or self.build / "results")
        self.outdir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.results = self.outdir / f"bench-{args.size}-{stamp}.jsonl"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("SAMEN_HOME", "SAMEN_PASSPHRASE",
                                 "XDG_DATA_HOME")}
        self.zctx = zmq.Context()
        self.procs = []
        self.running = {}   # a daemon's directory: its process
        self.limits = None
        self.cache = {}
        atexit.register(self.cleanup)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []
        if not self.args.keep and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.zctx.destroy(0)

    def release(self, later):
        """Stops the daemons kept for scenarios that no longer come."""
        if "initial" in self.cache and not {"insync", "footprint"} & set(
                later):
            for d in self.cache.pop("initial"):
                d.stop()
        if "bulk" in self.cache and "footprint" not in later:
            self.cache.pop("bulk").stop()

    def tidy(self):
        """Removes the data directories that neither a running daemon (one
        kept for a later scenario, or left by one that failed) nor a later
        scenario needs (unless --keep).  Left in place, their files stay
        in the page cache for the rest of the run (diff's: about 3 GB),
        and a scenario after them measured up to a quarter less on this VM
        (docs/performance.md §2, "The page cache and bulk's figure")."""
        if self.args.keep:
            return
        keep = {d for d, p in self.running.items() if p.poll() is None}
        if "bulk" in self.cache:
            # footprint's probe speaks as the bulk pair's A.
            keep.add((self.root / "ba").resolve())
        for p in self.root.iterdir():
            if p.is_dir() and p.resolve() not in keep:
                shutil.rmtree(p, ignore_errors=True)

    # Helpers.

    def reproduce(self, scenario):
        if scenario == "run":
            cmd = "make bench"
            if self.args.only:
                cmd += f" ONLY={self.args.only}"
            if self.args.size != "quick":
                cmd += f" N={self.args.size}"
            return cmd
        cmd = f"make bench ONLY={scenario}"
        if self.args.size != "quick":
            cmd += f" N={self.args.size}"
        return cmd

    def emit(self, scenario, data, human):
        data = dict(scenario=scenario, size=self.args.size,
                    load=loadavg(), **data)
        if scenario in TARGETS:
            data.setdefault("target", TARGETS[scenario])
        line = json.dumps(data, sort_keys=False)
        print(line)
        print(f"{scenario}: {human}")
        print(f"reproduce: {self.reproduce(scenario)}")
        print(flush=True)
        with open(self.results, "a") as f:
            f.write(line + "\n")

    def cannot(self, scenario, reason):
        self.emit(scenario, dict(done=False, reason=reason),
                  f"not measured: {reason}")

    def init_dir(self, name, conf=""):
        d = self.root / name
        subprocess.run([str(self.samen), "-d", str(d), "init",
                        "--no-passphrase"], check=True, env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (d / "samen.conf").write_text(conf)
        return d

    def gen(self, *args):
        out = subprocess.run([self.tool("gen")] + [str(a) for a in args],
                             check=True, capture_output=True, text=True,
                             env=self.env)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def tool_json(self, *args, timeout=900):
        out = subprocess.run([str(a) for a in args], check=True,
                             capture_output=True, text=True, env=self.env,
                             timeout=timeout)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def perf_start(self, name, pid):
        """perf record with DWARF call graphs on pid (PERF=1)."""
        if not self.args.perf or not shutil.which("perf"):
            return None
        data = self.outdir / f"perf-{name}.data"
        p = subprocess.Popen(["perf", "record", "-F", "199", "--call-graph",
                              "dwarf,32768", "-o", str(data), "-p",
                              str(pid)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        return (p, data, name)

    def perf_stop(self, handle):
        if handle is None:
            return None
        p, data, name = handle
        p.send_signal(signal.SIGINT)
        p.wait(120)
        return perf_summary(self.outdir, name, data, self.args.keep)

    def sync_and_wait(self, b, a, poll=0.02, timeout=1800, capture=None):
        """B, already A's peer, starts a session with A (CTL_SYNC);
        returns (seconds, session, wire capture)."""
        cap = Capture(a.port) if capture else None
        for _ in range(1000):
            t0 = time.monotonic()
            code, msg, body = b.ctl.call(CTL_SYNC, [a.id])
            if code == 0:
                break
            if code != SAMEN_ENOTFOUND:   # a peer just added: not yet
                raise RuntimeError(f"sync: {msg}")
            time.sleep(0.001)
        round_ = body["round"]
        t, s = self.wait_session(b, a, round_, t0, poll, timeout)
        return t, s, cap.stop() if cap else None

    def first_sync(self, b, a, poll=0.02, timeout=1800, capture=None):
        """B adds A as a peer, which starts a session at B's next tick
        (sync on connect); the clock starts when that session is first
        seen running (polled every millisecond).  Returns (seconds,
        session, wire capture)."""
        cap = Capture(a.port) if capture else None
        b.ctl.ok(CTL_PEER_ADD, [a.id, a.addr])
        t_add = time.monotonic()
        while True:
            p = b.session(a.id)
            s = p and p.get("session")
            if s:
                break
            if time.monotonic() - t_add > 30:
                raise RuntimeError("no session started after peer add")
            time.sleep(0.001)
        t0 = time.monotonic() if s["state"] == "running" else t_add
        t, s = self.wait_session(b, a, s["round"], t0, poll, timeout)
        return t, s, cap.stop() if cap else None

    def wait_session(self, b, a, round_, t0, poll, timeout):
        while True:
            p = b.session(a.id)
            s = p and p.get("session")
            if s and s["round"] > round_:
                raise RuntimeError("another session superseded the one "
                                   "timed")
            if s and s["round"] == round_ and s["state"] != "running":
                return time.monotonic() - t0, s
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("sync: timed out")
            time.sleep(poll)

    def pair(self, tag, n, recs=1):
        """A holding n change sets (recs records each) in a circle shared
        with B, both running, B a peer of A; B holds nothing yet."""
        conf = "sync_interval = 0\n"
        da = self.init_dir(f"{tag}a", conf)
        db = self.init_dir(f"{tag}b", conf)
        self.gen("circle", "--name", "bench", "--into", da, "--member", db)
        g = self.gen("data", "--seed", tag, "--cs", n, "--recs", recs,
                     "--into", da)
        a = Daemon(self, da, free_port()).start()
        b = Daemon(self, db).start()
        return a, b, g

    def digests_equal(self, a, b, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            sa, sb = a.status(), b.status()
            if sa["replica_digest"] == sb["replica_digest"]:
                return True, sa, sb
            if time.monotonic() > deadline:
                return False, sa, sb
            time.sleep(0.05)


class Capture:
    """tcpdump on loopback for one port: data segments and direction runs
    (a run is a maximal sequence of data segments in one direction)."""

    def __init__(self, port):
        self.port = port
        self.proc = None
        if not shutil.which("tcpdump"):
            return
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-nn", "-tt", "-q", "-l", "-U",
             f"tcp port {port}"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        # Wait until it listens.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if "listening" in line or not line:
                break
        time.sleep(0.05)

    def stop(self):
        if self.proc is None:
            return None
        time.sleep(0.05)
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=10)
        runs, segs, bytes_ = 0, 0, 0
        last = None
        pat = re.compile(r"IP \S+\.(\d+) > \S+\.(\d+): tcp (\d+)")
        for line in out.splitlines():
            m = pat.search(line)
            if not m or int(m.group(3)) == 0:
                continue
            to_server = int(m.group(2)) == self.port
            segs += 1
            bytes_ += int(m.group(3))
            if to_server != last:
                runs += 1
                last = to_server
        return dict(tcp_payload_bytes=bytes_, data_segments=segs,
                    direction_runs=runs,
                    round_trips_wire=math.ceil(runs / 2))


# Where a sample's time goes, by the first of these functions found on its
# call stack (leaf first within each rule, rules in this order).
PERF_STAGES = [
    ("verify", ("changeset_verify",)),
    ("decrypt", ("changeset_chunk_open",)),
    ("update_deleted", ("update_deleted",)),
    ("index", ("store_record_load", "index_put", "load_index")),
    ("commit", ("store_commit",)),
    ("store", ("store_cs_insert",)),
    ("merge", ("store_merge_pending",)),
    ("decode", ("sync_decode", "changeset_header_decode",
                "changeset_payload_decode", "changeset_payload_check",
                "changeset_id")),
    ("send", ("pump", "store_cs_range")),
    ("sign", ("changeset_sign",)),
    ("control", ("ctl_batch",)),
    ("zmq", ("zmq_", "zsock_")),
]


def perf_summary(outdir, name, data, keep=False):
    """A flat profile (perf-NAME.txt) and the share of samples per stage;
    the (large) perf-NAME.data is removed unless keep."""
    report = outdir / f"perf-{name}.txt"
    with open(report, "w") as f:
        subprocess.run(["perf", "report", "-i", str(data), "--stdio",
                        "--no-children", "--sort", "dso,sym",
                        "--percent-limit", "0.5", "-g", "none"],
                       stdout=f, stderr=subprocess.DEVNULL)
        f.write("\n# inclusive\n")
        f.flush()
        subprocess.run(["perf", "report", "-i", str(data), "--stdio",
                        "--children", "--sort", "sym", "--percent-limit",
                        "2", "-g", "none"],
                       stdout=f, stderr=subprocess.DEVNULL)
    out = subprocess.run(["perf", "script", "-i", str(data), "-F",
                          "comm,tid,ip,sym"], capture_output=True,
                         text=True).stdout
    counts, comms = {}, {}
    frames, comm = [], None

    def done():
        if comm is None:
            return
        stage = "other"
        for st, keys in PERF_STAGES:
            if any(f.startswith(keys) for f in frames):
                stage = st
                break
        counts[stage] = counts.get(stage, 0) + 1
        comms[comm] = comms.get(comm, 0) + 1

    for line in out.splitlines():
        if not line.strip():
            done()
            frames, comm = [], None
        elif not line[0].isspace():
            comm = line.split()[0]
        else:
            parts = line.split()
            if len(parts) >= 2:
                frames.append(parts[1].split("+")[0])
    done()
    total = sum(counts.values()) or 1
    if not keep:
        try:
            os.unlink(data)
        except OSError:
            pass
    return dict(report=str(report), samples=total,
                stage_share={k: round(v / total, 3) for k, v in
                             sorted(counts.items(), key=lambda x: -x[1])},
                threads={k: round(v / total, 3) for k, v in comms.items()})


def model_round_trips(batches_each_way):
    """HELLO, VECTOR, then the batches: at most WINDOW in flight per chain,
    each window released by ACKs."""
    if batches_each_way == 0:
        return 1
    return 2 + math.ceil(batches_each_way / WINDOW)


# Scenarios.

def sc_limits(run):
    args = [run.tool("limits"), "--dir", str(run.root)]
    if run.args.size == "quick":
        args.append("--quick")
    L = run.tool_json(*args)
    L["page_reporting_kib"] = reported_kib()
    run.limits = L
    rep = L["page_reporting_kib"]
    run.emit("limits", L,
             f"ed25519 verify {human_n(L['ed25519_verify_per_s'])}/s "
             f"(best of 25 slices; median "
             f"{human_n(L['ed25519_verify_median_per_s'])}/s), "
             f"sign {human_n(L['ed25519_sign_per_s'])}/s (1 core); "
             f"XChaCha20-Poly1305 {L['xchacha20poly1305_MBps']:.0f} MB/s; "
             f"BLAKE2b {L['blake2b_MBps']:.0f} MB/s; SQLite "
             f"{human_n(L['sqlite_rows_per_s'])} rows/s in one txn "
             f"(median of {len(L['sqlite_rows_per_s_runs'])}: "
             f"{human_n(min(L['sqlite_rows_per_s_runs']))}–"
             f"{human_n(max(L['sqlite_rows_per_s_runs']))}) "
             f"({human_n(L['sqlite_rows_random_keys_per_s'])} with random "
             f"keys), {human_n(L['sqlite_fsync_txn_per_s'])} fsync'd "
             f"txn/s (p50 {L['sqlite_fsync_txn_p50_ms']:.2f} ms, p99 "
             f"{L['sqlite_fsync_txn_p99_ms']:.2f}, p99.9 "
             f"{L['sqlite_fsync_txn_p999_ms']:.2f}); ZeroMQ "
             f"{human_n(L['zmq_msgs_per_s'])} msgs/s, CURVE "
             f"{human_n(L['zmq_curve_msgs_per_s'])} msgs/s "
             f"({L['zmq_curve_MBps_1MiB']:.0f} MB/s at 1 MiB), round trip "
             f"{1e3 / L['zmq_curve_roundtrips_per_s']:.3f} ms with CURVE"
             + (f"; free page reporting: {rep / 2**20:.1f} GiB of free "
                f"memory handed back to the host since boot" if rep else ""))


def memory_line(mem):
    """bulk's new memory, for a person."""
    out = []
    if mem["receiver_faults"] is not None:
        mib = mem["receiver_faults"] * os.sysconf("SC_PAGE_SIZE") / 2**20
        out.append(f"the receiver faulted in {human_n(mem['receiver_faults'])}"
                   f" pages ({mib:.0f} MiB)")
    out.append(f"its samen.db grew {mem['db_grew_bytes'] / 2**20:.0f} MiB "
               f"(in the page cache)")
    if mem.get("page_cache_at_start_kib") is not None:
        out.append(f"with {mem['page_cache_at_start_kib'] / 2**20:.1f} GiB "
                   f"of files in the page cache at the start")
    if mem["page_reporting"]:
        out.append("on a machine that hands its free memory back to its "
                   "host")
    return ", ".join(out)


def sc_initial(run, report=True):
    if "initial" in run.cache:
        return run.cache["initial"]
    n = run.size["initial"]
    a, b, g = run.pair("i", n)
    cpu_a0, cpu_b0 = proc_cpu(a.pid), proc_cpu(b.pid)
    perf = run.perf_start("initial", b.pid)
    t, s, _ = run.first_sync(b, a, poll=0.05)
    cpu_a, cpu_b = proc_cpu(a.pid) - cpu_a0, proc_cpu(b.pid) - cpu_b0
    prof = run.perf_stop(perf)
    equal, sa, sb = run.digests_equal(a, b)
    run.cache["initial"] = (a, b)
    if not report:
        return a, b
    L = run.limits
    cs = s["received"]
    rate = cs / t
    # The stages, measured in-process with the daemon's own functions on
    # the same change sets (gen replay), into a third, empty directory.
    replay = None
    if run.size["replay"]:
        dc = run.init_dir("ic")
        replay = run.tool_json(run.tool("gen"), "replay", "--from", a.path,
                               "--into", dc, "--limit", run.size["replay"])
    if replay:
        # The wire (ZeroMQ with CURVE) runs on libzmq's I/O thread: its
        # share per change set at the loopback rate of limits.
        replay["us_per_cs"]["wire_estimate"] = r3(
            replay["bytes"] / replay["cs"] /
            (L["zmq_curve_MBps_1MiB"] * 1e6) * 1e6)
    data = dict(changesets=cs, authors=20, records=n, seconds=r3(t),
                digests_equal=equal, changesets_per_s=round(rate),
                ratio_to_verify_1core=r3(rate / L["ed25519_verify_per_s"]),
                bound="ed25519 verify/s, one core",
                target_ratio=0.7, stretch_ratio=1.4,
                cpu_s_receiver=r3(cpu_b), cpu_s_sender=r3(cpu_a),
                cores_used_receiver=r3(cpu_b / t),
                bytes_received=s["bytes_received"],
                bytes_sent=s["bytes_sent"],
                rss_receiver=proc_mem(b.pid), generate=g, stages=replay,
                profile=prof)
    # The limits bound is measured for 0.5-1 s minutes earlier and moves
    # with the machine's other load; the replay's verify time is measured on
    # these very change sets, right after the sync: a second bound.
    again = ""
    if replay and replay["us_per_cs"].get("verify"):
        vr = 1e6 / replay["us_per_cs"]["verify"]
        data["verify_per_s_replay"] = round(vr)
        data["ratio_to_verify_replay"] = r3(rate / vr)
        again = f" ({rate / vr:.2f} × the replay's own verify rate, " \
                f"{human_n(vr)}/s)"
    stages = ""
    if replay:
        u = replay["us_per_cs"]
        stages = (f"; per change set, replayed in-process: receive "
                  f"{u['decode'] + u['payload_check']:.1f} µs (+ "
                  f"{u['wire_estimate']:.1f} on the wire), verify "
                  f"{u['verify']:.1f}, decrypt (read ahead on the pool) "
                  f"{u['read_ahead_on_pool']:.1f}, store and merge "
                  f"{u['store_and_merge']:.1f}"
                  f" (+ {u['merge_pending']:.1f} pending), commit "
                  f"{u['commit']:.1f} (+ {u['sync_off_loop']:.1f} of "
                  f"sync on its own thread, "
                  f"+ {u['checkpoint_off_loop']:.1f} of checkpoints on "
                  f"the pool), index {u['index']:.1f}")
    if prof:
        # The daemon's own time per change set by stage: the share of its
        # samples times its CPU seconds.
        prof["us_per_cs"] = {k: r3(v * cpu_b / cs * 1e6) for k, v in
                             prof["stage_share"].items()}
        stages += "; in the daemon (perf): " + ", ".join(
            f"{k} {v:.1f}" for k, v in prof["us_per_cs"].items()) + " µs"
    run.emit("initial", data,
             f"{cs} change sets from 20 authors in {t:.2f} s = "
             f"{human_n(rate)}/s, {rate / L['ed25519_verify_per_s']:.2f} × "
             f"verify bound{again} (target 0.7); receiver used "
             f"{cpu_b / t:.2f} cores; digests equal: {equal}{stages}")
    return a, b


def sc_insync(run):
    a, b = sc_initial(run, report="initial" not in run.args.only_set)
    reps = run.size["insync_reps"]
    times, bytes_, wires, states = [], [], [], []
    for i in range(reps):
        t, s, wire = run.sync_and_wait(b, a, poll=0.0005,
                                       capture=(i == reps - 1))
        times.append(t)
        bytes_.append(s["bytes_sent"] + s["bytes_received"])
        states.append((s["state"], s["in_sync"]))
        if wire:
            wires.append(wire)
    # A fresh connection: forget and re-add the peer (new socket, CURVE
    # handshake, ZAP), and sync at once (this supersedes a session the
    # re-added peer may have started on its own: nothing to exchange).
    b.ctl.ok(CTL_PEER_RM, [a.id])
    b.ctl.ok(CTL_PEER_ADD, [a.id, a.addr])
    t_conn, s_conn, _ = run.sync_and_wait(b, a, poll=0.0005)
    L = run.limits
    rtt = 1 / L["zmq_curve_roundtrips_per_s"]
    p50 = pct(times, 0.5)
    circles = 1
    data = dict(sessions=reps, all_in_sync=all(x == ("done", True)
                                               for x in states),
                round_trips=1 if all(x[1] for x in states) else None,
                p50_ms=r3(p50 * 1e3), p99_ms=r3(pct(times, 0.99) * 1e3),
                max_ms=r3(max(times) * 1e3),
                bytes_per_session=pct(bytes_, 0.5), circles=circles,
                bytes_per_circle=pct(bytes_, 0.5) / circles,
                wire=wires[-1] if wires else None,
                fresh_connection_ms=r3(t_conn * 1e3),
                fresh_connection_in_sync=s_conn["in_sync"],
                ratio_to_curve_rtt=r3(p50 / rtt),
                bound="one ZeroMQ CURVE round trip on loopback",
                measured_as="from the CTL_SYNC request to peer ls showing "
                            "the session done, polled every 0.5 ms")
    w = wires[-1] if wires else {}
    run.emit("insync", data,
             f"{reps} sessions between daemons holding the same "
             f"{run.size['initial']} change sets: in sync "
             f"{data['all_in_sync']}, 1 round trip, "
             f"{data['bytes_per_session']} B of messages "
             f"({w.get('tcp_payload_bytes', '?')} B of TCP payload with "
             f"ZMTP and CURVE), p50 {p50 * 1e3:.2f} ms "
             f"({p50 / rtt:.1f} × a CURVE round trip), p99 "
             f"{data['p99_ms']:.2f} ms; with a new connection "
             f"{t_conn * 1e3:.1f} ms")


def sc_diff(run):
    n = run.size["diff"]
    k = n // 100
    conf = "sync_interval = 0\n"
    da, db = run.init_dir("da", conf), run.init_dir("db", conf)
    run.gen("circle", "--name", "bench", "--into", da, "--into", db)
    g = run.gen("data", "--seed", "d", "--cs", n, "--into", da, "--into", db)
    ua = run.gen("update", "--seed", "d", "--cs", k, "--offset", 0,
                 "--stride", 100, "--into", da)
    ub = run.gen("update", "--seed", "d", "--cs", k, "--offset", 50,
                 "--stride", 100, "--into", db)
    a = Daemon(run, da, free_port()).start()
    b = Daemon(run, db).start()
    t, s, wire = run.first_sync(b, a, poll=0.002, capture=True)
    equal, _, _ = run.digests_equal(a, b)
    missing = ua["bytes"] + ub["bytes"]
    total = s["bytes_sent"] + s["bytes_received"]
    diffs = ua["cs"] + ub["cs"]
    meta = total - missing
    batches = math.ceil(max(ua["cs"], ub["cs"]) / SYNC_MAX_BATCH)
    data = dict(records=n, changed_each_side=k, seconds=r3(t),
                digests_equal=equal, sent=s["sent"], received=s["received"],
                one_session=(s["sent"] == ub["cs"] and
                             s["received"] == ua["cs"]),
                bytes_on_wire=total, missing_changeset_bytes=missing,
                ratio_bytes_to_missing=r3(total / missing),
                metadata_bytes=meta,
                metadata_bytes_per_difference=r3(meta / diffs),
                round_trips_model=model_round_trips(batches),
                wire=wire, bound="the missing change sets' bytes",
                generate=g)
    w = wire or {}
    run.emit("diff", data,
             f"{n} records, {k} changed on each side: {total} B of "
             f"messages for {missing} B of missing change sets "
             f"({total / missing:.3f} ×), {meta / diffs:.1f} B of "
             f"metadata per difference; {t * 1e3:.0f} ms; round trips: "
             f"{data['round_trips_model']} by the protocol's rules, "
             f"{w.get('round_trips_wire', '?')} by direction changes on "
             f"the wire; digests equal: {equal}")
    a.stop()
    b.stop()


def sc_bulk(run):
    n = run.size["bulk"]
    per = 500           # records per change set: 1,000 operations
    a, b, g = run.pair("b", n // per, recs=per)
    cpu_b0 = proc_cpu(b.pid)
    db = b.path / "samen.db"
    flt0, db0 = proc_faults(b.pid), file_bytes(db)
    cached = page_cache_kib()
    perf = run.perf_start("bulk", b.pid)
    t, s, _ = run.first_sync(b, a, poll=0.05)
    cpu_b = proc_cpu(b.pid) - cpu_b0
    flt = proc_faults(b.pid)
    prof = run.perf_stop(perf)
    # New memory: the receiver's pages (its index, mostly) and samen.db's
    # page cache.  On a VM that hands its free memory back to its host
    # (free page reporting, in limits' line), a new page can cost the
    # host's fault as well: docs/performance.md §2, "The page cache and
    # bulk's figure".
    mem = dict(receiver_faults=flt - flt0 if None not in (flt, flt0)
               else None, db_grew_bytes=file_bytes(db) - db0,
               page_reporting=bool(run.limits.get("page_reporting_kib")),
               page_cache_at_start_kib=cached)
    equal, _, sb = run.digests_equal(a, b)
    ops = 2 * n
    rate = ops / t
    L = run.limits
    data = dict(records=n, changesets=s["received"], ops_per_changeset=1000,
                ops=ops, seconds=r3(t), digests_equal=equal,
                ops_per_s=round(rate), records_per_s=round(n / t),
                ratio_to_sqlite=r3(rate / L["sqlite_rows_per_s"]),
                bound="SQLite rows/s in one transaction (time-ordered keys)",
                target_ratio=0.55, cores_used_receiver=r3(cpu_b / t),
                ops_counted_as="one EXIST and one SET per record: each is "
                               "one row of the replica's values",
                memory=mem, generate=g, profile=prof)
    if prof:
        prof["us_per_op"] = {k: r3(v * cpu_b / ops * 1e6) for k, v in
                             prof["stage_share"].items()}
    run.emit("bulk", data,
             f"{n} records in {s['received']} change sets of 1,000 "
             f"operations: {t:.2f} s = {human_n(rate)} ops/s, "
             f"{rate / L['sqlite_rows_per_s']:.3f} × SQLite bound (target "
             f"0.55); digests equal: {equal}; new memory: "
             f"{memory_line(mem)}")
    a.stop()
    run.cache["bulk"] = b


def startup(run, d, client_dir):
    """Stops d, starts it, and times the first answered sync request
    (HELLO from client_dir's device) and the first control reply."""
    d.stop()
    if not d.port:
        d.port = free_port()
    t0 = time.monotonic_ns()
    d.start(wait=False)
    probe = subprocess.Popen([run.tool("probe"), str(client_dir), d.id,
                              d.addr, str(t0), "120"],
                             stdout=subprocess.PIPE, text=True)
    d.wait_up()
    t_ctl = (time.monotonic_ns() - t0) / 1e6
    out, _ = probe.communicate(timeout=180)
    if probe.returncode != 0 or not out.strip():
        raise RuntimeError(f"probe failed ({probe.returncode}): {out}")
    r = json.loads(out.strip().splitlines()[-1])
    return r["ready_ms"], t_ctl


def sc_footprint(run):
    a, b = sc_initial(run, report=False)
    out = {}
    for name, d in (("sender", a), ("receiver", b)):
        st = d.status()
        files = [d.path / f for f in ("samen.db", "samen.db-wal")]
        size = sum(f.stat().st_size for f in files if f.exists())
        out[name] = dict(records=st["records"], changesets=st["changesets"],
                         db_bytes=size,
                         db_bytes_per_record=round(size / st["records"]),
                         **proc_mem(d.pid))
    ready, t_ctl = startup(run, a, b.path)
    rss_restart = proc_mem(a.pid)
    out["restart"] = dict(records=a.status()["records"],
                          first_sync_request_ms=ready, control_ms=r3(t_ctl),
                          **rss_restart)
    if "bulk" in run.cache:
        bb = run.cache["bulk"]
        # The probe's device must be a member: the bulk pair's A.
        ready_b, t_ctl_b = startup(run, bb, run.root / "ba")
        out["restart_bulk"] = dict(records=bb.status()["records"],
                                   first_sync_request_ms=ready_b,
                                   control_ms=r3(t_ctl_b),
                                   **proc_mem(bb.pid))
    big = out.get("restart_bulk", out["restart"])
    rss = out["restart"]["VmRSS"]
    # Bound for start-up: reading the database once, from the page cache.
    big_db = (run.cache["bulk"].path if "bulk" in run.cache
              else a.path) / "samen.db"
    t = time.monotonic()
    with open(big_db, "rb") as f:
        while f.read(1 << 20):
            pass
    read_ms = (time.monotonic() - t) * 1e3
    data = dict(**out, rss_target_bytes=100 << 20,
                rss_ratio_to_target=r3(rss / (100 << 20)),
                startup_records=big["records"],
                startup_ms=big["first_sync_request_ms"],
                startup_bound_ms=r3(read_ms),
                startup_bound="reading samen.db once from the page cache",
                startup_ratio_to_bound=r3(big["first_sync_request_ms"] /
                                          read_ms) if read_ms else None)
    run.emit("footprint", data,
             f"{out['restart']['records']} records: RSS "
             f"{rss / 2**20:.0f} MiB after start "
             f"({out['receiver']['VmRSS'] / 2**20:.0f} MiB after receiving "
             f"them by sync), {out['receiver']['db_bytes_per_record']} B of "
             f"database per record; first sync request served "
             f"{big['first_sync_request_ms']:.0f} ms after start with "
             f"{big['records']} records ({read_ms:.0f} ms to read the "
             f"database once)")


def sc_entry(run):
    # This machine's disk stalls requests for 10-15 ms past a rate that
    # moves by the hour (docs/performance.md §5, "The disk's request
    # limit"): probed alone, with no daemon of the run up, before and
    # after the scenario, so that a run says what the disk was doing
    # around its windows.
    probe_before = disk_probe(run)
    d = Daemon(run, run.init_dir("e", "sync_interval = 0\n")).start()
    L = run.limits
    n = run.size["entry_seq"]
    seq = run.tool_json(run.tool("ctlbench"), "spawn", n, run.samen, "-d",
                        d.path, "put", "note", "text=quick entry {i} na "
                        "het huisbezoek: afspraak met budgetcoach gemaakt")
    api1 = run.tool_json(run.tool("ctlbench"), "put", d.path, n, 1)
    pipes = []
    prof = None
    for w in ENTRY_WINDOWS:
        perf = run.perf_start("entry", d.pid) if w == 256 else None
        cpu0, disk0 = proc_cpu(d.pid), disk_ops(d.path)
        pipes.append(run.tool_json(run.tool("ctlbench"), "put", d.path,
                                   run.size["entry_pipe"], w))
        cpu, disk1 = proc_cpu(d.pid) - cpu0, disk_ops(d.path)
        pipes[-1]["daemon_cpu_s"] = r3(cpu)
        pipes[-1]["daemon_cores"] = r3(cpu / pipes[-1]["s"])
        if disk0 and disk1:
            # The disk's requests per write (docs/performance.md §5, "The
            # disk's request limit": it stalls past about 4k a second).
            nw, nf = disk1[0] - disk0[0], disk1[1] - disk0[1]
            pipes[-1]["disk_writes_per_write"] = r3(nw / run.size["entry_pipe"])
            pipes[-1]["disk_flushes_per_write"] = r3(nf / run.size["entry_pipe"])
            pipes[-1]["disk_requests_per_s"] = round((nw + nf) / pipes[-1]["s"])
        if perf:
            prof = run.perf_stop(perf)
            prof["us_per_write"] = {
                k: r3(v * cpu / run.size["entry_pipe"] * 1e6)
                for k, v in prof["stage_share"].items()}
    d.stop()
    probe_after = disk_probe(run)
    best = max(pipes, key=lambda x: x["per_s"])
    # The target is a rate and a tail together: the fastest window whose
    # p99 stays within 5 ms is the operating point that answers it.
    within = [p for p in pipes if p["p99_ms"] <= ENTRY_P99_MS]
    point = max(within, key=lambda x: x["per_s"]) if within else None
    data = dict(samen_put=seq, api_sequential=api1, api_pipelined=pipes,
                best_writes_per_s=best["per_s"], best_window=best["window"],
                best_p99_ms=best["p99_ms"],
                within_p99=dict(p99_ms_bound=ENTRY_P99_MS,
                                window=point["window"] if point else None,
                                writes_per_s=point["per_s"] if point
                                else None,
                                ratio_to_target=r3(point["per_s"] / 20_000)
                                if point else None),
                ratio_p50_to_fsync=r3(seq["p50_ms"] /
                                      L["sqlite_fsync_txn_p50_ms"]),
                ratio_to_sign_1core=r3(best["per_s"] /
                                       L["ed25519_sign_per_s"]),
                ratio_to_target=r3(best["per_s"] / 20_000),
                fsync_txn_p99_ms=L["sqlite_fsync_txn_p99_ms"],
                fsync_txn_p999_ms=L["sqlite_fsync_txn_p999_ms"],
                bound="samen put: one fsync'd commit; pipelined: none "
                      "per write (a batch signs one change set per circle, "
                      "docs/design.md); ratio to the 20k/s target; its "
                      "p99 beside the disk's own fsync tail (one slow sync "
                      "holds every write in flight)",
                disk_probe=dict(before=probe_before, after=probe_after),
                profile=prof)
    run.emit("entry", data,
             f"{n} × samen put: p50 {seq['p50_ms']:.2f} ms, p99 "
             f"{seq['p99_ms']:.2f} ms (one request over the API: p50 "
             f"{api1['p50_ms']:.2f} ms); pipelined: "
             + ", ".join(f"window {p['window']}: {human_n(p['per_s'])}/s "
                         f"p99 {p['p99_ms']:.1f} ms" for p in pipes)
             + f"; fastest with p99 ≤ {ENTRY_P99_MS:g} ms: "
             + (f"window {point['window']}, {human_n(point['per_s'])}/s = "
                f"{point['per_s'] / 20_000:.2f} × the 20k/s target"
                if point else "none")
             + f" (the disk's fsync'd commit alone: p99 "
             f"{L['sqlite_fsync_txn_p99_ms']:.2f} ms, p99.9 "
             f"{L['sqlite_fsync_txn_p999_ms']:.2f} ms)"
             + "".join(f"; the disk at window {p['window']}: "
                       f"{p['disk_writes_per_write'] + p['disk_flushes_per_write']:.2f}"
                       f" requests per write ({p['disk_writes_per_write']:.2f}"
                       f" writes, {p['disk_flushes_per_write']:.3f} flushes), "
                       f"{human_n(p['disk_requests_per_s'])}/s"
                       for p in pipes
                       if p["window"] == 48 and "disk_requests_per_s" in p)
             + "".join(f"; the disk alone {when}: "
                       + ", ".join(f"{human_n(q['rate'])} "
                                   f"{'synced writes' if q['sync'] else 'writes'}/s: "
                                   f"{q['stalls']} over {q['stall_ms']:g} ms "
                                   f"(max {q['max_ms']:.1f})" for q in probe)
                       for when, probe in (("before", probe_before),
                                           ("after", probe_after))
                       if probe))


def audit_bytes(db):
    """Change sets of audit chains in db (cs.readable = 2, daemon/store_int.h)
    and their bytes, header and payload."""
    import sqlite3
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        n, b = con.execute("SELECT count(*), coalesce(sum(length(hdr) + "
                           "length(payload)), 0) FROM cs WHERE readable = 2"
                           ).fetchone()
    finally:
        con.close()
    return n, b


def sc_reads(run):
    """samen get, one request at a time over the API, and pipelined reads
    of one case (with its three notes, in a shared circle: the private
    circle's reads are not audited) with the read audit as it ships
    ("on": each batch's events sealed, written and synced before its
    replies), without it ("off": SAMEND_TEST_AUDIT=off, the figures of
    before) and answered after the WAL commit without its sync ("wal":
    SAMEND_TEST_AUDIT=wal, the other choice), the three in turns, twice,
    the better of each pair; then the bytes the events took."""
    d = run.init_dir("rd", "sync_interval = 0\n")
    daemon = Daemon(run, d).start()
    samen = [str(run.samen), "-d", str(d)]

    def cli(*a):
        return subprocess.run(samen + list(a), check=True, env=run.env,
                              capture_output=True, text=True).stdout.strip()
    cli("circle", "new", "bench")
    cli("circle", "use", "bench")
    rid = cli("put", "case", "name=bench case", "status=open",
              "lead=worker")
    for i in range(3):
        cli("note", rid, f"note {i} na het huisbezoek")
    daemon.stop()
    n_seq, n_pipe = run.size["entry_seq"], run.size["entry_pipe"]
    modes = (("on", {}), ("off", {"SAMEND_TEST_AUDIT": "off"}),
             ("wal", {"SAMEND_TEST_AUDIT": "wal"}))
    got = {m: [] for m, _ in modes}
    reads = 0
    for _ in range(2):
        for mode, env in modes:
            daemon.start(env=env)
            seq = run.tool_json(run.tool("ctlbench"), "spawn", n_seq,
                                run.samen, "-d", d, "get", "case", rid)
            pipes = [run.tool_json(run.tool("ctlbench"), "get", d,
                                   n_pipe if w > 1 else n_seq, w, "case",
                                   rid) for w in READS_WINDOWS]
            daemon.stop()
            if mode != "off":
                reads += n_seq + n_seq + n_pipe * (len(READS_WINDOWS) - 1)
            got[mode].append(dict(samen_get=seq, api=pipes))

    def best(runs):
        """The better of the runs, figure by figure."""
        seq = min((r["samen_get"] for r in runs), key=lambda x: x["p50_ms"])
        api = [max((r["api"][i] for r in runs), key=lambda x: x["per_s"])
               for i in range(len(READS_WINDOWS))]
        return dict(samen_get=seq, api=api)
    res = {m: best(got[m]) for m in got}
    ncs, nbytes = audit_bytes(d / "samen.db")

    def ratio(m, key):
        on, off = res[m]["samen_get"][key], res["off"]["samen_get"][key]
        return r3(on / off) if off else None
    top = {m: max(res[m]["api"], key=lambda x: x["per_s"]) for m in res}
    slow = {m: r3(top["off"]["per_s"] / top[m]["per_s"])
            for m in res if top[m]["per_s"]}
    data = dict(
        modes={m: dict(samen_get=res[m]["samen_get"], api=res[m]["api"])
               for m in res},
        ratio_p50={m: ratio(m, "p50_ms") for m in ("on", "wal")},
        ratio_p99={m: ratio(m, "p99_ms") for m in ("on", "wal")},
        ratio_api1_p50={m: r3(res[m]["api"][0]["p50_ms"] /
                              res["off"]["api"][0]["p50_ms"])
                        for m in ("on", "wal")},
        best_reads_per_s={m: top[m]["per_s"] for m in res},
        best_window={m: top[m]["window"] for m in res},
        slowdown_pipelined=slow,
        within_1_5={m: all(x is not None and x <= 1.5 for x in (
            ratio(m, "p50_ms"), ratio(m, "p99_ms"), slow.get(m)))
                    for m in ("on", "wal")},
        audit_changesets=ncs, audit_bytes=nbytes, reads_audited=reads,
        audit_bytes_per_read=round(nbytes / reads) if reads else None,
        bound="the same reads without the read audit, in the same run")
    run.emit("reads", data,
             "samen get p50/p99: " + ", ".join(
                 f"{m} {res[m]['samen_get']['p50_ms']:.2f}/"
                 f"{res[m]['samen_get']['p99_ms']:.2f} ms"
                 for m in ("off", "on", "wal"))
             + "; one at a time over the API p50: " + ", ".join(
                 f"{m} {res[m]['api'][0]['p50_ms']:.3f} ms"
                 for m in ("off", "on", "wal"))
             + "; pipelined best: " + ", ".join(
                 f"{m} {human_n(top[m]['per_s'])}/s (window "
                 f"{top[m]['window']}, p99 {top[m]['p99_ms']:.1f} ms)"
                 for m in ("off", "on", "wal"))
             + f"; with the audit on: p50 × {ratio('on', 'p50_ms')}, "
               f"p99 × {ratio('on', 'p99_ms')}, pipelined "
               f"{slow.get('on')} × slower "
               f"({'within' if data['within_1_5']['on'] else 'past'} 1.5 ×)"
             + f"; {reads} reads audited in {ncs} change sets, "
               f"{nbytes / reads if reads else 0:.0f} bytes a read")


def sc_storm(run):
    n = run.size["storm"]
    handle = None
    args = [run.tool("storm"), "--authors", str(n), "--dir", str(run.root)]
    if run.args.perf and shutil.which("perf"):
        handle = run.outdir / "perf-storm.data"
        args = ["perf", "record", "-F", "499", "--call-graph",
                "dwarf,32768", "-o", str(handle), "--"] + args
    r = run.tool_json(*args)
    prof = (perf_summary(run.outdir, "storm", handle, run.args.keep)
            if handle else None)
    L = run.limits
    rows = r["ops"] + r["refs"]
    bound_ms = rows / L["sqlite_rows_per_s"] * 1e3
    data = dict(**r, bound_ms=r3(bound_ms),
                bound="its rows (ops + kills) at SQLite's insert rate",
                ratio_to_bound=r3(r["merge_ms"] / bound_ms), profile=prof)
    run.emit("storm", data,
             f"{n} devices on one field and one set: merge "
             f"{r['merge_ms']:.0f} ms (target 100; {r['merge_ms'] / bound_ms:.0f}"
             f" × the rows' insert time), signatures apart: sign "
             f"{r['sign_ms']:.0f} ms, verify {r['verify_ms']:.0f} ms; "
             f"{r['status_survivors']} survivors shown as a conflict; "
             f"another order gives the same digest: {r['digest_equal']}; "
             f"index refresh after the sync-sized batches: "
             f"{r['refreshes']} reloads, {r['refresh_ms']:.0f} ms")


def sc_removal(run):
    """A circle of n members (gen circle: a create and n - 1 adds); the
    admin's daemon removes k of them one by one over the control socket:
    each reply comes once the removal (its cut, a new epoch's key sealed
    to every remaining reader) is written and on disk.  Then the roster of
    the chain those ops left, read and resolved in-process as samend does
    (gen roster)."""
    n, k = run.size["removal"], run.size["removals"]
    da = run.init_dir("rm", "sync_interval = 0\n")
    g = run.gen("circle", "--name", "bench", "--into", da, "--random", n - 1)
    before = run.gen("roster", "--from", da, "--reps", 200)
    d = Daemon(run, da).start()
    circles = d.ctl.ok(CTL_CIRCLE_LS, [])
    team = [c for c in circles if c["name"] == "bench"][0]
    gone = [m["device"] for m in team["members"]
            if m["role"] == "member"][:k]
    cpu0 = proc_cpu(d.pid)
    times = []
    for dev in gone:
        t0 = time.monotonic()
        d.ctl.ok(CTL_CIRCLE_RM, ["bench", dev])
        times.append((time.monotonic() - t0) * 1e3)
    cpu = proc_cpu(d.pid) - cpu0
    after = [c for c in d.ctl.ok(CTL_CIRCLE_LS, [])
             if c["name"] == "bench"][0]
    d.stop()
    resolved = run.gen("roster", "--from", da, "--reps", 200)
    L = run.limits
    data = dict(members=n, removals=k, generate=g,
                rm_ms=[r3(t) for t in times], rm_first_ms=r3(times[0]),
                rm_p50_ms=r3(pct(times, 0.5)), rm_max_ms=r3(max(times)),
                daemon_cpu_ms_per_rm=r3(cpu / k * 1e3),
                epochs_after=after["epochs"], roster_before=before,
                roster_after=resolved,
                fsync_txn_p50_ms=L["sqlite_fsync_txn_p50_ms"],
                bound="one fsync'd commit (a removal is one durable write)",
                ratio_p50_to_fsync=r3(pct(times, 0.5) /
                                      L["sqlite_fsync_txn_p50_ms"]))
    run.emit("removal", data,
             f"circle of {n}: circle rm replied in {times[0]:.1f} ms "
             f"(first), p50 {pct(times, 0.5):.1f} ms, max {max(times):.1f} "
             f"ms over {k} removals ({pct(times, 0.5) / L['sqlite_fsync_txn_p50_ms']:.1f}"
             f" × one fsync'd commit), daemon CPU {cpu / k * 1e3:.1f} ms "
             f"each; the roster of {resolved['ops']} ops: read "
             f"{resolved['read_ms']:.2f} ms (open {resolved['open_ms']:.2f},"
             f" parse {resolved['parse_ms']:.2f}), resolve "
             f"{resolved['resolve_ms']:.3f} ms ({before['ops']} ops: "
             f"{before['resolve_ms']:.3f} ms)")


def sc_erase(run):
    """A replica of N cases; one case and 100 notes that link to it are
    written, then erased as a purge with --cascade erases them (gen erase),
    erase_reps times on fresh copies of the replica: the median."""
    n, reps = run.size["erase"], run.size["erase_reps"]
    d = run.init_dir("er")
    run.gen("circle", "--name", "bench", "--into", d)
    run.gen("data", "--seed", "er", "--cs", n, "--into", d)
    base = run.root / "er.base"
    shutil.copytree(d, base)
    runs = []
    for i in range(reps):
        if i > 0:
            shutil.rmtree(d)
            shutil.copytree(base, d)
        runs.append(run.gen("erase", "--into", d, "--notes", 100))
    shutil.rmtree(base, ignore_errors=True)
    erase = sorted(r["erase_ms"] for r in runs)[reps // 2]
    trunc = sorted(r["truncate_ms"] for r in runs)[reps // 2]
    scan = sorted(r["scan_ms"] for r in runs)[reps // 2]
    r = runs[-1]
    data = dict(replica=r["replica"], records=r["records"],
                changesets=r["changesets"], chunks=r["chunks"],
                erase_ms=erase, truncate_ms=trunc,
                erase_ms_each=[x["erase_ms"] for x in runs],
                bound_ms=scan,
                bound="reading every change set of the circle once",
                ratio_to_bound=r3(erase / scan) if scan else None)
    run.emit("erase", data,
             f"purge of 1 case + 100 notes on {r['replica']} records: "
             f"erase {erase:.0f} ms (median of {reps}; {r['chunks']} "
             f"chunks in {r['changesets']} change sets, "
             f"{r['records']} records), WAL truncate {trunc:.1f} ms; "
             f"{erase / scan if scan else 0:.1f} × one read of the "
             f"circle's {r['scanned']} change sets ({scan:.0f} ms)")


def regular_graph(n, degree, rng):
    """A random connected simple degree-regular graph (pairing model)."""
    while True:
        stubs = [v for v in range(n) for _ in range(degree)]
        rng.shuffle(stubs)
        edges = set()
        ok = True
        for i in range(0, len(stubs), 2):
            u, v = sorted((stubs[i], stubs[i + 1]))
            if u == v or (u, v) in edges:
                ok = False
                break
            edges.add((u, v))
        if ok and connected(n, edges):
            return sorted(edges)


def adjacency(n, edges):
    adj = {v: set() for v in range(n)}
    for u, v in edges:
        adj[u].add(v)
        adj[v].add(u)
    return adj


def connected(n, edges):
    return len(bfs(adjacency(n, edges), 0)) == n


def bfs(adj, src):
    dist, frontier = {src: 0}, [src]
    while frontier:
        nxt = []
        for u in frontier:
            for v in adj[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    nxt.append(v)
        frontier = nxt
    return dist


def network(run, tag, n, edges, interval):
    """n daemons in one circle; for each edge (u, v) u connects to v."""
    conf = f"sync_interval = {interval}\n"
    dirs = [run.init_dir(f"{tag}{i}", conf) for i in range(n)]
    args = ["circle", "--name", "bench"]
    for d in dirs:
        args += ["--into", d]
    run.gen(*args)
    ds = [Daemon(run, d, free_port()) for d in dirs]
    out = {i: [] for i in range(n)}
    for u, v in edges:
        out[u].append(f"{dirs[v]}@{ds[v].addr}")
        out[v].append(f"{dirs[u]}")
    for i in range(n):
        if out[i]:
            args = ["peer", "--into", dirs[i]]
            for p in out[i]:
                args += ["--peer", p]
            run.gen(*args)
    for d in ds:
        d.start(wait=False)
    for d in ds:
        d.wait_up()
    # Settle: every connecting side has finished one session.
    deadline = time.monotonic() + 60
    for d in ds:
        while time.monotonic() < deadline:
            peers = d.ctl.ok(CTL_PEER_LS, [])
            if all(p["addr"] is None or p["last_sync"] for p in peers):
                break
            time.sleep(0.1)
    return ds


def spread(run, ds, origin, text, timeout=120):
    """Writes on ds[origin]; returns each daemon's delay until it holds the
    record (seconds), polled in sweeps."""
    t0 = time.monotonic()
    body = ds[origin].ctl.ok(CTL_PUT, ["note", None, [[0, "text", text]],
                                       "bench"])
    rid = body["id"]
    got = {origin: time.monotonic() - t0}
    while len(got) < len(ds):
        for i, d in enumerate(ds):
            if i in got:
                continue
            code, _, _ = d.ctl.call(CTL_GET, ["note", rid])
            if code == 0:
                got[i] = time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            break
        time.sleep(0.002)
    return got


def sc_gossip(run):
    rng = random.Random(4)
    interval = 1
    n = run.size["gossip"]
    edges = regular_graph(n, 3, rng)
    adj = adjacency(n, edges)
    ds = network(run, "g", n, edges, interval)
    writes = []
    for w in range(run.size["gossip_writes"]):
        origin = rng.randrange(n)
        got = spread(run, ds, origin, f"gossip {w}")
        dist = bfs(adj, origin)
        t_all = max(got.values()) if len(got) == n else None
        by_hops = {}
        for i, t in got.items():
            by_hops.setdefault(dist[i], []).append(t)
        writes.append(dict(origin=origin, reached=len(got),
                           seconds_all=r3(t_all),
                           hops_max=max(dist.values()),
                           rounds=r3(t_all / interval) if t_all else None,
                           p50_s_by_hops={h: r3(pct(v, 0.5))
                                          for h, v in sorted(by_hops.items())
                                          }))
        time.sleep(1.5 * interval)
    for d in ds:
        d.stop()
    # The chain: i connects to i + 1.
    m = run.size["chain"]
    cs = network(run, "c", m, [(i, i + 1) for i in range(m - 1)], interval)
    hops = []
    totals = []
    for w in range(run.size["chain_writes"]):
        got = spread(run, cs, 0, f"chain {w}")
        if len(got) == m:
            totals.append(got[m - 1])
            hops += [got[i] - got[i - 1] for i in range(1, m)]
        time.sleep(interval)
    for d in cs:
        d.stop()
    alls = [x["seconds_all"] for x in writes if x["seconds_all"]]
    rounds = [x["rounds"] for x in writes if x["rounds"]]
    diam = max(max(bfs(adj, v).values()) for v in range(n))
    data = dict(daemons=n, degree=3, edges=len(edges), diameter=diam,
                sync_interval_s=interval, writes=writes,
                p50_seconds_all=r3(pct(alls, 0.5)),
                max_rounds=max(rounds) if rounds else None,
                log2_n=r3(math.log2(n)),
                ratio_rounds_to_log2n=r3(max(rounds) / math.log2(n))
                if rounds else None,
                chain=dict(daemons=m, writes=run.size["chain_writes"],
                           hop_p50_ms=r3(pct(hops, 0.5) * 1e3)
                           if hops else None,
                           hop_p99_ms=r3(pct(hops, 0.99) * 1e3)
                           if hops else None,
                           end_to_end_p50_s=r3(pct(totals, 0.5)),
                           ratio_hop_p50_to_interval=r3(
                               pct(hops, 0.5) / interval) if hops else None),
                bound="a session per hop where the daemon can push "
                      "(it has the next one's address); the sync "
                      "interval where it cannot",
                note="new change sets start a session with the other "
                     "peers within 20 ms when periodic sync is on")
    ch = data["chain"]
    run.emit("gossip", data,
             f"{n} daemons, random 3-regular graph (diameter {diam}), "
             f"sync every {interval} s: all hold a write after p50 "
             f"{data['p50_seconds_all']} s, at most "
             f"{data['max_rounds']} rounds (log2 N = "
             f"{math.log2(n):.1f}); chain of {m}: per hop p50 "
             f"{ch['hop_p50_ms']} ms, p99 {ch['hop_p99_ms']} ms")


RUNNERS = dict(limits=sc_limits, initial=sc_initial, insync=sc_insync,
               diff=sc_diff, bulk=sc_bulk, footprint=sc_footprint,
               entry=sc_entry, reads=sc_reads, storm=sc_storm,
               gossip=sc_gossip,
               removal=sc_removal, erase=sc_erase)


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse",
                                 "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status",
                                "--porcelain", "--", "daemon", "proto"],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "?", ""
    return dict(nproc=os.cpu_count(), cpu=cpu, kernel=os.uname().release,
                mem_bytes=os.sysconf("SC_PAGE_SIZE") *
                os.sysconf("SC_PHYS_PAGES"),
                commit=commit + ("+dirty" if dirty else ""),
                date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                uptime=subprocess.run(["uptime"], capture_output=True,
                                      text=True).stdout.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build" / "bench"))
    ap.add_argument("--size", choices=sorted(SIZES), default="quick")
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    ap.add_argument("--perf", action="store_true",
                    help="profile the receiving daemon (perf record)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data directories (and perf's data)")
    ap.add_argument("--out", help="where results and profiles go "
                                  "(default BUILD/results)")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s] or SCENARIOS
    for s in only:
        if s not in RUNNERS:
            ap.error(f"unknown scenario {s!r}: {', '.join(SCENARIOS)}")
    args.only_set = set(only)
    run = Run(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    m = machine()
    run.emit("run", dict(machine=m, scenarios=only),
             f"{m['cpu']}, {m['nproc']} cores, load {loadavg()}, commit "
             f"{m['commit']}, results in {run.results}")
    sc_limits(run)
    todo = [s for s in SCENARIOS if s != "limits" and s in only]
    for i, s in enumerate(todo):
        t = time.monotonic()
        try:
            RUNNERS[s](run)
        except Exception as e:  # a scenario that cannot run says why
            run.cannot(s, f"{type(e).__name__}: {e}")
        print(f"# {s} took {time.monotonic() - t:.0f} s", flush=True)
        run.release(todo[i + 1:])
        run.tidy()
    print(f"# all done in {time.monotonic() - t0:.0f} s; results in "
          f"{run.results}", flush=True)


if __name__ == "__main__":
    main()
