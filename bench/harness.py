"""The bench's machinery, shared by its scenarios (bench/scen_*.py).

Run is one run of bench.py: its data directories under /tmp, its
processes, where results go, and emit() for a scenario's figures.  Daemon
is one samend of the run; Ctl speaks to its control socket; Capture counts
the TCP bytes of a session.  The rest reads /proc and /sys for figures
(CPU, faults, memory, the page cache, the disk's requests) and summarises
perf profiles.
"""

import atexit
import json
import math
import os
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
    """One run of bench.py: args are its options, size one entry of its
    SIZES (the sizes of each scenario), targets its TARGETS (what emit()
    says each scenario aims at)."""

    def __init__(self, args, size, targets):
        self.args = args
        self.targets = targets
        self.build = Path(args.build).resolve()
        self.samend = self.build / "samend"
        self.samen = self.build / "samen"
        self.tool = lambda name: str(self.build / "bench" / name)
        for b in (self.samend, self.samen, self.build / "bench" / "gen"):
            if not b.exists():
                sys.exit(f"bench: {b} is missing: make bench-build")
        self.size = size
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
        if scenario in self.targets:
            data.setdefault("target", self.targets[scenario])
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
