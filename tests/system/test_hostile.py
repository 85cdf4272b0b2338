"""A malicious but authenticated peer, written in Python from proto/*.h alone
(no code of samen's): it holds a real device key, a daemon added it to a
circle, and it speaks the sync protocol over CURVE with a raw ZeroMQ DEALER.
It builds fully valid change sets (it opens the circle key the admin sealed
to it), and then everything a member should not get away with: forged
signatures, tampered payloads, broken chains, replays, forks, oversized and
malformed messages, timestamps from the future, membership ops it has no
right to write (proto/roster.h), and devices nobody added.

After each attack the daemon must still answer, hold exactly the valid change
sets it was sent, and count what it refused."""

import base64
import calendar
import hashlib
import os
import struct
import time

import msgpack
import pytest
import zmq

from conftest import TIME_RE, same_after_restart, wait_until

# A's store holds what it showed, after each test.
pytestmark = pytest.mark.usefixtures("stores_checked")

nb = pytest.importorskip("nacl.bindings")

if not zmq.has("curve"):
    pytest.skip("libzmq without CURVE", allow_module_level=True)

# proto/sync.h
SYNC_VERSION = 1
HELLO, VECTOR, BATCH, ACK, DONE, ERROR = 1, 2, 3, 4, 5, 6
SYNC_MAX_MSG = 16 << 20
SYNC_MAX_CIRCLES = 1024
# proto/changeset.h
CS_MAX_PAYLOAD = 8 << 20
# proto/ops.h
OP_SET, OP_EXIST, OP_ADD, OP_REM = 1, 2, 3, 4

DAY_MS = 86400 * 1000


# Encodings.

def pack(v):
    """Canonical msgpack: the shortest form of every value, str as str,
    bytes as bin."""
    return msgpack.packb(v, use_bin_type=True)


def unpack(b):
    return msgpack.unpackb(b, raw=False)


def b2b(data, size=32, key=b""):
    return hashlib.blake2b(data, digest_size=size, key=key).digest()


def le32(n):
    return struct.pack("<I", n)


def devid_encode(pk):
    """proto/devid.h: base32 (lower case, no padding) of the key and the
    first 3 bytes of its BLAKE2b-256."""
    return base64.b32encode(pk + b2b(pk)[:3]).decode().lower().rstrip("=")


def devid_decode(text):
    raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    assert len(raw) == 35 and b2b(raw[:32])[:3] == raw[32:], text
    return raw[:32]


def members_circle(circle):
    return b2b(b"samen-members-1" + circle, 16)


def members_key(circle):
    return b2b(b"samen-members-key-1" + circle, 32)


def epoch_id(chain, author, seq):
    """proto/roster.h: an op's epoch, derived from its place."""
    h = b2b(b"samen-epoch-1" + chain + author + struct.pack("<Q", seq))
    return struct.unpack("<I", h[:4])[0] | 0x80000000


def roster_fields(kind, deps=(), **fields):
    """The SET fields of a membership op ("mop" record), as
    proto/roster_parse.c writes them: v, type, deps (a version vector of
    the members chain: (author, seq) sorted by author), then the rest."""
    f = {"v": "1", "type": kind,
         "deps": "".join(a.hex() + struct.pack("<Q", q).hex()
                         for a, q in sorted(deps))}
    f.update(fields)
    return f


def mop(kind, deps=(), **fields):
    """A record of a members chain holding one op."""
    return ("mop", new_rid(), create_ops(**roster_fields(kind, deps,
                                                          **fields)))


def op_fields(ops):
    return {o[1]: o[2] for o in ops if o[0] == OP_SET}


def seals_of(fields):
    """[(epoch, device, sealed)] of an op's keys field."""
    raw = bytes.fromhex(fields.get("keys", ""))
    return [(struct.unpack("<I", raw[i:i + 4])[0], raw[i + 4:i + 36],
             raw[i + 36:i + 116]) for i in range(0, len(raw), 116)]


def frontier(chain_css, me):
    """The deps a new op of me must carry: per other author, the highest
    seq of the members chain held."""
    top = {}
    for hdr, _ in chain_css:
        h = unpack(hdr)
        if h[1] != me:
            top[h[1]] = max(top.get(h[1], 0), h[4])
    return sorted(top.items())


def rtag(key, collection, rid):
    return b2b(collection.encode() + b"\0" + rid, 16, key=key)


def vid(csid, chunk, op):
    """The id of one operation (proto/ops.h)."""
    return b2b(csid + le32(chunk) + le32(op), 16)


def now_ms():
    return int(time.time() * 1000)


def new_rid():
    return now_ms().to_bytes(6, "big") + os.urandom(10)


def rid_text(rid):
    """ULID text of a record id (Crockford base32 of 128 bits)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    n = int.from_bytes(rid, "big")
    return "".join(alphabet[(n >> (5 * i)) & 31] for i in range(25, -1, -1))


class Device:
    """An ed25519 identity with its X25519 forms, as samen derives them."""

    def __init__(self):
        self.pk, self.sk = nb.crypto_sign_seed_keypair(os.urandom(32))
        self.curve_pk = nb.crypto_sign_ed25519_pk_to_curve25519(self.pk)
        self.curve_sk = nb.crypto_sign_ed25519_sk_to_curve25519(self.sk)
        self.id = devid_encode(self.pk)


# Change sets (proto/changeset.h).

class ChangeSet:
    def __init__(self, hdr, payload):
        self.hdr, self.payload = hdr, payload
        self.id = b2b(hdr)
        self.fields = unpack(hdr)
        self.seq = self.fields[4]

    def entry(self):
        return [self.hdr, self.payload]


def seal_chunk(author, circle, key, seq, collection, rid, ops):
    plain = pack([collection, rid, ops])
    tag = rtag(key, collection, rid)
    nonce = os.urandom(24)
    ad = b"samen-chunk-1" + circle + author.pk + struct.pack("<Q", seq) + tag
    ct = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, ad, nonce, key)
    return [tag, nonce, ct]


def sign_header(fields9, sk):
    sig = nb.crypto_sign(pack(fields9), sk)[:64]
    return pack(fields9 + [sig])


def build(author, circle, key, seq, prev, records, epoch=1, hlc=None,
          signer=None, chunks=None):
    """A signed change set of author in circle: one chunk per record
    (collection, rid, ops), encrypted under key; or the given chunks."""
    if chunks is None:
        chunks = [seal_chunk(author, circle, key, seq, *r) for r in records]
    payload = pack(chunks)
    phash = b2b(b"".join(b2b(pack(c)) for c in chunks))
    fields = [1, author.pk, circle, epoch, seq, prev,
              (now_ms() << 16) if hlc is None else hlc, len(payload), phash]
    return ChangeSet(sign_header(fields, (signer or author).sk), payload)


def open_chunks(cs_hdr, payload, key):
    """[(collection, rid, ops)] of a change set we are sent."""
    h = unpack(cs_hdr)
    out = []
    for tag, nonce, ct in unpack(payload):
        ad = b"samen-chunk-1" + h[2] + h[1] + struct.pack("<Q", h[4]) + tag
        out.append(unpack(nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct, ad, nonce, key)))
    return out


def create_ops(**fields):
    return [[OP_EXIST, True, []]] + [[OP_SET, k, v, []]
                                     for k, v in fields.items()]


class Chain:
    """One author's chain in one circle, as far as it has been built."""

    def __init__(self, author, circle, key):
        self.author, self.circle, self.key = author, circle, key
        self.seq, self.head = 0, bytes(32)

    def next(self, records, commit=True, **kw):
        """The next change set; commit: it becomes the head."""
        cs = build(self.author, self.circle, self.key, self.seq + 1,
                   self.head, records, **kw)
        if commit:
            self.seq, self.head = cs.seq, cs.id
        return cs

    def create(self, collection="case", commit=True, **fields):
        """A change set creating one record; returns (rid, change set)."""
        rid = new_rid()
        return rid, self.next([(collection, rid, create_ops(**fields))],
                              commit=commit)


# The wire (proto/sync.h).

class Client:
    """A DEALER with CURVE that speaks sync to one daemon."""

    def __init__(self, ctx, me, server, addr):
        self.me = me
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.CURVE_SERVERKEY,
                             nb.crypto_sign_ed25519_pk_to_curve25519(
                                 devid_decode(server)))
        self.sock.setsockopt(zmq.CURVE_PUBLICKEY, me.curve_pk)
        self.sock.setsockopt(zmq.CURVE_SECRETKEY, me.curve_sk)
        self.sock.connect(addr)
        self.session = None

    def close(self):
        self.sock.close(0)

    def send_raw(self, *frames):
        self.sock.send_multipart(list(frames))

    def send(self, msg):
        self.send_raw(pack(msg))

    def recv(self, timeout):
        if self.sock.poll(max(int(timeout * 1000), 1)) == 0:
            return None
        return unpack(self.sock.recv())

    def expect(self, mtype, timeout=15):
        """The next message of our session of type mtype; an ERROR (or
        nothing) fails."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(deadline - time.monotonic())
            if m is None:
                raise AssertionError(f"no message of type {mtype} within "
                                     f"{timeout} s")
            if m[2] != self.session:
                continue
            if m[1] == mtype:
                return m
            if m[1] == ERROR:
                raise AssertionError(f"the daemon answered ERROR: {m}")

    def start(self, circles=(), timeout=15):
        """A new session: HELLO with circles [(circle, data, members, audit)];
        returns the daemon's HELLO."""
        self.session = int.from_bytes(os.urandom(8), "little")
        self.send([SYNC_VERSION, HELLO, self.session, bytes(32),
                   [list(c) for c in circles]])
        return self.expect(HELLO, timeout)

    def batch(self, chain, changesets, timeout=15):
        """One BATCH; returns the ACK's (accepted, rejected)."""
        self.send([SYNC_VERSION, BATCH, self.session, chain,
                   [c.entry() if isinstance(c, ChangeSet) else list(c)
                    for c in changesets]])
        m = self.expect(ACK, timeout)
        assert m[3] == chain, m
        return m[4], m[5]

    def fetch(self, chain, timeout=15):
        """Asks for a whole chain (an empty VECTOR): its change sets as
        [(header, payload)], acknowledging each batch."""
        self.send([SYNC_VERSION, VECTOR, self.session, chain, []])
        got = []
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(deadline - time.monotonic())
            assert m is not None, "no DONE"
            if m[2] != self.session:
                continue
            if m[1] == BATCH and m[3] == chain:
                got += [(h, p) for h, p in m[4]]
                self.send([SYNC_VERSION, ACK, self.session, chain,
                           len(m[4]), 0, bytes(32)])
            elif m[1] == DONE and m[3] == chain:
                return got
            elif m[1] == ERROR:
                raise AssertionError(f"the daemon answered ERROR: {m}")


# Fixtures.

@pytest.fixture
def zctx():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


class Scene:
    """Daemon A with a shared circle "team" holding one record of A's, and
    the attacker M: a member of team (A added it), connected, holding the
    circle key it opened from its member record."""

    def __init__(self, cluster, zctx):
        self.cluster, self.zctx = cluster, zctx
        self.a = a = cluster.sync_node("a")
        a.circle_new("team")
        a.circle_use("team")
        self.own = a.put("case", "name=Familie Jansen")
        self.m = m = Device()
        a.samen("peer", "add", m.id)
        a.circle_add("team", m.id)
        self.circle = bytes.fromhex(a.circles()["team"]["circle"])
        self.members = members_circle(self.circle)
        self.client = self.connect(m)
        hello = self.client.start()
        # A offers team to its member: [circle, data digest, members digest]
        assert [e[0] for e in hello[4]] == [self.circle], hello
        self.key = self.open_key()
        self.data = Chain(m, self.circle, self.key)
        self.mchain = Chain(m, self.members, members_key(self.circle))

    def connect(self, who):
        return Client(self.zctx, who, self.a.device, self.a.addr)

    def open_key(self):
        """The first epoch's circle key, which A's add op sealed to M."""
        for hdr, payload in self.client.fetch(self.members):
            for coll, rid, ops in open_chunks(hdr, payload,
                                              members_key(self.circle)):
                for epoch, dev, sealed in seals_of(op_fields(ops)):
                    if coll == "mop" and dev == self.m.pk and epoch == 1:
                        return nb.crypto_box_seal_open(
                            sealed, self.m.curve_pk, self.m.curve_sk)
        raise AssertionError("no key sealed to the attacker")

    def deps(self):
        """What a new op of M must name: the members chain A holds (a
        chain is fetched once per session: in a new one)."""
        self.client.start()
        return frontier(self.client.fetch(self.members), self.m.pk)

    def ops_count(self, verdict):
        """How A counted the ops of team's members chain (circle ls)."""
        return self.a.circles()["team"]["ops"][verdict]

    def status(self):
        return self.a.status()

    def expect(self, before, stored=0, rejected=0, records=0):
        """A still answers; it holds exactly `stored` more change sets and
        `records` more live records, and counted `rejected` more refusals."""
        st = self.a.status()
        assert st["changesets"] == before["changesets"] + stored, \
            (before, st)
        assert st["rejected"] == before["rejected"] + rejected, (before, st)
        assert st["records"] == before["records"] + records, (before, st)
        assert st["bad"] == before["bad"], st
        return st


@pytest.fixture
def scene(cluster, zctx):
    s = Scene(cluster, zctx)
    yield s
    s.client.close()


def mallory_case(scene, name="Mallory"):
    rid, cs = scene.data.create(name=name, status="open")
    return rid, cs


# Valid change sets.

def test_valid_changesets_from_a_member_are_merged(scene):
    a, c = scene.a, scene.client
    before = scene.status()
    rid, cs1 = scene.data.create(name="Familie de Boer", status="open")
    assert c.batch(scene.circle, [cs1]) == (1, 0)
    # An update that names the value it replaces (op 2 of chunk 0 of cs1),
    # a note on the case, in one change set of two chunks.
    note = new_rid()
    cs2 = scene.data.next([
        ("case", rid, [[OP_EXIST, True, [vid(cs1.id, 0, 0)]],
                       [OP_SET, "status", "closed", [vid(cs1.id, 0, 2)]],
                       [OP_ADD, "tags", "housing"]]),
        ("note", note, create_ops(case=rid_text(rid), text="from M")),
    ])
    assert c.batch(scene.circle, [cs2]) == (1, 0)
    scene.expect(before, stored=2, records=2)

    rec = a.get("case", rid_text(rid))
    assert rec["fields"] == {"name": "Familie de Boer", "status": "closed"}
    assert rec["sets"] == {"tags": ["housing"]}
    assert rec["conflicts"] == []
    assert [n["id"] for n in rec["notes"]] == [rid_text(note)]
    assert rec["notes"][0]["fields"]["text"] == "from M"
    log = a.samen("log", "case", rid_text(rid), json=True).json
    assert {e["author"] for e in log} == {scene.m.id}, log
    assert [e["seq"] for e in log if e["op"] == "create"] == [1]
    assert sorted(r["id"] for r in a.ls("case")) == sorted(
        [scene.own, rid_text(rid)])


# Forged, tampered, out of chain.

def test_forged_signatures_are_rejected(scene):
    c = scene.client
    before = scene.status()
    _, good = scene.data.create(name="Mallory", commit=False)

    # A flipped bit in the signature.
    h = bytearray(good.hdr)
    h[-1] ^= 1
    assert c.batch(scene.circle, [[bytes(h), good.payload]]) == (0, 1)
    # A field changed after signing (the HLC), signature kept.
    f = unpack(good.hdr)
    f[6] += 1
    assert c.batch(scene.circle, [[pack(f), good.payload]]) == (0, 1)
    # Signed by another device, in M's name.
    other = Device()
    forged = build(scene.m, scene.circle, scene.key, 1, bytes(32),
                   [("case", new_rid(), create_ops(name="forged"))],
                   signer=other)
    assert c.batch(scene.circle, [forged]) == (0, 1)
    # In another author's name (A's), signed by M.
    fa = unpack(forged.hdr)[:9]
    fa[1] = devid_decode(scene.a.device)
    assert c.batch(scene.circle, [[sign_header(fa, scene.m.sk),
                                   forged.payload]]) == (0, 1)
    scene.expect(before, rejected=4)
    assert "forged" not in str(scene.a.ls("case"))

    # None of it took seq 1: the genuine one is still welcome.
    assert c.batch(scene.circle, [good]) == (1, 0)
    scene.expect(before, stored=1, rejected=4, records=1)
    assert any("rejected" in line for line in
               scene.a.log_text().splitlines())


def test_tampered_payloads_are_rejected(scene):
    c = scene.client
    before = scene.status()
    _, good = mallory_case(scene)
    tampered = []
    # One bit of the ciphertext.
    chunks = unpack(good.payload)
    chunks[0][2] = bytes([chunks[0][2][0] ^ 1]) + chunks[0][2][1:]
    tampered.append(pack(chunks))
    # A chunk more.
    tampered.append(pack(unpack(good.payload) + [
        seal_chunk(scene.m, scene.circle, scene.key, 1, "case", new_rid(),
                   create_ops(name="smuggled"))]))
    # A chunk less (the payload is then an empty array).
    tampered.append(pack([]))
    # Cut short.
    tampered.append(good.payload[:-7])
    # The same chunk, purged form ([hash]) of another hash.
    tampered.append(pack([[os.urandom(32)]]))
    for p in tampered:
        assert c.batch(scene.circle, [[good.hdr, p]]) == (0, 1), p[:40]
    scene.expect(before, rejected=len(tampered))
    assert c.batch(scene.circle, [good]) == (1, 0)
    scene.expect(before, stored=1, rejected=len(tampered), records=1)
    names = [r["fields"]["name"] for r in scene.a.ls("case")]
    assert sorted(names) == ["Familie Jansen", "Mallory"]


def test_broken_chains_are_rejected(scene):
    c = scene.client
    before = scene.status()
    _, cs1 = mallory_case(scene, "one")
    assert c.batch(scene.circle, [cs1]) == (1, 0)

    def rec():
        return [("case", new_rid(), create_ops(name="two"))]
    # seq 2 whose prev is not seq 1.
    bad_prev = build(scene.m, scene.circle, scene.key, 2, os.urandom(32),
                     rec())
    # seq 3: a gap.
    gap = build(scene.m, scene.circle, scene.key, 3, cs1.id, rec())
    # seq 2 labelled with the members chain in a BATCH of the data chain.
    wrong_chain = build(scene.m, scene.members, members_key(scene.circle), 2,
                        cs1.id, rec())
    for cs in (bad_prev, gap, wrong_chain):
        assert c.batch(scene.circle, [cs]) == (0, 1)
    # Several in one batch: each on its own.
    two = scene.data.next(rec())
    assert c.batch(scene.circle, [bad_prev, two, gap]) == (1, 2)
    scene.expect(before, stored=2, rejected=5, records=2)

    # A chain this session does not share: the session is over.
    stranger = os.urandom(16)
    cs = build(scene.m, stranger, os.urandom(32), 1, bytes(32), rec())
    c.send([SYNC_VERSION, BATCH, c.session, stranger, [cs.entry()]])
    m = c.expect(ERROR)
    assert m[3] < 0 and m[4], m
    scene.expect(before, stored=2, rejected=6, records=2)
    # A new session works.
    c.start()
    assert c.batch(scene.circle, [scene.data.next(rec())]) == (1, 0)
    scene.expect(before, stored=3, rejected=6, records=3)


# Batches in flight: checked on the daemon's thread pool, stored in order.

def tampered(cs):
    """cs with one bit of its first chunk's ciphertext flipped."""
    chunks = unpack(cs.payload)
    chunks[0][2] = bytes([chunks[0][2][0] ^ 1]) + chunks[0][2][1:]
    return [cs.hdr, pack(chunks)]


def pipelined(scene, nbatches, per_batch, mix=True):
    """nbatches BATCHes of M's next change sets, and what each ACK must
    say: (accepted, rejected, held).  With mix, valid ones are interleaved
    with a forged one and a tampered one, which take no seq (the valid
    ones after them continue the chain), and (once) ones from the future,
    which are stored held (docs/sync.md, "A clock ahead")."""
    other = Device()
    batches, acks = [], []
    for b in range(nbatches):
        entries, acc, rej, held = [], 0, 0, 0
        for i in range(per_batch):
            rec = [("case", new_rid(), create_ops(name=f"valid {b}/{i}"))]
            kind = (b * per_batch + i) % 4 if mix else 0
            if kind == 1:
                entries.append(scene.data.next(rec, commit=False,
                                               signer=other).entry())
                rej += 1
            elif kind == 3:
                entries.append(tampered(scene.data.next(rec, commit=False)))
                rej += 1
            elif kind == 2 and b == nbatches // 2 and i < 4:
                ahead = (now_ms() + 10 * 365 * DAY_MS) << 16
                entries.append(scene.data.next(rec, hlc=ahead).entry())
                acc += 1
                held += 1
            else:
                entries.append(scene.data.next(rec).entry())
                acc += 1
        batches.append(entries)
        acks.append((acc, rej, held))
    return batches, acks


def send_all(client, chain, batches):
    """Every batch back to back, without waiting for an ACK."""
    for entries in batches:
        client.send([SYNC_VERSION, BATCH, client.session, chain, entries])


def acks_of(client, chain, n):
    out = []
    for _ in range(n):
        m = client.expect(ACK, 60)
        assert m[3] == chain, m
        # Nine elements when some were held: [..., held, ahead ms].
        out.append((m[4], m[5], m[7] if len(m) > 7 else 0))
    return out


def test_pipelined_batches_keep_their_order_and_counts(scene):
    """Eight batches in flight at once are checked side by side but stored
    in the order they came (each continues the chain of the one before):
    every ACK counts exactly what one batch at a time would have, and
    exactly the valid change sets are stored."""
    c = scene.client
    before = scene.status()
    batches, acks = pipelined(scene, 8, 12)
    send_all(c, scene.circle, batches)
    assert acks_of(c, scene.circle, len(batches)) == acks
    stored = sum(a for a, _, _ in acks)
    rejected = sum(r for _, r, _ in acks)
    held = sum(h for _, _, h in acks)
    assert rejected == 8 * 12 // 2 and held == 1
    scene.expect(before, stored=stored, rejected=rejected,
                 records=stored - held)
    assert scene.status()["held"] == held
    names = sorted(r["fields"]["name"] for r in scene.a.ls("case"))
    assert len(names) == stored - held + 1
    assert all(n.startswith("valid ") for n in names if n != "Familie Jansen")
    # The chain is whole: the next change set follows the last valid one.
    rec = [("case", new_rid(), create_ops(name="after"))]
    assert c.batch(scene.circle, [scene.data.next(rec)]) == (1, 0)


def resend(scene, batches):
    """A new session takes every batch again: what was held is a replay."""
    c = scene.client
    c.start()
    send_all(c, scene.circle, batches)
    return acks_of(c, scene.circle, len(batches))


def test_a_new_hello_drops_a_session_whose_batches_are_being_checked(scene):
    """The session is replaced while its batches are on the thread pool:
    what was stored is a prefix of the chain, the rest is dropped unACKed
    (not rejected), the daemon keeps serving, and a resend completes it."""
    c = scene.client
    before = scene.status()
    batches, _ = pipelined(scene, 16, 64, mix=False)
    send_all(c, scene.circle, batches)
    c.start()                       # replaces the session at once
    mid = scene.status()
    held = mid["changesets"] - before["changesets"]
    assert 0 <= held <= 16 * 64
    scene.expect(before, stored=held, records=held)
    got = resend(scene, batches)
    assert sum(a for a, _, _ in got) + held == 16 * 64, (held, got)
    assert all(r == 0 for _, r, _ in got), got
    scene.expect(before, stored=16 * 64, records=16 * 64)


def test_sigterm_while_batches_are_being_checked_is_clean(scene):
    """SIGTERM with batches on the thread pool: samend exits 0 (under the
    sanitizers: no leak, no use after free), keeps a prefix of the chain,
    all of it merged, and a resend after the restart completes it."""
    a, c = scene.a, scene.client
    before = scene.status()
    batches, _ = pipelined(scene, 16, 64, mix=False)
    send_all(c, scene.circle, batches)
    wait_until(lambda: a.status()["changesets"] > before["changesets"], 30,
               "A to store the first batch")
    a.stop()
    assert "stopped" in a.log_text().splitlines()[-1]
    a.start("--listen", a.addr)
    st = a.status()
    held = st["changesets"] - before["changesets"]
    assert 0 < held <= 16 * 64
    assert st["pending"] == 0 and st["bad"] == 0, st
    scene.expect(before, stored=held, records=held)
    got = resend(scene, batches)
    assert sum(a for a, _, _ in got) + held == 16 * 64, (held, got)
    scene.expect(before, stored=16 * 64, records=16 * 64)


def test_replay_is_a_harmless_duplicate(scene):
    a, c = scene.a, scene.client
    before = scene.status()
    rid, cs1 = mallory_case(scene)
    cs2 = scene.data.next([("case", rid, [
        [OP_SET, "status", "closed", [vid(cs1.id, 0, 2)]]])])
    assert c.batch(scene.circle, [cs1, cs2]) == (2, 0)
    after = scene.expect(before, stored=2, records=1)
    log = a.samen("log", "case", rid_text(rid), json=True).json
    shown = a.get("case", rid_text(rid))

    assert c.batch(scene.circle, [cs1]) == (0, 0)
    assert c.batch(scene.circle, [cs2, cs1, cs2]) == (0, 0)
    c.start()
    assert c.batch(scene.circle, [cs1, cs2]) == (0, 0)
    # A's own change sets, relayed back to it.
    for hdr, payload in c.fetch(scene.circle):
        assert c.batch(scene.circle, [[hdr, payload]]) == (0, 0)
    assert scene.status()["replica_digest"] == after["replica_digest"]
    scene.expect(before, stored=2, records=1)
    assert a.samen("log", "case", rid_text(rid), json=True).json == log
    assert a.get("case", rid_text(rid)) == shown
    assert sorted(r["id"] for r in a.ls("case")) == sorted(
        [scene.own, rid_text(rid)])


def test_undecryptable_changeset_is_stored_and_counted_bad(scene):
    """Signed and hashed right, but not under the circle key: verification
    does not decrypt, so it is stored (the chain stays whole); the merge
    finds it bad and applies none of it."""
    c = scene.client
    before = scene.status()
    rid = new_rid()
    garbage = build(scene.m, scene.circle, os.urandom(32), 1, bytes(32),
                    [("case", rid, create_ops(name="unreadable"))])
    assert c.batch(scene.circle, [garbage]) == (1, 0)
    scene.data.seq, scene.data.head = 1, garbage.id
    # And one whose chunk decrypts to something that is not ops.
    junk = build(scene.m, scene.circle, scene.key, 2, garbage.id, [],
                 chunks=[[rtag(scene.key, "case", rid), os.urandom(24),
                          os.urandom(64)]])
    assert c.batch(scene.circle, [junk]) == (1, 0)
    scene.data.seq, scene.data.head = 2, junk.id
    st = scene.a.status()
    assert st["changesets"] == before["changesets"] + 2
    assert st["bad"] == before["bad"] + 2, st
    assert st["records"] == before["records"] and st["pending"] == 0, st
    scene.a.samen("get", "case", rid_text(rid), rc=1)
    # The chain goes on after them.
    _, cs3 = mallory_case(scene)
    assert c.batch(scene.circle, [cs3]) == (1, 0)
    assert scene.a.status()["records"] == before["records"] + 1


def test_bad_changesets_amid_good_ones_in_one_batch(scene):
    """The receiver stores a batch without savepoints first and, finding a
    change set that is not clean, rolls all of it back and stores it again
    carefully (docs/sync.md, "Receiving").  One batch: a good change set,
    one whose first chunk is good and whose second does not decrypt, and a
    good one chained on it: all three stored, the bad one bad with neither
    chunk applied.  Another: one dated a day ahead, a forged one, one out
    of its chain, and a good one: the good one stored, the others refused,
    and the log says so once, though the batch was stored twice."""
    a, c, d = scene.a, scene.client, scene.data
    before = scene.status()
    rid1, rid2, rid3 = new_rid(), new_rid(), new_rid()
    cs1 = d.next([("case", rid1, create_ops(name="before the bad one"))])
    half = d.next([], chunks=[
        seal_chunk(scene.m, scene.circle, scene.key, d.seq + 1, "case",
                   rid2, create_ops(name="half of a bad one")),
        [rtag(scene.key, "case", rid3), os.urandom(24), os.urandom(64)]])
    cs2 = d.next([("case", new_rid(), create_ops(name="after the bad one"))])
    assert c.batch(scene.circle, [cs1, half, cs2]) == (3, 0)
    st = a.status()
    assert st["bad"] == before["bad"] + 1, st
    assert st["records"] == before["records"] + 2, st
    a.samen("get", "case", rid_text(rid2), rc=1)

    # A day ahead: stored and held (docs/sync.md, "A clock ahead"), so
    # the chain goes on after it.
    ahead = d.next([("case", new_rid(), create_ops(name="ahead"))],
                   hlc=(now_ms() + 86400000) << 16)
    forged = d.next([("case", new_rid(), create_ops(name="forged"))],
                    commit=False, signer=Device())
    gap = build(scene.m, scene.circle, scene.key, d.seq + 5, bytes(32),
                [("case", new_rid(), create_ops(name="out of chain"))])
    cs4 = d.next([("case", new_rid(), create_ops(name="the last one"))])
    assert c.batch(scene.circle, [ahead, forged, gap, cs4]) == (2, 2)
    st = a.status()
    assert st["changesets"] == before["changesets"] + 5, st
    assert st["held"] == 1, st
    assert st["bad"] == before["bad"] + 1, st
    assert st["rejected"] == before["rejected"] + 2, st
    assert st["records"] == before["records"] + 3, st
    assert st["pending"] == 0, st
    names = [r["fields"]["name"] for r in a.ls("case")]
    for name in ("before the bad one", "after the bad one", "the last one"):
        assert name in names
    for name in ("half of a bad one", "forged", "out of chain", "ahead"):
        assert name not in names
    said = [line for line in a.log_text().splitlines()
            if "rejected" in line or "clock skew" in line]
    assert len(said) == 2, said
    assert "held back" in said[0] and "2 of 4 change sets" in said[1], said
    # The store holds what the index shows (before the rebuild, which
    # would mend it), and a rebuild from the change sets gives the same.
    same_after_restart([a])
    assert a.samen("rebuild").out.strip() == st["replica_digest"]


# Forks.

def test_fork_flags_the_author_and_refuses_the_rest(scene):
    a, c = scene.a, scene.client
    before = scene.status()
    _, cs1 = mallory_case(scene, "one")
    _, cs2 = mallory_case(scene, "two")
    assert c.batch(scene.circle, [cs1, cs2]) == (2, 0)
    assert scene.status()["flagged"] == 0
    # Another seq 2 on top of the same seq 1.
    fork = build(scene.m, scene.circle, scene.key, 2, cs1.id,
                 [("case", new_rid(), create_ops(name="fork"))])
    assert fork.id != cs2.id
    assert c.batch(scene.circle, [fork]) == (0, 1)
    st = scene.expect(before, stored=2, rejected=1, records=2)
    assert st["flagged"] == 1, st
    assert any("forked" in line for line in a.log_text().splitlines())

    # Nothing more of M, in any chain, even perfectly valid.
    _, cs3 = mallory_case(scene, "three")
    assert c.batch(scene.circle, [cs3]) == (0, 1)
    _, mcs = scene.mchain.create("note", text="in the members chain")
    assert c.batch(scene.members, [mcs]) == (0, 1)
    c.start()
    assert c.batch(scene.circle, [cs3]) == (0, 1)
    st = scene.expect(before, stored=2, rejected=4, records=2)
    assert st["flagged"] == 1
    names = sorted(r["fields"]["name"] for r in a.ls("case"))
    assert names == ["Familie Jansen", "one", "two"]
    # A's own writes go on.
    a.put("case", "name=after the fork")
    assert a.status()["changesets"] == before["changesets"] + 3


# Messages that are not what they claim.

def test_malformed_messages_are_dropped(scene):
    a, c = scene.a, scene.client
    before = scene.status()
    _, good = mallory_case(scene, "good")
    valid = pack([SYNC_VERSION, BATCH, c.session, scene.circle,
                  [good.entry()]])
    bad = [
        valid[:len(valid) // 2],                     # truncated
        valid + b"\x00",                             # trailing byte
        b"",                                         # empty frame
        os.urandom(1),
        os.urandom(200),
        b"\xdd\xff\xff\xff\xff",                     # array32 of 4G
        b"\xdf\xff\xff\xff\xff",                     # map32 of 4G
        b"\x95\x01\x03" + b"\xcf" + os.urandom(8) + b"\xc4\x10" +
        scene.circle + b"\xdd\xff\xff\xff\xff",      # batch of 4G entries
        b"\x91" * 100000,                            # nesting
        pack({"type": BATCH}),
        pack([2, HELLO, c.session, bytes(32), []]),   # another version
        pack([SYNC_VERSION, 99, c.session]),          # unknown type
        pack([SYNC_VERSION, BATCH, c.session, scene.circle, []]),
        pack([SYNC_VERSION, BATCH, c.session, scene.circle[:8],
              [good.entry()]]),
        pack([SYNC_VERSION, VECTOR, c.session, scene.members,
              [[b"\xff" * 32, 1, bytes(32)], [b"\x00" * 32, 1, bytes(32)]]]),
        pack([SYNC_VERSION, VECTOR, c.session, scene.members,
              [[b"\x00" * 32, 0, bytes(32)]]]),
        # Not canonical: the version in 8 bytes.
        b"\x95\xcf" + struct.pack(">Q", 1) + valid[2:],
    ]
    dropped = a.status()["dropped"]
    for raw in bad:
        c.send_raw(raw)
    # More than one frame: dropped whole.
    c.send_raw(valid, b"extra")
    scene.expect(before)
    # Every one of them counted as dropped (ERROR replies aside).
    wait_until(lambda: a.status()["dropped"] >= dropped + len(bad) + 1, 10,
               "A to count every dropped message")
    # Nothing was acknowledged (an ERROR would be fair).
    while (m := c.recv(0.5)) is not None:
        assert m[1] == ERROR, m
    assert any("malformed sync message" in line
               for line in a.log_text().splitlines())
    # The daemon still serves M, and the change set that came along in
    # broken messages was never stored.
    c.start()
    assert c.batch(scene.circle, [good]) == (1, 0)
    scene.expect(before, stored=1, records=1)


def test_oversized_messages_are_dropped_and_the_daemon_keeps_serving(scene):
    a, c = scene.a, scene.client
    before = scene.status()
    _, good = mallory_case(scene)
    # A payload over CS_MAX_PAYLOAD, in a message under SYNC_MAX_MSG.
    big = pack([SYNC_VERSION, BATCH, c.session, scene.circle,
                [[good.hdr, b"\x00" * (CS_MAX_PAYLOAD + 1)]]])
    assert len(big) < SYNC_MAX_MSG
    c.send_raw(big)
    assert c.recv(1) is None
    scene.expect(before)
    # One frame over SYNC_MAX_MSG: libzmq drops the connection.
    c.send_raw(b"\x00" * (SYNC_MAX_MSG + 1))
    assert c.recv(1) is None
    st = scene.expect(before)
    assert st["replica_digest"] == before["replica_digest"]
    # The DEALER reconnects by itself; a new session is served.
    def served():
        try:
            c.start(timeout=2)
            return True
        except AssertionError:
            return False
    wait_until(served, 30, "a new session after the oversized message")
    assert c.batch(scene.circle, [good]) == (1, 0)
    scene.expect(before, stored=1, records=1)
    # And it still syncs with anyone else.
    assert a.samen("status").rc == 0


# Time.

def future_cs(scene, years=10):
    ahead = now_ms() + years * 365 * DAY_MS
    rid = new_rid()
    return rid, scene.data.next([("case", rid, create_ops(name="future"))],
                                hlc=ahead << 16)


def test_changeset_from_the_future_is_held_back(scene):
    """DESIGN: a change set whose HLC is further in the future than a
    configured bound is held back, not merged, and reported."""
    before = scene.status()
    rid, cs = future_cs(scene)
    scene.client.batch(scene.circle, [cs])
    st = scene.a.status()
    assert rid_text(rid) not in [r["id"] for r in scene.a.ls("case")], \
        "a change set dated 10 years ahead was merged"
    assert st["records"] == before["records"], st


def test_changeset_from_the_future_does_not_move_our_clock(scene):
    """Whatever becomes of it, a remote timestamp 10 years ahead must not
    become this device's clock: its own writes keep the real time."""
    a = scene.a
    _, cs = future_cs(scene)
    scene.client.batch(scene.circle, [cs])
    a.restart("--listen", a.addr)
    rid = a.put("case", "name=written after a restart")
    created = a.get("case", rid)["created"]
    assert TIME_RE.match(created)
    when = calendar.timegm(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(when - time.time()) < 86400, \
        f"A's own record is dated {created}: its clock took a peer's"


# Who is admitted.

def test_unknown_key_never_gets_a_reply(scene):
    a = scene.a
    refused = scene.status()["zap_refused"]
    stranger = Device()
    s = scene.connect(stranger)
    try:
        s.session = 1
        s.send([SYNC_VERSION, HELLO, 1, bytes(32), []])
        assert s.recv(2) is None
    finally:
        s.close()
    wait_until(lambda: scene.status()["zap_refused"] > refused, 10,
               "the refusal to be counted")
    assert any("refused" in line and "unknown key" in line
               for line in a.log_text().splitlines())
    # The member is still served.
    scene.client.start()


def members_of(node, name="team"):
    return sorted((m["device"], m["role"], m["state"])
                  for m in node.circles()[name]["members"])


def test_roster_ops_by_a_member_count_for_nothing(scene):
    """M writes, in the members chain (whose key anyone in the circle can
    derive), well-formed ops only an admin may write: a second create (of
    another circle's salt), a device of its own added as admin, A demoted,
    A removed.  A stores them (they are signed and chained) and counts
    each as unauthorized: the members, roles and epochs do not change, and
    the device M named is not let in."""
    a, c = scene.a, scene.client
    sybil = Device()
    before = scene.status()
    members_before = members_of(a)
    team = a.circles()["team"]
    unauthorized = team["ops"]["unauthorized"]
    assert team["ops"]["valid"] == 2
    deps = scene.deps()
    chain = scene.members
    seq = scene.mchain.seq
    # A create names nothing before it: it comes first in M's chain.
    css = [
        scene.mchain.next([mop("create", (), salt=os.urandom(16).hex(),
                               epoch="1", name="70776e6564")]),
        scene.mchain.next([mop("add", deps, target=sybil.id,
                               role="admin")]),
        scene.mchain.next([mop("role", deps, target=a.device,
                               role="member")]),
        scene.mchain.next([mop("remove", deps, target=a.device,
                               cut="0:" + "0" * 64,
                               epoch=str(epoch_id(chain, scene.m.pk,
                                                  seq + 4)))]),
    ]
    assert c.batch(scene.members, css) == (4, 0)
    scene.expect(before, stored=4, records=4)
    after = a.circles()["team"]
    assert after["ops"]["unauthorized"] == unauthorized + 4, after["ops"]
    assert after["ops"]["valid"] == 2
    assert after["ops"]["malformed"] == 0
    assert members_of(a) == members_before
    assert sorted((d, r) for d, r, _ in members_before) == \
        sorted([(a.device, "admin"), (scene.m.id, "member")])
    assert after["epoch"] == team["epoch"] and after["epochs"] == 1
    refused = scene.status()["zap_refused"]
    s = scene.connect(sybil)
    try:
        s.session = 2
        s.send([SYNC_VERSION, HELLO, 2, bytes(32), []])
        assert s.recv(2) is None, "a device only M named was let in"
    finally:
        s.close()
    wait_until(lambda: scene.status()["zap_refused"] > refused, 10,
               "the refusal to be counted")
    # A still writes and admins: it adds a device, which counts.
    a.circle_add("team", Device().id)
    assert a.circles()["team"]["ops"]["valid"] == 3


def test_a_member_cannot_rewrite_the_member_list(scene):
    """With B a second member: M removes B, makes itself relay-free admin
    through a role op, and replays A's own ops.  None of it may count:
    the circle, its members and roles stay, a replay is a harmless
    duplicate, an op in A's name that M signed is refused, and A keeps
    syncing the circle with B."""
    a, c, cluster = scene.a, scene.client, scene.cluster
    b = cluster.sync_node("b")
    a.circle_add("team", b)
    b.peer_add(a)
    a.peer_add(b)
    r = b.sync(a)
    assert r.json[0]["session"]["state"] == "done", r
    b.circle_use("team")
    a.wait_session(b)
    team = a.circles()["team"]
    assert sorted((m["device"], m["role"]) for m in team["members"]) == \
        sorted([(a.device, "admin"), (scene.m.id, "member"),
                (b.device, "member")])

    before = scene.status()
    deps = scene.deps()
    seq = scene.mchain.seq
    css = [
        scene.mchain.next([mop("remove", deps, target=b.device,
                               cut="0:" + "0" * 64,
                               epoch=str(epoch_id(scene.members, scene.m.pk,
                                                  seq + 1)))]),
        scene.mchain.next([mop("role", deps, target=scene.m.id,
                               role="admin")]),
    ]
    assert c.batch(scene.members, css) == (2, 0)
    # A's own ops again: held already.
    c.start()
    held = c.fetch(scene.members)
    mine = [[h, p] for h, p in held if unpack(h)[1] == devid_decode(a.device)]
    assert c.batch(scene.members, mine) == (0, 0)
    # An op in A's name, signed by M.
    f = unpack(mine[0][0])[:9]
    f[4] = len(mine) + 1
    f[5] = ChangeSet(*mine[-1]).id
    assert c.batch(scene.members, [[sign_header(f, scene.m.sk),
                                    mine[0][1]]]) == (0, 1)
    scene.expect(before, stored=2, rejected=1, records=2)
    after = a.circles()
    assert "team" in after, f"the circle is gone from A: {list(after)}"
    assert after["team"]["members"] == team["members"]
    assert after["team"]["ops"]["unauthorized"] == \
        team["ops"]["unauthorized"] + 2
    # And the circle still works between A and B.
    rid = a.put("case", "name=after M's edits")
    r = b.sync(a)
    assert r.json[0]["session"]["state"] == "done", r
    assert b.get("case", rid)["fields"] == {"name": "after M's edits"}
    assert b.circles()["team"]["members"] == team["members"]


def test_a_roster_op_naming_what_nobody_wrote_waits(scene):
    """An op whose deps name an op A does not hold (A's seq 99) is kept and
    waits for it, for ever: it counts for nothing meanwhile, and holds up
    nothing of anyone else's."""
    a, c = scene.a, scene.client
    team = a.circles()["team"]
    deps = [(devid_decode(a.device), 99)]
    cs = scene.mchain.next([mop("add", deps, target=Device().id,
                                role="member")])
    assert c.batch(scene.members, [cs]) == (1, 0)
    after = a.circles()["team"]
    assert after["ops"]["waiting"] == team["ops"]["waiting"] + 1
    assert after["members"] == team["members"]
    a.circle_add("team", Device().id)
    assert a.circles()["team"]["ops"]["valid"] == team["ops"]["valid"] + 1


def ops_of(changesets, circle):
    """[(type, target)] of the ops of a members chain's change sets."""
    out = []
    for hdr, payload in changesets:
        for coll, _, ops in open_chunks(hdr, payload, members_key(circle)):
            f = op_fields(ops)
            out.append((f["type"], f.get("target")))
    return out


def test_a_removed_member_is_handed_its_removal_and_nothing_else(scene):
    """A removes M, then adds another device and writes.  M connects
    again: an exile session.  A offers it the circle; of the members chain
    it is sent what its removal was decided on and the removal, not the
    add that came after; of the data chain nothing, not even what it
    lacks.  What it writes under the old key past its cut is stored
    quarantined, never merged; a forged one among it is refused and
    counted, and A keeps serving."""
    a, c = scene.a, scene.client
    _, cs1 = mallory_case(scene, "before")
    assert c.batch(scene.circle, [cs1]) == (1, 0)
    r = a.samen("circle", "rm", "team", scene.m.id, json=True).json
    assert r["cut"] == 1
    later = Device()
    a.circle_add("team", later.id)
    a.put("case", "name=AFTER-REMOVAL")
    before = scene.status()
    hello = c.start()
    assert [e[0] for e in hello[4]] == [scene.circle], hello
    assert c.fetch(scene.circle) == []
    ops = ops_of(c.fetch(scene.members), scene.circle)
    assert ("remove", scene.m.id) in ops, ops
    assert ("create", None) in ops and ("add", scene.m.id) in ops, ops
    assert ("add", later.id) not in ops, ops
    # Past its cut, under the old key: kept, held back.
    _, cs2 = mallory_case(scene, "after")
    assert c.batch(scene.circle, [cs2]) == (1, 0)
    forged = scene.data.next([("case", new_rid(),
                               create_ops(name="forged"))],
                             commit=False, signer=Device())
    assert c.batch(scene.circle, [forged]) == (0, 1)
    st = scene.expect(before, stored=1, rejected=1)
    assert st["quarantined"] == 1
    q = a.samen("circle", "quarantine", "team", json=True).json
    assert [(e["author"], e["seq"]) for e in q] == [(scene.m.id, 2)], q
    assert sorted(r["fields"]["name"] for r in a.ls("case")) == \
        ["AFTER-REMOVAL", "Familie Jansen", "before"]
    assert members_of(a) == sorted([
        (a.device, "admin", "current"), (scene.m.id, "member", "removed"),
        (later.id, "member", "current")])
    # It can ask for nothing else: a chain of no circle of the session.
    c.send([SYNC_VERSION, VECTOR, c.session, os.urandom(16), []])
    assert c.expect(ERROR)[3] < 0
    scene.client.start()


def test_a_removed_device_that_is_no_peer_is_admitted_to_be_told(
        cluster, zctx):
    """N is a member A never added as a peer: ZAP admits it as a member.
    Once removed it is still admitted, only to be handed its removal (a
    device no roster names stays refused)."""
    a = cluster.sync_node("a")
    a.circle_new("team")
    n, stranger = Device(), Device()
    a.circle_add("team", n.id)
    circle = bytes.fromhex(a.circles()["team"]["circle"])
    a.samen("circle", "rm", "team", n.id)
    c = Client(zctx, n, a.device, a.addr)
    try:
        hello = c.start()
        assert [e[0] for e in hello[4]] == [circle], hello
        ops = ops_of(c.fetch(members_circle(circle)), circle)
        assert ops[-1] == ("remove", n.id), ops
        assert c.fetch(circle) == []
    finally:
        c.close()
    refused = a.status()["zap_refused"]
    s = Client(zctx, stranger, a.device, a.addr)
    try:
        s.session = 5
        s.send([SYNC_VERSION, HELLO, 5, bytes(32), []])
        assert s.recv(2) is None
    finally:
        s.close()
    wait_until(lambda: a.status()["zap_refused"] > refused, 10,
               "the refusal to be counted")


def test_a_revoked_device_is_never_a_peer_again(cluster, zctx):
    """B's circle "side" has A and M as members; A's "team" has M too.  A
    revokes M (in team, the circle it administers).  M, still a stored
    peer and still in side by B's roster, connects: A serves it team as
    an exile, side not at all, and takes no circle it offers."""
    a, b = cluster.sync_node("a"), cluster.sync_node("b")
    m = Device()
    a.circle_new("team")
    a.circle_add("team", m.id)
    b.circle_new("side")
    b.circle_add("side", a)
    b.circle_add("side", m.id)
    a.peer_add(b)
    b.peer_add(a)
    r = a.sync(b)
    assert r.json[0]["session"]["state"] == "done", r
    assert {"team", "side"} <= set(a.circles())
    a.samen("peer", "add", m.id)
    team = bytes.fromhex(a.circles()["team"]["circle"])
    side = bytes.fromhex(a.circles()["side"]["circle"])
    r = a.samen("device", "revoke", m.id, json=True).json
    assert r["circles"] == 1
    c = Client(zctx, m, a.device, a.addr)
    try:
        own, _, css = fake_circle(m, Device())
        hello = c.start([(team, *(os.urandom(32) for _ in range(3))),
                         (side, *(os.urandom(32) for _ in range(3))),
                         (own, *(os.urandom(32) for _ in range(3)))])
        assert [e[0] for e in hello[4]] == [team], hello
        assert ("revoke", m.id) in ops_of(c.fetch(members_circle(team)),
                                          team)
        c.send([SYNC_VERSION, VECTOR, c.session, members_circle(side), []])
        assert c.expect(ERROR)[3] < 0
    finally:
        c.close()
    assert set(a.circles()) == {"private", "team", "side"}


def test_a_relay_sending_a_tampered_chunk_is_refused(scene):
    """R, a relay of team (it holds no key), carries M's change sets to A.
    One with a chunk R changed on the way is refused and counted; the
    same change set as M wrote it goes in, and A keeps serving."""
    a = scene.a
    relay = Device()
    a.samen("circle", "add", "team", relay.id, "--role", "relay")
    rc = scene.connect(relay)
    try:
        hello = rc.start()
        assert [e[0] for e in hello[4]] == [scene.circle], hello
        before = scene.status()
        rid, cs = mallory_case(scene, "carried by R")
        assert rc.batch(scene.circle, [tampered(cs)]) == (0, 1)
        assert rc.batch(scene.circle, [cs]) == (1, 0)
        scene.expect(before, stored=1, rejected=1, records=1)
        assert a.get("case", rid_text(rid))["fields"]["name"] == \
            "carried by R"
    finally:
        rc.close()
    scene.client.start()


def fake_circle(owner, *members):
    """A valid shared circle that owner creates: its id, its members chain
    and its change sets: the create op, then an add op per member."""
    salt = os.urandom(16)
    circle = b2b(b"samen-circle-1" + owner.pk + salt, 16)
    chain = Chain(owner, members_circle(circle), members_key(circle))
    css = [chain.next([mop("create", (), salt=salt.hex(), epoch="1")])]
    for m in members:
        css.append(chain.next([mop("add", (), target=m.id,
                                   role="member")]))
    return circle, chain.circle, css


def test_a_circle_we_are_not_in_admits_no_one(cluster, zctx):
    """docs/sync.md: ZAP admits a stored peer or a member of a shared
    circle we are in.  A plain peer P offers a circle of its own making in
    which A is not a member, listing a device Y that nobody added: Y must
    still be refused."""
    a = cluster.sync_node("a")
    p, y = Device(), Device()
    a.samen("peer", "add", p.id)
    c = Client(zctx, p, a.device, a.addr)
    try:
        circle, mchain, css = fake_circle(p, y)
        c.start([(circle, os.urandom(32), os.urandom(32), os.urandom(32))])
        c.batch(mchain, css)
        assert list(a.circles()) == ["private"]
        refused = a.status()["zap_refused"]
        s = Client(zctx, y, a.device, a.addr)
        try:
            s.session = 3
            s.send([SYNC_VERSION, HELLO, 3, bytes(32), []])
            reply = s.recv(2)
        finally:
            s.close()
        assert reply is None, \
            "a device named only in a stranger's circle was let in"
        wait_until(lambda: a.status()["zap_refused"] > refused, 10,
                   "the refusal to be counted")
    finally:
        c.close()


def test_non_member_cannot_push_or_pull_a_circle(cluster, zctx):
    """A plain peer that knows the circle id (not a member): A offers it
    nothing, ignores the circle when offered, and takes no change set."""
    a = cluster.sync_node("a")
    a.circle_new("team")
    a.circle_use("team")
    a.put("case", "name=Jansen")
    circle = bytes.fromhex(a.circles()["team"]["circle"])
    p = Device()
    a.samen("peer", "add", p.id)
    before = a.status()
    c = Client(zctx, p, a.device, a.addr)
    try:
        hello = c.start([(circle, os.urandom(32), os.urandom(32),
                          os.urandom(32))])
        assert hello[4] == [], hello
        # It cannot ask for the chains...
        c.send([SYNC_VERSION, VECTOR, c.session, members_circle(circle), []])
        m = c.expect(ERROR)
        assert m[3] < 0, m
        # ...nor push into them.
        c.start()
        cs = build(p, circle, os.urandom(32), 1, bytes(32),
                   [("case", new_rid(), create_ops(name="intruder"))])
        c.send([SYNC_VERSION, BATCH, c.session, circle, [cs.entry()]])
        m = c.expect(ERROR)
        assert m[3] < 0, m
    finally:
        c.close()
    st = a.status()
    assert st["changesets"] == before["changesets"]
    assert st["rejected"] == before["rejected"] + 1, st
    assert [r["fields"]["name"] for r in a.ls("case")] == ["Jansen"]


def test_many_offered_circles_do_not_stall_the_daemon(cluster, zctx):
    """A plain peer's HELLO may offer SYNC_MAX_CIRCLES circles.  Whatever
    the daemon makes of them, its CLI must keep answering promptly."""
    a = cluster.sync_node("a")
    p = Device()
    a.samen("peer", "add", p.id)
    c = Client(zctx, p, a.device, a.addr)
    try:
        c.session = 4
        c.send([SYNC_VERSION, HELLO, 4, bytes(32),
                [[os.urandom(16), os.urandom(32), os.urandom(32),
                  os.urandom(32)] for _ in range(SYNC_MAX_CIRCLES)]])
        time.sleep(0.3)
        t0 = time.monotonic()
        a.status()
        took = time.monotonic() - t0
        assert took < 5, \
            f"samen status took {took:.1f} s during one peer's HELLO"
        # Drain the reply (whenever it comes) before teardown.
        c.recv(60)
    finally:
        c.close()
    assert list(a.circles()) == ["private"]
