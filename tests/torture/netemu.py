#!/usr/bin/python3
"""netemu: network namespaces joined by a switch in user space that delays,
loses, duplicates and reorders packets, and partitions (docs/reliability.md).

    netemu.py PREFIX N

Creates network namespaces PREFIX0 .. PREFIX{N-1}, each with a TUN device
holding 10.77.0.{i+1}/24, and forwards the IPv4 packets between them.  It
stands in for veth pairs on a bridge with `tc qdisc ... netem`, which this
machine's kernel lacks (CONFIG_NET_SCH_NETEM is not set); the impairments
are netem's:

    impair loss=P delay=S jitter=S dup=P reorder=P
        per packet: lost with probability loss, else sent after delay
        +- jitter seconds (uniform), twice with probability dup, and with
        probability reorder at once, overtaking the delayed ones
    part 0,1 2,3,4     drop every packet between two groups (silently, as
                       a broken link beyond the next hop would)
    heal               no impairment, no partition
    stats              print "stats forwarded=N lost=N dup=N cut=N"
    quit               (or end of input) delete the namespaces, exit

It prints "ready" once the namespaces are up.  Run it as root; the caller
takes a device's link down with `ip -n NS link set PREFIXt{i} down`.
"""

import fcntl
import heapq
import os
import random
import select
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True)


def main():
    prefix, n = sys.argv[1], int(sys.argv[2])
    fds = []
    names = [f"{prefix}{i}" for i in range(n)]
    try:
        for i, ns in enumerate(names):
            dev = f"{prefix}t{i}"
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
            fcntl.ioctl(fd, TUNSETIFF,
                        struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
            fds.append(fd)
            ip("netns", "add", ns)
            ip("link", "set", dev, "netns", ns)
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"10.77.0.{i + 1}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
        print("ready", flush=True)
        run(fds)
    finally:
        for fd in fds:
            os.close(fd)
        for ns in names:
            ip("netns", "del", ns, check=False)


def run(fds):
    rng = random.Random()
    imp = dict(loss=0.0, delay=0.0, jitter=0.0, dup=0.0, reorder=0.0)
    group = [0] * len(fds)          # partition group per node
    heap, seq = [], 0
    counts = dict(forwarded=0, lost=0, dup=0, cut=0)
    index = {fd: i for i, fd in enumerate(fds)}
    stdin = sys.stdin.fileno()
    pending = b""
    while True:
        now = time.monotonic()
        timeout = max(0.0, heap[0][0] - now) if heap else 1.0
        ready, _, _ = select.select(fds + [stdin], [], [], timeout)
        for fd in ready:
            if fd == stdin:
                data = os.read(stdin, 4096)
                if not data:
                    return
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if not command(line.decode().split(), imp, group,
                                   counts):
                        return
                continue
            for _ in range(64):
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    break
                if len(pkt) < 20 or pkt[0] >> 4 != 4:
                    continue        # IPv4 only
                dst = pkt[19] - 1
                src = index[fd]
                if not 0 <= dst < len(fds) or dst == src:
                    continue
                if group[src] != group[dst]:
                    counts["cut"] += 1
                    continue
                if rng.random() < imp["loss"]:
                    counts["lost"] += 1
                    continue
                copies = 2 if rng.random() < imp["dup"] else 1
                counts["dup"] += copies - 1
                for _ in range(copies):
                    if rng.random() < imp["reorder"]:
                        at = now
                    else:
                        at = now + max(0.0, imp["delay"] + rng.uniform(
                            -imp["jitter"], imp["jitter"]))
                    seq += 1
                    heapq.heappush(heap, (at, seq, fds[dst], pkt))
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(heap)
            try:
                os.write(fd, pkt)
                counts["forwarded"] += 1
            except OSError:
                counts["lost"] += 1     # that link is down


def command(words, imp, group, counts):
    if not words:
        return True
    if words[0] == "impair":
        for w in words[1:]:
            k, _, v = w.partition("=")
            imp[k] = float(v)
    elif words[0] == "part":
        for g, members in enumerate(words[1:]):
            for m in members.split(","):
                group[int(m)] = g
    elif words[0] == "heal":
        for k in imp:
            imp[k] = 0.0
        group[:] = [0] * len(group)
    elif words[0] == "stats":
        print("stats " + " ".join(f"{k}={v}" for k, v in counts.items()),
              flush=True)
    elif words[0] == "quit":
        return False
    return True


if __name__ == "__main__":
    main()
