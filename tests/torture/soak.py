#!/usr/bin/python3
"""soak: five daemons for a long while, steady writes and syncs, restarts
now and then; resident memory, open descriptors, WAL and database size
sampled every minute and printed as a table (docs/reliability.md).

    soak.py --build DIR [--duration 1h] [--nodes 5] [--sample 60]
            [--rate 4] [--restart-every 300]

DIR holds samend and samen (make soak: an -O2 build without sanitizers,
so that the figures are the daemon's).  A restart (SIGTERM, or kill -9 one
time in three) resets a node's figures: its row is marked with *.  At the
end the nodes must converge and hold every acknowledged put; the exit
status says whether they did."""

import argparse
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def seconds(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[
        m.group(2)]


def sample(n):
    """(rss MB, open fds, WAL MB, database MB) of node n's samend, or
    None."""
    if not n.running():
        return None
    pid = n.proc.pid
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f
                       if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, StopIteration, ProcessLookupError):
        return None
    wal, db = n.dir / "samen.db-wal", n.dir / "samen.db"
    walsz = wal.stat().st_size if wal.exists() else 0
    dbsz = db.stat().st_size if db.exists() else 0
    return rss / 1024, fds, walsz / (1 << 20), dbsz / (1 << 20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--duration", type=seconds, default=seconds("1h"))
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--sample", type=seconds, default=60)
    ap.add_argument("--rate", type=float, default=4,
                    help="puts per second per node")
    ap.add_argument("--restart-every", type=seconds, default=300)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--dir", default="/var/tmp",
                    help="where its directory goes (not /tmp, whose "
                    "samen-* directories the test suites' cleanups may "
                    "remove under a run of an hour)")
    args = ap.parse_args()
    os.environ["SAMEN_BUILD"] = str(Path(args.build).resolve())
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent / "system"))  # its conftest
    import conftest        # noqa: E402 -- needs SAMEN_BUILD first
    import faults          # noqa: E402

    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    cluster = conftest.Cluster()
    os.rmdir(cluster.root)
    cluster.root = Path(tempfile.mkdtemp(prefix="soak-", dir=args.dir))
    print(f"soak: {args.nodes} nodes for {args.duration:.0f} s, "
          f"{args.rate} puts/s each, a restart every "
          f"{args.restart_every:.0f} s, seed {seed}, in {cluster.root}",
          flush=True)
    ok = False
    ns, ws, rows, restarts = [], [], [], 0
    ledger = faults.Ledger()
    stop = threading.Event()
    try:
        for i in range(args.nodes):
            ns.append(cluster.sync_node(chr(ord("a") + i),
                                        sync_interval=10))
        cluster.team(ns[0], ns[1:])
        for x in ns[1:]:
            for y in ns[1:]:
                if x is not y:
                    x.peer_add(y)
        shared = [ns[0].put("case", f"s=start{k}") for k in range(3)]
        for n in ns[1:]:
            n.sync(ns[0])
        ws = [faults.MixWriter(n, ledger, n.name, stop, shared,
                               2.0 / args.rate, seed=seed + i, timeout=60)
              for i, n in enumerate(ns)]
        for w in ws:
            w.start()
        t0 = time.monotonic()
        next_sample = t0
        next_restart = t0 + args.restart_every
        marks = set()
        head = "  min records " + "".join(
            f"| {n.name}: rss MB  fds wal MB  db MB " for n in ns)
        print(head, flush=True)
        while True:
            now = time.monotonic()
            if now >= next_sample:
                row = [round((now - t0) / 60, 1)]
                cells = []
                for n in ns:
                    s = sample(n)
                    row.append(None if s is None else
                               (s, n.name in marks))
                    mark = "*" if n.name in marks else " "
                    cells.append("|      -" + " " * 24 if s is None else
                                 f"| {s[0]:8.1f}{mark} {s[1]:4d} {s[2]:6.1f} "
                                 f"{s[3]:6.1f} ")
                marks.clear()
                rows.append(row)
                recs = ns[0].status()["records"] if ns[0].running() \
                    else -1
                print(f"{row[0]:5.1f} {recs:7d} " + "".join(cells),
                      flush=True)
                next_sample += args.sample
            if now >= t0 + args.duration:
                break
            if now >= next_restart:
                n = rng.choice(ns)
                if rng.random() < 1 / 3:
                    faults.kill9(n)
                else:
                    n.stop()
                n.start("--listen", n.addr)
                restarts += 1
                marks.add(n.name)
                next_restart += args.restart_every
            stop.wait(max(0.1, min(next_sample, next_restart,
                                   t0 + args.duration) - time.monotonic()))
        stop.set()
        faults.join_writers(ws, timeout=120)

        def converged():
            for n in ns:
                n.samen("sync", "--wait", "--timeout", "60", rc=None,
                        timeout=120)
            return len({n.status()["shared_digest"] for n in ns}) == 1
        conftest.wait_until(converged, 600, "the nodes to converge", 1)
        problems = []
        for n in ns:
            problems += ledger.check(faults.shown(n), n.name)
        print(f"soak: {ledger.puts} puts acknowledged, {ledger.failed} "
              f"refused, {sum(w.shared_puts for w in ws)} edits of shared "
              f"records, {restarts} restarts; converged", flush=True)
        # Growth per node over its longest run without a restart (the
        # first sample of a run is taken as its start).
        print("growth per node, over its longest run without a restart:")
        for k, n in enumerate(ns, start=1):
            runs, cur = [], []
            for r in rows:
                if r[k] is None or r[k][1]:
                    if len(cur) >= 2:
                        runs.append(cur)
                    cur = [] if r[k] is None else [(r[0], r[k][0])]
                else:
                    cur.append((r[0], r[k][0]))
            if len(cur) >= 2:
                runs.append(cur)
            if not runs:
                continue
            run = max(runs, key=len)
            (m0, a), (m1, b) = run[0], run[-1]
            print(f"  {n.name}: rss {a[0]:.1f} -> {b[0]:.1f} MB, fds "
                  f"{a[1]} -> {b[1]}, wal {a[2]:.1f} -> {b[2]:.1f} MB, db "
                  f"{a[3]:.1f} -> {b[3]:.1f} MB (minutes {m0}-{m1})")
        if problems:
            print("soak: FAILED: " + "; ".join(problems))
        else:
            ok = True
            print("soak: every acknowledged put is on every node")
    finally:
        stop.set()
        problems = cluster.teardown(not ok)
        if problems:
            ok = False
            print("\n".join(problems))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
