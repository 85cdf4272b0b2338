"""The replication scenarios: initial, insync, diff, bulk, footprint.

Two daemons (A and B) in a shared circle, synced over CURVE; initial's
pair is kept for insync and footprint, bulk's for footprint (Run.cache).
"""

import json
import math
import os
import subprocess
import time

from harness import (CTL_PEER_ADD, CTL_PEER_RM, Daemon, file_bytes, free_port,
                     human_n, page_cache_kib, pct, proc_cpu, proc_faults,
                     proc_mem, r3)


# Sync protocol constants (daemon/peer.c, proto/sync.h): for the round-trip
# model of a session.
SYNC_MAX_BATCH, BATCH_BYTES, WINDOW = 256, 1 << 20, 32  # as daemon/peer.c


def model_round_trips(batches_each_way):
    """HELLO, VECTOR, then the batches: at most WINDOW in flight per chain,
    each window released by ACKs."""
    if batches_each_way == 0:
        return 1
    return 2 + math.ceil(batches_each_way / WINDOW)


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
