"""The connections between daemons: a handshake refused because the other
side did not know us yet, then admitted once it does; and a stranger that
keeps knocking, whose refusals are all counted but do not flood the log."""

import base64
import time

import pytest

from conftest import FAIL, wait_until

# Every daemon's store holds what it showed, after each test.
pytestmark = pytest.mark.usefixtures("stores_checked")


def lines_with(node, *words):
    """The lines of node's log that hold every one of words."""
    return [line for line in node.log_text().splitlines()
            if all(w in line for w in words)]


def test_refused_handshake_then_admitted(cluster):
    """A adds B before B knows A: B refuses A's handshake, and A logs and
    counts that; a sync A asks for meanwhile fails at once.  Then B adds
    A, and A syncs: A's link opens a fresh socket (libzmq does not retry
    after a refusal, and may keep taking messages for the dead
    connection) with a monitor of its own, so the sync succeeds and A's
    peer ls shows B connected."""
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    a.put("case", "name=Jansen")
    a.peer_add(b)
    wait_until(lambda: a.status()["handshake_failed"] > 0, 15,
               "A to count the refused handshake")
    assert b.status()["zap_refused"] > 0
    assert lines_with(a, "handshake with", b.short, "it refused us")
    assert a.peer(b)["state"] == "connecting"
    # Asked again, A tries a fresh connection, is refused again, and its
    # session says so at once instead of waiting for an answer that
    # cannot come (libzmq retries nothing after a refusal).
    t0 = time.monotonic()
    r = a.sync(b, timeout=15, rc=FAIL, json=False)
    assert r.out.startswith(f"{b.short} failed: handshake failed: it "
                            f"refused us"), r
    assert time.monotonic() - t0 < 10, r
    b.peer_add(a)
    r = a.sync(b, timeout=20)
    s = r.json[0]["session"]
    assert s["state"] == "done" and s["error"] is None, r
    # The new connection has a monitor: it saw the handshake succeed.
    wait_until(lambda: a.peer(b)["state"] == "connected", 10,
               "A to see its connection to B up")
    assert not lines_with(a, "cannot watch"), a.log_text()
    assert a.status()["handshake_failed"] >= 1


def devid_decode(text):
    """proto/devid.h: the key of a device id (base32 of the key and 3
    checksum bytes)."""
    raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    return raw[:32]


def test_a_knocking_stranger_does_not_flood_the_log(cluster):
    """A raw CURVE client with a key nobody added connects 200 times, each
    time on a fresh socket, and is refused each time: every refusal is
    counted (zap_refused), and the log says so in a line or two, not
    200."""
    zmq = pytest.importorskip("zmq")
    nb = pytest.importorskip("nacl.bindings")
    if not zmq.has("curve"):
        pytest.skip("libzmq without CURVE")
    a = cluster.sync_node("a")
    before = a.status()["zap_refused"]
    server = nb.crypto_sign_ed25519_pk_to_curve25519(devid_decode(a.device))
    pk, sk = zmq.curve_keypair()
    ctx = zmq.Context()
    failed = 0
    try:
        for _ in range(200):
            s = ctx.socket(zmq.DEALER)
            s.linger = 0
            s.curve_serverkey = server
            s.curve_publickey = pk
            s.curve_secretkey = sk
            mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
            s.connect(a.addr)
            # Closed at its first refusal: libzmq would try again.
            if mon.poll(10000):
                mon.recv_multipart()
                failed += 1
            s.disable_monitor()
            mon.close(0)
            s.close(0)
    finally:
        ctx.destroy(linger=0)
    assert failed == 200
    wait_until(lambda: a.status()["zap_refused"] - before >= failed, 20,
               "A to count every refusal")
    # One line for the first; the rest is summed up once a minute.
    refused = lines_with(a, "refused")
    assert 1 <= len(refused) <= 3, refused
    assert "unknown key" in refused[0]
    # And counted no more than what was made (a socket libzmq got to
    # retry before we closed it is one more, rarely).
    assert a.status()["zap_refused"] - before < failed + 20
