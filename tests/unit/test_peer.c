/* test_peer: the sync layer's intake (pool checks, queue, groups, ACKs after the disk), its schedule and its snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../daemon/peer.c"
#include "../../daemon/session.c"
#include "../../daemon/intake.c"
#include "metrics.h"
#include "render.h"

#define NBATCH 8
#define PER_BATCH 32

/* Change sets of one author in one chain, built for the tests. */
struct batch_world {
	uint8_t pk[32], sk[64];
	uint8_t circle[CS_CIRCLELEN];
	uint8_t key[CS_KEYLEN];
	uint64_t seq;
	uint8_t head[CS_IDLEN];
};

static void
world_init(struct batch_world *bw)
{
	memset(bw, 0, sizeof(*bw));
	assert_int_equal(crypto_sign_keypair(bw->pk, bw->sk), 0);
	randombytes_buf(bw->circle, sizeof(bw->circle));
	randombytes_buf(bw->key, sizeof(bw->key));
}

/* The next change set of the chain, appended as a BATCH entry to entries. */
static void
next_cs(struct batch_world *bw, struct wbuf *hdr, struct wbuf *pay,
    uint8_t id[CS_IDLEN])
{
	struct cs_header h;
	struct cs_plain plain;
	struct op o = { OP_SET, "name", 4, "someone", 7, 0, NULL, 0 };
	struct ops_chunk c;
	struct wbuf data;
	uint8_t nonce[CS_NONCELEN];

	memset(&h, 0, sizeof(h));
	memcpy(h.author, bw->pk, 32);
	memcpy(h.circle, bw->circle, CS_CIRCLELEN);
	h.epoch = 1;
	h.seq = ++bw->seq;
	memcpy(h.prev, bw->head, CS_IDLEN);
	h.hlc = 0x0191234567890003ULL;
	/* A new record: one value of one field. */
	memset(&c, 0, sizeof(c));
	c.collection = "case";
	c.collection_len = 4;
	randombytes_buf(c.rid, sizeof(c.rid));
	c.ops = &o;
	c.nops = 1;
	wire_init(&data);
	ops_encode(&data, &c);
	randombytes_buf(nonce, sizeof(nonce));
	changeset_rtag(plain.rtag, bw->key, "case", 4, c.rid);
	plain.data = wire_data(&data);
	plain.len = wire_len(&data);
	wire_init(hdr);
	wire_init(pay);
	changeset_build(hdr, pay, id, &h, bw->sk, bw->key, &plain, 1, nonce);
	wire_free(&data);
	memcpy(bw->head, id, CS_IDLEN);
}

static void
test_check_one(void **state)
{
	struct batch_world bw;
	struct wbuf hdr, pay;
	struct checked k;
	struct sync_cs e;
	uint8_t id[CS_IDLEN], other[CS_CIRCLELEN], *bad;
	uint8_t vid[VID_LEN];
	/* The chain's keys as read ahead: another epoch's, then epoch 1's. */
	struct store_epoch_key keys[2];

	(void)state;
	world_init(&bw);
	keys[0].epoch = 0x80000007;
	randombytes_buf(keys[0].key, CS_KEYLEN);
	keys[1].epoch = 1;
	memcpy(keys[1].key, bw.key, CS_KEYLEN);
	next_cs(&bw, &hdr, &pay, id);
	e.hdr = wire_data(&hdr);
	e.hdr_len = wire_len(&hdr);
	e.payload = wire_data(&pay);
	e.payload_len = wire_len(&pay);

	check_one(&k, bw.circle, &e, NULL, 0);
	assert_int_equal(k.rc, 0);
	assert_int_equal(k.payload_rc, 0);
	assert_memory_equal(k.id, id, CS_IDLEN);
	assert_int_equal(k.h.seq, 1);
	assert_null(k.op.chunks);	/* no key: the merge reads it */

	/* With the key of its epoch among others, its chunk is read ahead. */
	check_one(&k, bw.circle, &e, keys, 2);
	assert_int_equal(k.rc, 0);
	assert_int_equal(k.payload_rc, 0);
	assert_int_equal(k.op.n, 1);
	assert_non_null(k.op.chunks[0].plain);
	assert_memory_equal(k.op.chunks[0].oc.ops[0].value, "someone", 7);
	/* And the vids the merge would derive, from this change set's id. */
	assert_true(k.op.has_vids);
	assert_memory_equal(k.op.csid, id, CS_IDLEN);
	assert_non_null(k.op.chunks[0].vids);
	ops_vid(vid, id, 0, 0);
	assert_memory_equal(k.op.chunks[0].vids[0].vid, vid, VID_LEN);
	changeset_opened_free(&k.op);
	/* The key of another epoch, or another key: left to the merge,
	 * which finds the same (the change set itself is fine so far). */
	check_one(&k, bw.circle, &e, keys, 1);
	assert_int_equal(k.payload_rc, 0);
	assert_null(k.op.chunks);
	keys[1].key[0] ^= 1;
	check_one(&k, bw.circle, &e, keys, 2);
	assert_int_equal(k.rc, 0);
	assert_int_equal(k.payload_rc, 0);
	assert_null(k.op.chunks);
	keys[1].key[0] ^= 1;

	/* Another chain than the batch's. */
	memcpy(other, bw.circle, sizeof(other));
	other[0] ^= 1;
	check_one(&k, other, &e, keys, 2);
	assert_int_equal(k.rc, SAMEN_EPROTO);

	/* A bit of the signature (the header's last byte). */
	bad = malloc(e.hdr_len);
	assert_non_null(bad);
	memcpy(bad, e.hdr, e.hdr_len);
	bad[e.hdr_len - 1] ^= 1;
	e.hdr = bad;
	check_one(&k, bw.circle, &e, keys, 2);
	assert_int_equal(k.rc, SAMEN_ESIG);
	assert_null(k.op.chunks);
	/* Cut short: does not decode. */
	e.hdr_len -= 3;
	check_one(&k, bw.circle, &e, keys, 2);
	assert_true(k.rc < 0 && k.rc != SAMEN_ESIG);
	free(bad);

	/* The header is fine, a bit of the payload is not: the loop sees the
	 * header's verdict first (the clock check comes between). */
	e.hdr = wire_data(&hdr);
	e.hdr_len = wire_len(&hdr);
	bad = malloc(e.payload_len);
	assert_non_null(bad);
	memcpy(bad, e.payload, e.payload_len);
	bad[e.payload_len - 1] ^= 1;
	e.payload = bad;
	check_one(&k, bw.circle, &e, keys, 2);
	assert_int_equal(k.rc, 0);
	assert_int_equal(k.payload_rc, SAMEN_EHASH);
	assert_null(k.op.chunks);
	free(bad);
	wire_free(&hdr);
	wire_free(&pay);
}

/* qworld_open breaks the signature of its last change set (tests set it). */
static int tamper_last;

/*
 * A peers and a session just real enough for intake_receive() and the
 * pool, and a store in a directory of its own that holds the chain's key,
 * as a member's does (the pool reads the chunks ahead with it).
 */
struct qworld {
	uv_loop_t loop;
	struct peers p;
	struct metrics *m;
	struct metrics_samen fam;
	struct session *s;
	struct batch_world bw;
	struct wbuf msgs[NBATCH];
	char dir[32];
	struct store *st;
};

static void
qworld_open(struct qworld *w, int state)
{
	struct store_circle c;
	char path[64], *cause = NULL;
	uint8_t skey[32];

	memset(w, 0, sizeof(*w));
	assert_int_equal(uv_loop_init(&w->loop), 0);
	w->p.env.loop = &w->loop;
	w->m = metrics_open();
	metrics_samen(w->m, &w->fam);
	w->p.env.metrics = &w->fam;
	w->p.wall_ms = clock_wall_ms;
	pool_lane_init(&w->p.checks, &w->loop, pool_width());
	uv_idle_init(&w->loop, &w->p.drainer);
	w->p.drainer.data = &w->p;
	world_init(&w->bw);
	strcpy(w->dir, "/tmp/samen-peer-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(path, sizeof(path), "%s/samen.db", w->dir);
	assert_int_equal(store_open(&w->st, path, &cause), 0);
	randombytes_buf(skey, sizeof(skey));
	store_set_key(w->st, skey);
	memset(&c, 0, sizeof(c));
	memcpy(c.id, w->bw.circle, CS_CIRCLELEN);
	memcpy(c.key, w->bw.key, CS_KEYLEN);
	c.epoch = 1;
	c.name = "team";
	assert_int_equal(store_circle_put(w->st, &c), 0);
	w->p.env.store = w->st;
	w->s = session_new(&w->p, NULL, 0, 42);
	w->s->state = state;
	chain_add(w->s, w->bw.circle);
	w->p.inbound = w->s;
	for (int b = 0; b < NBATCH; b++) {
		wire_init(&w->msgs[b]);
		sync_put_batch_start(&w->msgs[b], 42, w->bw.circle, PER_BATCH);
		for (int i = 0; i < PER_BATCH; i++) {
			struct wbuf hdr, pay;
			uint8_t id[CS_IDLEN];

			next_cs(&w->bw, &hdr, &pay, id);
			/* The header ends with its signature. */
			if (tamper_last && b == NBATCH - 1 &&
			    i == PER_BATCH - 1)
				((uint8_t *)(uintptr_t)wire_data(&hdr))[
				    wire_len(&hdr) - 1] ^= 1;
			sync_put_batch_cs(&w->msgs[b], wire_data(&hdr),
			    wire_len(&hdr), wire_data(&pay), wire_len(&pay));
			wire_free(&hdr);
			wire_free(&pay);
		}
	}
}

/* Every batch arrives; intake_receive() copies it, so each buffer is wiped and
 * freed at once, as a ZeroMQ frame would be. */
static void
qworld_receive_all(struct qworld *w)
{
	for (int b = 0; b < NBATCH; b++) {
		struct sync_msg m;

		assert_int_equal(sync_decode(&m, wire_data(&w->msgs[b]),
		    wire_len(&w->msgs[b])), 0);
		intake_receive(w->s, &m, wire_data(&w->msgs[b]),
		    wire_len(&w->msgs[b]));
		sync_msg_free(&m);
		memset((void *)(uintptr_t)wire_data(&w->msgs[b]), 0,
		    wire_len(&w->msgs[b]));
		wire_free(&w->msgs[b]);
	}
}

static void
qworld_close(struct qworld *w)
{
	uv_close((uv_handle_t *)&w->p.drainer, NULL);
	assert_int_equal(uv_run(&w->loop, UV_RUN_DEFAULT), 0);
	/* No handle and no work request left behind. */
	assert_int_equal(uv_loop_close(&w->loop), 0);
	store_close(w->st);
	metrics_close(w->m);
	for (int i = 0; i < 3; i++) {
		static const char *const sfx[] = { "", "-wal", "-shm" };
		char path[64];

		snprintf(path, sizeof(path), "%s/samen.db%s", w->dir, sfx[i]);
		unlink(path);
	}
	rmdir(w->dir);
}

/*
 * The session goes away while its batches are on the pool: what the pool
 * holds is freed when it hands it back, nothing touches the session (the
 * sanitizers would say so), and the loop closes clean.
 */
static void
test_session_freed_while_checking(void **state)
{
	struct qworld *w = malloc(sizeof(*w));

	(void)state;
	assert_non_null(w);
	qworld_open(w, SESSION_RUNNING);
	qworld_receive_all(w);
	assert_int_equal(w->s->nqueued, NBATCH);
	assert_true(w->s->qhead->busy);
	w->p.inbound = NULL;
	session_free(w->s);
	qworld_close(w);
	free(w);
}

/*
 * The pool finishes in any order; the queue hands batches back in the
 * order they came, each with the verdicts of its own change sets.  (An
 * ended session takes nothing in: drain() frees without dispatching, which
 * is what lets this run without a store.)
 */
static void
test_queue_keeps_arrival_order(void **state)
{
	struct qworld *w = malloc(sizeof(*w));
	struct pending *q;
	uint64_t seq = 0;
	int n = 0;

	(void)state;
	assert_non_null(w);
	qworld_open(w, SESSION_DONE);
	w->p.inbound = NULL;	/* the drainer must not see it */
	qworld_receive_all(w);
	/* Let the pool finish everything, without the drainer. */
	while (w->s->qhead != NULL) {
		int busy = 0;

		for (q = w->s->qhead; q != NULL; q = q->next)
			busy |= q->busy;
		if (!busy)
			break;
		uv_run(&w->loop, UV_RUN_ONCE);
	}
	for (q = w->s->qhead; q != NULL; q = q->next, n++) {
		assert_int_equal(q->m.type, SYNC_BATCH);
		assert_int_equal(q->m.ncs, PER_BATCH);
		for (uint32_t i = 0; i < q->m.ncs; i++) {
			assert_int_equal(q->cs[i].rc, 0);
			assert_int_equal(q->cs[i].payload_rc, 0);
			assert_int_equal(q->cs[i].h.seq, ++seq);
		}
	}
	assert_int_equal(n, NBATCH);
	/* One batch per call, oldest first. */
	q = w->s->qhead->next;
	assert_int_equal(drain(w->s), 1);
	assert_ptr_equal(w->s->qhead, q);
	assert_int_equal(w->s->nqueued, NBATCH - 1);
	while (drain(w->s) == 1)
		;
	assert_null(w->s->qhead);
	assert_int_equal(w->s->nqueued, 0);
	session_free(w->s);
	qworld_close(w);
	free(w);
}

/* The host of the tests that store: counts what the peer asks of it. */
struct ghost {
	int merges, stored, rolled_back;
};

static void
ghost_merge(void *arg)
{
	((struct ghost *)arg)->merges++;
}

static void
ghost_stored(void *arg, int committed)
{
	struct ghost *g = arg;

	if (committed)
		g->stored++;
	else
		g->rolled_back++;
}

/*
 * What a responder that stores needs besides a qworld: a host that counts
 * (g), a link, and a ROUTER for its ACKs that drops them (no such peer),
 * counted in bytes_sent all the same.
 */
struct serving {
	struct ghost g;
	struct link l;
	void *ctx;
};

static void
serving_open(struct qworld *w, struct serving *sv)
{
	void *router;

	memset(sv, 0, sizeof(*sv));
	w->p.env.hooks.arg = &sv->g;
	w->p.env.hooks.merge = ghost_merge;
	w->p.env.hooks.stored = ghost_stored;
	sv->ctx = zmq_ctx_new();
	router = zmq_socket(sv->ctx, ZMQ_ROUTER);
	assert_int_equal(zmq_bind(router, "inproc://test-peer"), 0);
	assert_int_equal(zsock_open(&w->p.router, &w->loop, router, NULL,
	    NULL), 0);
	sv->l.p = &w->p;
	w->s->link = &sv->l;
	w->s->rid_len = 1;
	w->s->rid[0] = 'x';
}

static void
serving_close(struct qworld *w, struct serving *sv)
{
	zsock_close(w->p.router);
	qworld_close(w);
	zmq_ctx_term(sv->ctx);
}

/* Every batch arrives, and the loop runs until the pool checked them all
 * (the drainer kept out: the tests drain by hand). */
static void
qworld_receive_checked(struct qworld *w)
{
	w->p.inbound = NULL;	/* the drainer must not see it */
	qworld_receive_all(w);
	while (w->s->qhead != NULL) {
		int busy = 0;

		for (struct pending *q = w->s->qhead; q != NULL; q = q->next)
			busy |= q->busy;
		if (!busy)
			break;
		uv_run(&w->loop, UV_RUN_ONCE);
	}
}

/* The bytes of the ACK of one of qworld's batches. */
static size_t
ack_len(const struct qworld *w)
{
	struct wbuf ack;
	uint8_t d[32];
	size_t n;

	memset(d, 7, sizeof(d));	/* an ACK's length does not depend on it */
	wire_init(&ack);
	sync_put_ack(&ack, 42, w->bw.circle, PER_BATCH, 0, d, 0, 0);
	n = wire_len(&ack);
	wire_free(&ack);
	return n;
}

/*
 * Batches that are ready together are stored by one commit (GROUP_MAX at
 * a time), each ACKed after it, in order; the rest wait for the next call.
 */
static void
test_batches_grouped(void **state)
{
	struct qworld *w = malloc(sizeof(*w));
	struct serving sv;
	struct store *st;
	struct store_stats ss;

	(void)state;
	assert_non_null(w);
	qworld_open(w, SESSION_RUNNING);
	st = w->st;
	serving_open(w, &sv);
	qworld_receive_checked(w);
	/* The pool read every chunk ahead, and no copy of the key is left. */
	for (struct pending *q = w->s->qhead; q != NULL; q = q->next) {
		assert_null(q->keys);
		for (uint32_t i = 0; i < q->m.ncs; i++)
			assert_non_null(q->cs[i].op.chunks);
	}

	assert_int_equal(drain(w->s), 1);
	assert_int_equal(w->s->nqueued, NBATCH - GROUP_MAX);
	assert_int_equal(sv.g.stored, 1);
	assert_int_equal(sv.g.merges, 1);
	assert_int_equal(w->s->received, GROUP_MAX * PER_BATCH);
	assert_int_equal(w->s->bytes_sent, GROUP_MAX * ack_len(w));
	assert_int_equal(store_stats(st, &ss), 0);
	assert_int_equal(ss.changesets, GROUP_MAX * PER_BATCH);
	assert_int_equal(w->s->state, SESSION_RUNNING);
	while (drain(w->s) == 1)
		;
	assert_null(w->s->qhead);
	assert_int_equal(sv.g.stored, NBATCH / GROUP_MAX);
	assert_int_equal(sv.g.rolled_back, 0);
	assert_int_equal(w->s->received, NBATCH * PER_BATCH);
	assert_int_equal(w->s->bytes_sent, NBATCH * ack_len(w));
	assert_int_equal(store_stats(st, &ss), 0);
	assert_int_equal(ss.changesets, NBATCH * PER_BATCH);
	assert_int_equal(ss.records, NBATCH * PER_BATCH);
	assert_int_equal(ss.bad, 0);

	session_free(w->s);
	serving_close(w, &sv);
	free(w);
}

/*
 * The metrics count what the sessions count: change sets received and
 * stored, bytes both ways, and each refusal by its reason, once, though
 * the group that held it was stored twice (optimistic, then careful).
 */
static void
test_metrics_counted(void **state)
{
	struct qworld *w = malloc(sizeof(*w));
	struct serving sv;
	const char *esig = "ESIG", *eproto = "EPROTO";
	struct sync_msg m;
	struct wbuf bad;
	uint8_t other[CS_CIRCLELEN];

	(void)state;
	assert_non_null(w);
	tamper_last = 1;
	qworld_open(w, SESSION_RUNNING);
	tamper_last = 0;
	serving_open(w, &sv);
	qworld_receive_checked(w);
	while (drain(w->s) == 1)
		;
	assert_null(w->s->qhead);
	assert_int_equal(w->s->received, NBATCH * PER_BATCH - 1);
	assert_int_equal(w->s->rejected, 1);
	assert_true(metrics_value(w->fam.cs_received, NULL) ==
	    NBATCH * PER_BATCH - 1);
	assert_true(metrics_value(w->fam.rejected, &esig) == 1);
	assert_true(metrics_value(w->fam.rejected, &eproto) == 0);
	assert_true(w->s->bytes_received > 0);
	assert_true(metrics_value(w->fam.bytes_received, NULL) ==
	    (double)w->s->bytes_received);
	assert_true(metrics_value(w->fam.bytes_sent, NULL) ==
	    (double)w->s->bytes_sent);
	assert_true(metrics_value(w->fam.cs_sent, NULL) == 0);

	/* A batch for a chain the session does not share: refused whole. */
	randombytes_buf(other, sizeof(other));
	wire_init(&bad);
	sync_put_batch_start(&bad, 42, other, 3);
	for (int i = 0; i < 3; i++)	/* never read: refused unchecked */
		sync_put_batch_cs(&bad, (const uint8_t *)"h", 1,
		    (const uint8_t *)"p", 1);
	assert_int_equal(sync_decode(&m, wire_data(&bad), wire_len(&bad)), 0);
	intake_batch(w->s, &m, NULL);
	sync_msg_free(&m);
	wire_free(&bad);
	assert_true(metrics_value(w->fam.rejected, &eproto) == 3);
	assert_int_equal(w->s->state, SESSION_FAILED);

	session_free(w->s);
	serving_close(w, &sv);
	free(w);
}

/* What durable told, for the ACK tests. */
struct told {
	int n, status;
};

static void
told_cb(void *arg, uint64_t done, int status)
{
	struct told *t = arg;

	(void)done;
	t->n++;
	t->status = status;
}

/* A durable that syncs path (a FIFO: every sync fails). */
static struct durable *
durable_on(struct qworld *w, const char *name, int fifo, struct told *t)
{
	struct durable *d;
	char path[64], *cause = NULL;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	if (fifo)
		assert_int_equal(mkfifo(path, 0600), 0);
	else {
		assert_true((fd = open(path, O_CREAT | O_RDWR, 0600)) >= 0);
		close(fd);
	}
	memset(t, 0, sizeof(*t));
	assert_int_equal(durable_open(&d, &w->loop, path, told_cb, t, &cause),
	    0);
	w->p.env.durable = d;
	return d;
}

static void
durable_done_with(struct qworld *w, struct durable *d, const char *name)
{
	char path[64];

	durable_close(d);
	w->p.env.durable = NULL;
	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	unlink(path);
}

/*
 * With lazy commits, a stored group's ACKs wait for durable: none goes
 * out before the disk has its commit, then all of them, in order.  A
 * session that ends forgets the ACKs still waiting: none is sent after.
 */
static void
test_acks_wait_for_the_disk(void **state)
{
	struct qworld *w = malloc(sizeof(*w));
	struct serving sv;
	struct durable *d;
	struct told t;

	(void)state;
	assert_non_null(w);
	qworld_open(w, SESSION_RUNNING);
	serving_open(w, &sv);
	d = durable_on(w, "wal", 0, &t);
	qworld_receive_checked(w);

	assert_int_equal(drain(w->s), 1);
	assert_int_equal(sv.g.stored, 1);
	assert_int_equal(w->s->bytes_sent, 0);
	assert_int_equal(w->s->nacks, GROUP_MAX);
	assert_int_equal(durable_waiting(d), GROUP_MAX);
	for (int i = 0; i < 5000 && w->s->nacks > 0; i++)
		uv_run(&w->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(t.status, 0);
	assert_int_equal(w->s->nacks, 0);
	assert_int_equal(durable_waiting(d), 0);
	assert_int_equal(w->s->bytes_sent, GROUP_MAX * ack_len(w));
	assert_int_equal(w->s->state, SESSION_RUNNING);

	/* The next group is stored; the session ends before its sync. */
	assert_int_equal(drain(w->s), 0);
	assert_int_equal(sv.g.stored, 2);
	assert_int_equal(w->s->nacks, GROUP_MAX);
	assert_int_equal(durable_waiting(d), GROUP_MAX);
	session_end(w->s, 0, "gone");
	assert_int_equal(w->s->nacks, 0);
	assert_int_equal(durable_waiting(d), 0);
	for (int i = 0; i < 200; i++)
		uv_run(&w->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(w->s->bytes_sent, GROUP_MAX * ack_len(w));

	durable_done_with(w, d, "wal");
	session_free(w->s);
	serving_close(w, &sv);
	free(w);
}

/*
 * A failed sync: the session whose ACKs waited for it ends with the
 * storage error (an ERROR to the peer), and no ACK goes out.
 */
static void
test_acks_fail_with_the_disk(void **state)
{
	struct qworld *w = malloc(sizeof(*w));
	struct serving sv;
	struct durable *d;
	struct told t;

	(void)state;
	assert_non_null(w);
	qworld_open(w, SESSION_RUNNING);
	serving_open(w, &sv);
	d = durable_on(w, "fifo", 1, &t);
	qworld_receive_checked(w);

	assert_int_equal(drain(w->s), 1);
	assert_int_equal(w->s->nacks, GROUP_MAX);
	for (int i = 0; i < 5000 && t.n == 0; i++)
		uv_run(&w->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(t.status, SAMEN_ESTORE);
	assert_int_equal(w->s->state, SESSION_FAILED);
	assert_string_equal(w->s->error, "storage error");
	assert_int_equal(w->s->nacks, 0);
	assert_int_equal(durable_waiting(d), 0);
	/* What went out is the ERROR, not an ACK. */
	assert_true(w->s->bytes_sent > 0);
	assert_true(w->s->bytes_sent < ack_len(w) * 2);

	durable_done_with(w, d, "fifo");
	session_free(w->s);
	serving_close(w, &sv);
	free(w);
}

/* A wall clock that the test sets. */
static uint64_t fake_wall;

static uint64_t
fake_wall_ms(void)
{
	return fake_wall;
}

/*
 * The schedule runs on the loop's monotonic clock: a session whose last
 * message came "now" survives a tick after the wall clock stepped back
 * an hour (or ahead two), and one idle for SESSION_IDLE_MS of the loop's
 * clock still ends, ours and one a peer started; the retry of ours is a
 * deadline on that clock too.
 */
static void
test_tick_monotonic(void **state)
{
	uv_loop_t loop;
	struct peers p;
	struct link l, *links[1] = { &l };
	struct session *out, *in;
	struct metrics *m = metrics_open();
	struct metrics_samen fam;
	const char *failed = "failed";
	uint64_t now;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&p, 0, sizeof(p));
	memset(&l, 0, sizeof(l));
	metrics_samen(m, &fam);
	p.env.loop = &loop;
	p.env.metrics = &fam;
	p.wall_ms = fake_wall_ms;
	p.links = links;
	p.nlinks = 1;
	l.p = &p;
	randombytes_buf(l.device, sizeof(l.device));
	devid_encode(l.devid, l.device);
	fake_wall = clock_wall_ms();
	uv_update_time(&loop);
	now = uv_now(&loop);
	out = l.out = session_new(&p, &l, 1, 1);
	in = p.inbound = session_new(&p, &l, 0, 2);

	fake_wall -= 3600 * 1000;
	tick(&p, now);
	assert_int_equal(out->state, SESSION_RUNNING);
	assert_ptr_equal(p.inbound, in);
	fake_wall += 2 * 3600 * 1000;
	tick(&p, now + 1000);
	assert_int_equal(out->state, SESSION_RUNNING);
	assert_ptr_equal(p.inbound, in);

	tick(&p, now + SESSION_IDLE_MS);
	assert_int_equal(out->state, SESSION_RUNNING);
	assert_ptr_equal(p.inbound, in);
	tick(&p, now + SESSION_IDLE_MS + 1);
	assert_int_equal(out->state, SESSION_FAILED);
	assert_string_equal(out->error, "the peer did not answer");
	assert_null(p.inbound);
	assert_int_equal(l.next_sync_ms, uv_now(&loop) + RETRY_MS);
	/* Ours ended, counted once; the peer's was dropped, not counted. */
	assert_true(metrics_value(fam.sessions, &failed) == 1);

	session_free(out);
	metrics_close(m);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The entry of device in a snapshot; it must be there. */
static const struct peers_stat *
stat_of(const struct peers_stat *st, size_t n, const uint8_t device[32])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(st[i].device, device, 32) == 0)
			return &st[i];
	fail_msg("a peer is missing from the snapshot");
	return NULL;
}

/*
 * peers_snapshot: every stored peer, with what peer
 * ls shows of it: its link's state, the stored counters, the latest
 * session of ours; a device we admit but do not store is not in it.
 */
static void
test_snapshot(void **state)
{
	struct qworld *w = malloc(sizeof(*w));
	struct link *la, *lb, *lm;
	struct peers_stat *st;
	const struct peers_stat *e;
	struct wbuf body;
	union render_result rr;
	uint8_t a[32], b[32], c[32], m[32], dig[32];
	size_t n;

	(void)state;
	assert_non_null(w);
	qworld_open(w, SESSION_DONE);
	session_free(w->s);
	w->p.inbound = NULL;
	for (int i = 0; i < NBATCH; i++)
		wire_free(&w->msgs[i]);
	randombytes_buf(a, 32);
	randombytes_buf(b, 32);
	randombytes_buf(c, 32);
	randombytes_buf(m, 32);
	memset(dig, 9, sizeof(dig));
	/* a: ours to connect to, connected, one session done; b: connects
	 * to us; c: never heard of; m: a member only. */
	assert_int_equal(store_peer_put(w->st, a, "tcp://10.0.0.1:7400"), 0);
	assert_int_equal(store_peer_put(w->st, b, NULL), 0);
	assert_int_equal(store_peer_put(w->st, c, NULL), 0);
	assert_int_equal(store_peer_note(w->st, a, 1700000000000ULL, dig, 3,
	    4, 1), 0);
	la = link_add(&w->p, a);
	lb = link_add(&w->p, b);
	lm = link_add(&w->p, m);
	la->up = 1;
	lb->heard = 1;
	lm->heard = 1;
	la->out = session_new(&w->p, la, 1, 7);
	la->out->round = 5;
	la->out->state = SESSION_FAILED;
	la->out->error = xstrdup("the peer did not answer");
	la->out->sent = 10;
	la->out->received = 20;
	la->out->rejected = 2;
	la->out->bytes_sent = 100;
	la->out->bytes_received = 200;

	assert_int_equal(peers_snapshot(&w->p, &st, &n), 0);
	assert_int_equal(n, 3);
	e = stat_of(st, n, a);
	assert_string_equal(e->addr, "tcp://10.0.0.1:7400");
	assert_int_equal(e->conn, PEERS_CONNECTED);
	assert_int_equal(e->last_sync_ms, 1700000000000ULL);
	assert_int_equal(e->sent, 3);
	assert_int_equal(e->received, 4);
	assert_int_equal(e->rejected, 1);
	assert_true(e->has_digest);
	assert_memory_equal(e->digest, dig, 32);
	assert_true(e->has_session);
	assert_int_equal(e->session.round, 5);
	assert_int_equal(e->session.state, PEERS_FAILED);
	assert_string_equal(e->session.error, "the peer did not answer");
	assert_int_equal(e->session.sent, 10);
	assert_int_equal(e->session.received, 20);
	assert_int_equal(e->session.rejected, 2);
	assert_int_equal(e->session.bytes_sent, 100);
	assert_int_equal(e->session.bytes_received, 200);
	assert_false(e->session.in_sync);
	e = stat_of(st, n, b);
	assert_null(e->addr);
	assert_int_equal(e->conn, PEERS_INBOUND);
	assert_int_equal(e->last_sync_ms, 0);
	assert_false(e->has_digest);
	assert_false(e->has_session);
	e = stat_of(st, n, c);
	assert_int_equal(e->conn, PEERS_IDLE);
	/* Not connected (yet): connecting. */
	la->up = 0;
	peers_snapshot_free(st, n);
	assert_int_equal(peers_snapshot(&w->p, &st, &n), 0);
	assert_int_equal(stat_of(st, n, a)->conn, PEERS_CONNECTING);
	peers_snapshot_free(st, n);

	/* peer ls renders it: an array of three maps of eleven. */
	wire_init(&body);
	memset(&rr, 0, sizeof(rr));
	rr.peers.live = 1;
	assert_int_equal(peers_snapshot(&w->p, &rr.peers.st, &rr.peers.n), 0);
	render_peer_ls(&body, &rr);	/* frees the snapshot */
	assert_int_equal(wire_data(&body)[0], 0x93);
	assert_int_equal(wire_data(&body)[1], 0x8b);
	wire_free(&body);

	for (size_t i = 0; i < w->p.nlinks; i++)
		link_free(w->p.links[i]);
	free(w->p.links);
	qworld_close(w);
	free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_one),
		cmocka_unit_test(test_session_freed_while_checking),
		cmocka_unit_test(test_queue_keeps_arrival_order),
		cmocka_unit_test(test_batches_grouped),
		cmocka_unit_test(test_metrics_counted),
		cmocka_unit_test(test_acks_wait_for_the_disk),
		cmocka_unit_test(test_acks_fail_with_the_disk),
		cmocka_unit_test(test_tick_monotonic),
		cmocka_unit_test(test_snapshot),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
