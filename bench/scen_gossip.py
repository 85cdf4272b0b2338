"""The gossip scenario: 30 daemons in a random 3-regular graph, then a
chain: how long a write takes to reach every daemon."""

import math
import random
import time

from harness import CTL_GET, CTL_PEER_LS, CTL_PUT, Daemon, free_port, pct, r3


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
