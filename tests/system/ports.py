"""Ports for samend on loopback, for the system tests and the bench."""
import random
import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the
    kernel's ephemeral range: one from that range can become an outgoing
    connection's source port before samend binds it (likely why a daemon
    of the gossip bench, 30 of them connecting to each other, once exited
    at start: its log was gone with the run, which is why the bench now
    names a daemon's last log line when it exits)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(100 if low > 1025 else 0):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
