"""The scenarios of one machine's parts: limits (the bounds every other
scenario is compared with), storm, removal, erase."""

import shutil
import time

from harness import (CTL_CIRCLE_LS, CTL_CIRCLE_RM, Daemon, human_n, pct,
                     perf_summary, proc_cpu, r3, reported_kib)


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
