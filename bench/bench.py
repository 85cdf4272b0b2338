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

This file is the driver: the options, the sizes, the table of scenarios
and their targets.  The scenarios are in bench/scen_*.py (scen_local:
limits, storm, removal, erase; scen_sync: initial, insync, diff, bulk,
footprint; scen_api: entry, reads; scen_gossip: gossip), the machinery
they share (Run, Daemon, the /proc readers) in bench/harness.py.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

from harness import REPO, Run, loadavg
from scen_api import sc_entry, sc_reads
from scen_gossip import sc_gossip
from scen_local import sc_erase, sc_limits, sc_removal, sc_storm
from scen_sync import sc_bulk, sc_diff, sc_footprint, sc_initial, sc_insync

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
    run = Run(args, SIZES[args.size], TARGETS)
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
