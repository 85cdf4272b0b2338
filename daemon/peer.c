/*
 * peer: sync with other devices (docs/sync.md).
 *
 * One ROUTER bound on the listen address takes sessions that peers start;
 * one DEALER per peer with an address carries the sessions we start.  Both
 * use CURVE with the X25519 key pair derived from the device's ed25519
 * identity, so a device id is also its server key: connecting to the wrong
 * device fails the handshake.  The ZAP handler, bound before anything else,
 * admits a client only if its key belongs to a stored peer or to a member
 * of a circle we share, and names it in the User-Id of every message.
 */
#include "peer.h"

#include <assert.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "conf.h"
#include "devid.h"
#include "durable.h"
#include "error.h"
#include "hlc.h"
#include "log.h"
#include "pool.h"
#include "sync.h"
#include "util.h"
#include "zsock.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "samen"
#define WINDOW 32			/* batches in flight per chain */
#define BATCH_BYTES (1u << 20)		/* a batch closes past this size */
#define SESSION_IDLE_MS 30000		/* no message for this long: over */
#define RETRY_MS 10000			/* after a failed session */
#define TICK_MS 1000
#define RECV_BATCH 64			/* messages per readable callback */
/*
 * Batches that are ready together are stored in one transaction: at most
 * GROUP_MAX of them, GROUP_CS change sets in all (about 70 ms of the loop
 * at the initial sync's rate, for the control socket's sake).
 */
/* A session that received this much gives freed memory back at its end. */
#define TRIM_AFTER (16u << 20)
#define GROUP_MAX 4
#define GROUP_CS 1024
#define MAX_ROUTING_ID 256
#define MAX_JOIN 8			/* unknown circles taken per HELLO */

enum { S_RUNNING, S_DONE, S_FAILED };

struct range {
	uint8_t author[32];
	uint64_t next;		/* first seq still to send */
	uint64_t last;
};

struct chain {
	uint8_t id[CS_CIRCLELEN];
	/* Sending: planned once we know the other side's vector. */
	int planned;
	struct range *ranges;
	size_t nranges, cur;
	int inflight;
	int done_sent;
	uint64_t sent;
	/* Receiving (initiator): we sent our vector and wait for DONE. */
	int asked;
	int their_done;
};

struct link;
struct pending;

/* A BATCH stored, its ACK waiting for the disk (peers_durable). */
struct ack {
	uint8_t chain[CS_CIRCLELEN];
	uint32_t accepted, rejected;
	uint64_t ticket;	/* its commit's (store_commit_lazy) */
};

struct session {
	struct peers *p;
	struct link *link;
	int initiator;
	uint64_t id;
	uint64_t round;
	uint8_t rid[MAX_ROUTING_ID];	/* responder: the ROUTER's routing id */
	size_t rid_len;
	struct chain *chains;
	size_t nchains;
	int state;
	char *error;
	int in_sync;
	uint64_t sent, received, rejected, bytes_sent, bytes_received;
	uint64_t noted_sent, noted_received, noted_rejected;
	uint64_t last_ms;
	/* What arrived and waits its turn, oldest first (see "Receiving"). */
	struct pending *qhead, *qtail;
	size_t nqueued;
	struct ack *acks;		/* oldest first */
	size_t nacks, capacks;
	struct session *next;		/* responder sessions */
};

struct link {
	struct peers *p;
	uint8_t device[32];
	uint8_t curve[32];
	char devid[DEVID_TEXTLEN + 1];
	char *addr;			/* NULL: it connects to us */
	int is_peer;			/* in the peers table */
	int mark;
	struct zsock *zs;		/* DEALER to addr */
	struct zsock *mon;		/* its monitor: handshakes, disconnects */
	int up;				/* handshake done, not disconnected */
	int failing;			/* last handshake failed (logged once) */
	uint64_t last_recv_ms;
	struct session *out;		/* the latest session we started */
	uint64_t next_sync_ms;
	uint8_t digest[32];		/* its replica digest, last seen */
	int has_digest;
	int again;			/* news arrived mid-session: go again */
	uint64_t last_sync_ms;		/* as stored */
};

struct peers {
	struct peers_env env;
	uint8_t device[32];
	uint8_t curve_pk[32];
	uint8_t curve_sk[32];
	struct zsock *zap;
	struct zsock *router;
	struct link **links;
	size_t nlinks;
	struct session *inbound;
	uv_timer_t timer;
	uint64_t round;
	uint64_t zap_refused, rejected, dropped, handshake_failed;
	char listen[CONF_STRLEN];
	uv_idle_t refresher;
	int refresh_pending;
	uv_idle_t drainer;		/* stores verified batches, in turn */
	uint64_t synced;		/* lazy commits on disk, up to this */
	uint8_t unknown[16][32];	/* beacons from strangers, logged once */
	size_t nunknown;
	/* Batches checked on the pool, in the order received (receive). */
	struct pool_lane checks;
	/* Freed once closed, the handles closed and no check left. */
	int open_handles;
	int closed;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
short_id(char out[DEVID_SHORTLEN + 1], const uint8_t key[32])
{
	char full[DEVID_TEXTLEN + 1];

	devid_encode(full, key);
	memcpy(out, full, DEVID_SHORTLEN);
	out[DEVID_SHORTLEN] = '\0';
}

/* Links. */

static struct link *
link_find(struct peers *p, const uint8_t device[32])
{
	for (size_t i = 0; i < p->nlinks; i++)
		if (memcmp(p->links[i]->device, device, 32) == 0)
			return p->links[i];
	return NULL;
}

static struct link *
link_by_curve(struct peers *p, const uint8_t curve[32])
{
	for (size_t i = 0; i < p->nlinks; i++)
		if (sodium_memcmp(p->links[i]->curve, curve, 32) == 0)
			return p->links[i];
	return NULL;
}

static void session_free(struct session *s);
static void queue_abandon(struct session *s);
static void dealer_cb(struct zsock *zs, void *arg);
static int recv_frames(void *sock, zmq_msg_t *frames, int want);
static void tick_cb(uv_timer_t *t);

/*
 * The next tick within 20 ms, not up to a second from now.  Never later
 * than it was due: a stream of writes must not keep pushing it away.
 */
static void
tick_soon(struct peers *p)
{
	if (uv_timer_get_due_in(&p->timer) > 20)
		uv_timer_start(&p->timer, tick_cb, 20, TICK_MS);
}

static struct link *
link_add(struct peers *p, const uint8_t device[32])
{
	struct link *l = xcalloc(1, sizeof(*l));

	l->p = p;
	memcpy(l->device, device, 32);
	devid_encode(l->devid, device);
	if (crypto_sign_ed25519_pk_to_curve25519(l->curve, device) != 0) {
		/* Not a valid point: nobody can hold its key.  Keep the link
		 * (the peers table names it) but it can never authenticate. */
		memset(l->curve, 0xff, sizeof(l->curve));
	}
	p->links = xreallocarray(p->links, p->nlinks + 1, sizeof(*p->links));
	p->links[p->nlinks++] = l;
	return l;
}

static void
link_close_sockets(struct link *l)
{
	if (l->zs != NULL) {
		zmq_socket_monitor(zsock_socket(l->zs), NULL, 0);
		zsock_close(l->zs);
		l->zs = NULL;
	}
	if (l->mon != NULL) {
		zsock_close(l->mon);
		l->mon = NULL;
	}
	l->up = 0;
}

static void
link_disconnect(struct link *l)
{
	link_close_sockets(l);
	if (l->out != NULL && l->out->state == S_RUNNING) {
		l->out->state = S_FAILED;
		free(l->out->error);
		l->out->error = xstrdup("disconnected");
	}
}

/*
 * The DEALER's monitor: the only way to learn that a handshake failed on
 * our side (the device at that address is not the one we named, or it
 * refused us).  Events are [u16 event, u32 value][endpoint].
 */
static void
mon_cb(struct zsock *zs, void *arg)
{
	struct link *l = arg;
	zmq_msg_t f[3];
	uint16_t ev;
	int n;

	for (int i = 0; i < RECV_BATCH && l->mon == zs; i++) {
		if ((n = recv_frames(zsock_socket(zs), f, 2)) == 0)
			return;
		if (n < 0)
			continue;
		if (zmq_msg_size(&f[0]) >= 2) {
			memcpy(&ev, zmq_msg_data(&f[0]), 2);
			if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
				l->up = 1;
				l->failing = 0;
			} else if (ev == ZMQ_EVENT_DISCONNECTED)
				l->up = 0;
			else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
			    ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
			    ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
				l->up = 0;
				l->p->handshake_failed++;
				if (!l->failing)
					log_warnx("handshake with %.12s at %s "
					    "failed: %s", l->devid, l->addr,
					    ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ?
					    "it refused us (does it know this "
					    "device?)" : "the device there is "
					    "not the one named");
				l->failing = 1;
			}
		}
		for (int k = 0; k < n; k++)
			zmq_msg_close(&f[k]);
	}
}

static int
link_monitor(struct link *l, void *dealer)
{
	char ep[64];
	void *mon;
	int zero = 0;

	snprintf(ep, sizeof(ep), "inproc://samen-mon-%p", (void *)l);
	if (zmq_socket_monitor(dealer, ep,
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
		return -errno;
	if ((mon = zmq_socket(l->p->env.zctx, ZMQ_PAIR)) == NULL)
		return -errno;
	zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(mon, ep) != 0) {
		zmq_close(mon);
		return -errno;
	}
	return zsock_open(&l->mon, l->p->env.loop, mon, mon_cb, l);
}

static int
link_connect(struct link *l)
{
	struct peers *p = l->p;
	void *sock;
	int zero = 0, hb = 5000, hbto = 15000, ivl = 1000, ivlmax = 30000, rc;
	int64_t maxmsg = SYNC_MAX_MSG;

	if ((sock = zmq_socket(p->env.zctx, ZMQ_DEALER)) == NULL)
		return -errno;
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hbto, sizeof(hbto));
	zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &ivlmax, sizeof(ivlmax));
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, l->curve, 32) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, p->curve_pk, 32) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, p->curve_sk, 32) != 0 ||
	    zmq_connect(sock, l->addr) != 0) {
		rc = -errno;
		zmq_close(sock);
		return rc;
	}
	/* Monitor first: the connection may come up before we look. */
	if ((rc = link_monitor(l, sock)) != 0)
		log_warnx("cannot watch the connection to %s: %s", l->addr,
		    zmq_strerror(-rc));
	if ((rc = zsock_open(&l->zs, p->env.loop, sock, dealer_cb, l)) != 0)
		return rc;
	return 0;
}

static void
link_free(struct link *l)
{
	link_disconnect(l);
	if (l->out != NULL)
		session_free(l->out);
	free(l->addr);
	free(l);
}

/* Sessions. */

static struct chain *
chain_find(struct session *s, const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < s->nchains; i++)
		if (memcmp(s->chains[i].id, id, CS_CIRCLELEN) == 0)
			return &s->chains[i];
	return NULL;
}

static struct chain *
chain_add(struct session *s, const uint8_t id[CS_CIRCLELEN])
{
	struct chain *c;

	if ((c = chain_find(s, id)) != NULL)
		return c;
	s->chains = xreallocarray(s->chains, s->nchains + 1,
	    sizeof(*s->chains));
	c = &s->chains[s->nchains++];
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, CS_CIRCLELEN);
	return c;
}

static void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	queue_abandon(s);
	for (size_t i = 0; i < s->nchains; i++)
		free(s->chains[i].ranges);
	free(s->chains);
	free(s->acks);
	free(s->error);
	free(s);
}

static struct session *
session_new(struct peers *p, struct link *l, int initiator, uint64_t id)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->p = p;
	s->link = l;
	s->initiator = initiator;
	s->id = id;
	s->state = S_RUNNING;
	s->last_ms = now_ms();
	return s;
}

static void
my_digest(struct peers *p, uint8_t out[32])
{
	p->env.host.digest(p->env.host.arg, out);
}

static int
send_msg(struct session *s, const struct wbuf *w)
{
	struct peers *p = s->p;
	void *sock;

	if (s->initiator) {
		if (s->link->zs == NULL)
			return SAMEN_EINVAL;
		sock = zsock_socket(s->link->zs);
		if (zmq_send(sock, wire_data(w), wire_len(w),
		    ZMQ_DONTWAIT) < 0)
			return -errno;
	} else {
		if (p->router == NULL)
			return SAMEN_EINVAL;
		sock = zsock_socket(p->router);
		if (zmq_send(sock, s->rid, s->rid_len,
		    ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		    zmq_send(sock, wire_data(w), wire_len(w),
		    ZMQ_DONTWAIT) < 0)
			return -errno;
	}
	s->bytes_sent += wire_len(w);
	return 0;
}

static void
session_end(struct session *s, int ok, const char *why)
{
	struct peers *p = s->p;
	struct link *l = s->link;
	char who[DEVID_SHORTLEN + 1];
	int rc;

	if (s->state != S_RUNNING)
		return;
	s->state = ok ? S_DONE : S_FAILED;
	/*
	 * SQLite's cache is full of the pages a large sync wrote, and the
	 * pool read its chunks ahead: its threads' arenas hold the freed
	 * plaintexts, which glibc keeps resident until asked.
	 */
	if (s->bytes_received >= TRIM_AFTER) {
		store_release_memory(p->env.store);
#ifdef __GLIBC__
		malloc_trim(0);
#endif
	}
	if (why != NULL) {
		free(s->error);
		s->error = xstrdup(why);
	}
	short_id(who, l->device);
	if (!s->initiator)
		return;
	if (ok) {
		log_info("sync with %s: %s, %llu sent, %llu received, "
		    "%llu rejected", who, s->in_sync ? "in sync" : "done",
		    (unsigned long long)s->sent,
		    (unsigned long long)s->received,
		    (unsigned long long)s->rejected);
	} else
		log_warnx("sync with %s failed: %s", who, why ? why : "?");
	if (ok)
		l->last_sync_ms = now_ms();
	if (l->is_peer && (rc = store_peer_note(p->env.store, l->device,
	    l->last_sync_ms, l->digest, s->sent, s->received,
	    s->rejected)) != 0 && rc != SAMEN_ENOTFOUND)
		log_warnx("could not record the sync with %s: %s", who,
		    samen_strerror(rc));
	l->next_sync_ms = now_ms() + (ok && p->env.sync_interval > 0 ?
	    (uint64_t)p->env.sync_interval * 1000 : RETRY_MS);
	if (ok && p->env.sync_interval == 0)
		l->next_sync_ms = UINT64_MAX;
	if (ok && l->again && p->env.sync_interval > 0) {
		l->next_sync_ms = 0;
		tick_soon(p);
	}
	l->again = 0;
}

/*
 * The responder never knows when a session is over: it records what moved
 * as it goes, so that "peer ls" on a hub shows its inbound peers too.
 * Inside store_batches' transaction, or alone (after an ACK) in a lazy one
 * of its own: counters are not worth a sync on the loop each.
 */
static void
responder_note(struct session *s, int in_txn)
{
	struct peers *p = s->p;
	struct link *l = s->link;
	uint64_t ticket;
	int rc, crc;

	if (s->initiator || !l->is_peer || (s->sent == s->noted_sent &&
	    s->received == s->noted_received &&
	    s->rejected == s->noted_rejected))
		return;
	l->last_sync_ms = now_ms();
	if (!in_txn && p->env.durable != NULL &&
	    (rc = store_begin_lazy(p->env.store)) != 0)
		goto out;
	rc = store_peer_note(p->env.store, l->device, l->last_sync_ms,
	    l->digest, s->sent - s->noted_sent,
	    s->received - s->noted_received,
	    s->rejected - s->noted_rejected);
	if (!in_txn && p->env.durable != NULL) {
		if (rc != 0 && rc != SAMEN_ENOTFOUND)
			store_rollback(p->env.store);
		else if ((crc = store_commit_lazy(p->env.store, &ticket)) != 0) {
			store_rollback(p->env.store);
			rc = crc;
		} else
			durable_request(p->env.durable, ticket);
	}
out:
	if (rc != 0 && rc != SAMEN_ENOTFOUND)
		log_warnx("could not record the sync with %.12s: %s", l->devid,
		    samen_strerror(rc));
	s->noted_sent = s->sent;
	s->noted_received = s->received;
	s->noted_rejected = s->rejected;
}

static void
session_error(struct session *s, int code, const char *why)
{
	struct wbuf w;

	wire_init(&w);
	sync_put_error(&w, s->id, code, why);
	(void)send_msg(s, &w);
	wire_free(&w);
	session_end(s, 0, why);
}

/* Initiator: over once every chain is sent, acknowledged and answered. */
static void
check_complete(struct session *s)
{
	if (!s->initiator || s->state != S_RUNNING)
		return;
	if (s->qhead != NULL)
		return;		/* batches received and not stored yet */
	if (s->nacks > 0)
		return;		/* stored, not on disk yet */
	for (size_t i = 0; i < s->nchains; i++) {
		struct chain *c = &s->chains[i];

		if (c->asked && (!c->their_done || !c->planned))
			return;
		if (c->planned && (c->cur < c->nranges || c->inflight > 0))
			return;
	}
	session_end(s, 1, NULL);
}

/* Sending change sets. */

struct batch_fill {
	struct wbuf entries;
	uint32_t count;
	size_t bytes;
	struct range *r;
};

static int
fill_cb(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct batch_fill *f = arg;

	sync_put_batch_cs(&f->entries, hdr, hdr_len, payload, payload_len);
	f->count++;
	f->bytes += hdr_len + payload_len;
	f->r->next = seq + 1;
	return f->bytes >= BATCH_BYTES ? 1 : 0;
}

static void
pump(struct session *s, struct chain *c)
{
	struct peers *p = s->p;
	struct batch_fill f;
	struct wbuf w;
	int rc;

	while (s->state == S_RUNNING && c->inflight < WINDOW &&
	    c->cur < c->nranges) {
		wire_init(&f.entries);
		f.count = 0;
		f.bytes = 0;
		while (c->cur < c->nranges && f.count < SYNC_MAX_BATCH &&
		    f.bytes < BATCH_BYTES) {
			struct range *r = &c->ranges[c->cur];
			uint64_t before = r->next;

			if (r->next > r->last) {
				c->cur++;
				continue;
			}
			f.r = r;
			rc = store_cs_range(p->env.store, c->id, r->author,
			    r->next - 1, SYNC_MAX_BATCH - f.count, fill_cb, &f);
			if (rc < 0) {
				wire_free(&f.entries);
				session_error(s, rc, "storage error");
				return;
			}
			if (r->next == before)	/* gone: nothing to send */
				c->cur++;
		}
		if (f.count == 0) {
			wire_free(&f.entries);
			break;
		}
		wire_init(&w);
		sync_put_batch_start(&w, s->id, c->id, f.count);
		wire_put_raw(&w, wire_data(&f.entries), wire_len(&f.entries));
		wire_free(&f.entries);
		rc = send_msg(s, &w);
		wire_free(&w);
		if (rc != 0) {
			session_end(s, 0, "could not send");
			return;
		}
		c->inflight++;
		c->sent += f.count;
		s->sent += f.count;
	}
	if (s->state == S_RUNNING && c->planned && c->cur >= c->nranges &&
	    !c->done_sent) {
		uint8_t d[32];

		my_digest(p, d);
		wire_init(&w);
		sync_put_done(&w, s->id, c->id, c->sent, d);
		rc = send_msg(s, &w);
		wire_free(&w);
		c->done_sent = 1;
		if (rc != 0)
			session_end(s, 0, "could not send");
	}
	check_complete(s);
}

/* What the other side lacks: our vector against theirs. */
static int
plan(struct session *s, struct chain *c, const struct sync_head *theirs,
    size_t ntheirs)
{
	struct peers *p = s->p;
	struct sync_head *mine = NULL;
	size_t nmine = 0, j = 0;
	int rc;

	if ((rc = store_vector(p->env.store, c->id, &mine, &nmine)) != 0)
		return rc;
	log_debug("plan: %zu authors here, %zu there", nmine, ntheirs);
	free(c->ranges);
	c->ranges = NULL;
	c->nranges = c->cur = 0;
	for (size_t i = 0; i < nmine; i++) {
		uint64_t have = 0;
		int cmp = 1;

		/* Both vectors are sorted by author. */
		while (j < ntheirs &&
		    (cmp = memcmp(theirs[j].author, mine[i].author, 32)) < 0)
			j++;
		if (j < ntheirs && cmp == 0) {
			uint8_t id[CS_IDLEN];

			have = theirs[j].seq;
			if (have >= mine[i].seq)
				continue;
			/* Their head must be in our chain, else one of us
			 * holds a fork: send nothing of that author. */
			if (store_cs_id_at(p->env.store, c->id,
			    mine[i].author, have, id) != 0 ||
			    memcmp(id, theirs[j].head, CS_IDLEN) != 0) {
				char who[DEVID_SHORTLEN + 1];

				short_id(who, mine[i].author);
				log_warnx("author %s: the peer's chain differs "
				    "from ours at seq %llu; not sending it",
				    who, (unsigned long long)have);
				continue;
			}
		}
		c->ranges = xreallocarray(c->ranges, c->nranges + 1,
		    sizeof(*c->ranges));
		memcpy(c->ranges[c->nranges].author, mine[i].author, 32);
		c->ranges[c->nranges].next = have + 1;
		c->ranges[c->nranges].last = mine[i].seq;
		c->nranges++;
		log_debug("plan: send seq %llu..%llu", (unsigned long long)have + 1,
		    (unsigned long long)mine[i].seq);
	}
	free(mine);
	c->planned = 1;
	return 0;
}

static int
send_vector(struct session *s, const uint8_t chain[CS_CIRCLELEN])
{
	struct sync_head *h = NULL;
	size_t n = 0;
	struct wbuf w;
	int rc;

	if ((rc = store_vector(s->p->env.store, chain, &h, &n)) != 0)
		return rc;
	if (n > SYNC_MAX_AUTHORS)
		n = SYNC_MAX_AUTHORS;	/* the rest next time */
	wire_init(&w);
	sync_put_vector(&w, s->id, chain, h, n);
	rc = send_msg(s, &w);
	wire_free(&w);
	free(h);
	return rc;
}

static int
chain_digest(struct peers *p, const uint8_t chain[CS_CIRCLELEN],
    uint8_t out[32])
{
	struct sync_head *h = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_vector(p->env.store, chain, &h, &n)) != 0)
		return rc;
	sync_vector_digest(out, chain, h, n);
	free(h);
	return 0;
}

/*
 * Gossip: something new arrived (or was written here); with periodic sync
 * on, pass it on at the next tick instead of a whole interval later.
 * Without it (sync_interval 0) peers sync only when asked.
 */
static void
nudge(struct peers *p, const struct link *from)
{
	if (p->env.sync_interval <= 0)
		return;
	for (size_t i = 0; i < p->nlinks; i++) {
		struct link *l = p->links[i];

		if (l != from && l->zs != NULL && l->is_peer &&
		    (l->out == NULL || l->out->state != S_RUNNING))
			l->next_sync_ms = 0;
		else if (l != from && l->out != NULL &&
		    l->out->state == S_RUNNING)
			l->again = 1;	/* after this session */
	}
	tick_soon(p);
}

void
peers_nudge(struct peers *p)
{
	nudge(p, NULL);
}

/* Receiving. */

static int
in_list(uint8_t (*list)[CS_CIRCLELEN], size_t n,
    const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list[i], id, CS_CIRCLELEN) == 0)
			return 1;
	return 0;
}

/* The responder's side of HELLO: what we share, and what we would take. */
static void
on_hello(struct session *s, const struct sync_msg *m)
{
	struct peers *p = s->p;
	uint8_t (*shared)[CS_CIRCLELEN] = NULL;
	struct sync_circle *out;
	size_t nshared, n = 0;
	uint8_t d[32];
	struct wbuf w;
	int rc = 0;

	nshared = p->env.host.shared(p->env.host.arg, s->link->device,
	    &shared);
	out = xcalloc(nshared + m->ncircles + 1, sizeof(*out));
	for (size_t i = 0; i < nshared && n < SYNC_MAX_CIRCLES; i++) {
		uint8_t mc[CS_CIRCLELEN];

		memcpy(out[n].circle, shared[i], CS_CIRCLELEN);
		sync_members_circle(mc, shared[i]);
		if ((rc = chain_digest(p, shared[i], out[n].data)) != 0 ||
		    (rc = chain_digest(p, mc, out[n].members)) != 0)
			break;
		n++;
	}
	/*
	 * A circle they offer that we do not know: they say we are a member;
	 * take it (its members chain tells us, and holds our key).  A few per
	 * session: each costs a members chain in the store.
	 */
	if (rc == 0) {
		size_t first = n;

		for (uint32_t i = 0; i < m->ncircles && n < SYNC_MAX_CIRCLES &&
		    n - first < MAX_JOIN; i++) {
			if (in_list(shared, nshared, m->circles[i].circle) ||
			    p->env.host.refuses(p->env.host.arg,
			    m->circles[i].circle, s->link->device))
				continue;
			memcpy(out[n].circle, m->circles[i].circle,
			    CS_CIRCLELEN);
			n++;
		}
		if (n > first) {
			uint8_t (*join)[CS_CIRCLELEN] = xcalloc(n - first,
			    sizeof(*join));

			for (size_t i = first; i < n; i++)
				memcpy(join[i - first], out[i].circle,
				    CS_CIRCLELEN);
			p->env.host.join(p->env.host.arg, join, n - first);
			free(join);
		}
	}
	free(shared);
	if (rc != 0) {
		free(out);
		session_error(s, rc, "storage error");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t mc[CS_CIRCLELEN];

		sync_members_circle(mc, out[i].circle);
		chain_add(s, mc);
		chain_add(s, out[i].circle);
	}
	my_digest(p, d);
	wire_init(&w);
	sync_put_hello(&w, s->id, d, out, n);
	if (send_msg(s, &w) != 0)
		session_end(s, 0, "could not send");
	wire_free(&w);
	free(out);
}

/* The initiator's side: compare digests, ask for what differs. */
static void
on_hello_reply(struct session *s, const struct sync_msg *m)
{
	struct peers *p = s->p;
	uint8_t (*shared)[CS_CIRCLELEN] = NULL;
	size_t nshared;
	int rc = 0;

	uint8_t (*join)[CS_CIRCLELEN];
	size_t njoin = 0;

	nshared = p->env.host.shared(p->env.host.arg, s->link->device,
	    &shared);
	/* Circles they say we are in that we do not know yet: join a few. */
	join = xcalloc(MAX_JOIN, sizeof(*join));
	for (uint32_t i = 0; i < m->ncircles && njoin < MAX_JOIN; i++)
		if (!in_list(shared, nshared, m->circles[i].circle) &&
		    !p->env.host.refuses(p->env.host.arg,
		    m->circles[i].circle, s->link->device))
			memcpy(join[njoin++], m->circles[i].circle,
			    CS_CIRCLELEN);
	if (njoin > 0)
		p->env.host.join(p->env.host.arg, join, njoin);
	for (uint32_t i = 0; rc == 0 && i < m->ncircles; i++) {
		const struct sync_circle *e = &m->circles[i];
		uint8_t mc[CS_CIRCLELEN], mine[32];
		const uint8_t *chains[2];
		const uint8_t *theirs[2];

		if (!in_list(shared, nshared, e->circle) &&
		    !in_list(join, njoin, e->circle))
			continue;	/* not theirs by our lights */
		sync_members_circle(mc, e->circle);
		/* The members chain first: it may hold our key. */
		chains[0] = mc;
		theirs[0] = e->members;
		chains[1] = e->circle;
		theirs[1] = e->data;
		for (int k = 0; rc == 0 && k < 2; k++) {
			struct chain *c = chain_add(s, chains[k]);

			if ((rc = chain_digest(p, chains[k], mine)) != 0)
				break;
			if (memcmp(mine, theirs[k], 32) == 0)
				continue;
			if ((rc = send_vector(s, chains[k])) == 0)
				c->asked = 1;
		}
	}
	free(shared);
	free(join);
	if (rc != 0) {
		session_error(s, rc, "could not start");
		return;
	}
	s->in_sync = 1;
	for (size_t i = 0; i < s->nchains; i++)
		if (s->chains[i].asked)
			s->in_sync = 0;
	check_complete(s);
}

static void
on_vector(struct session *s, const struct sync_msg *m)
{
	struct chain *c = chain_find(s, m->chain);
	int rc;

	if (c == NULL) {
		session_error(s, SAMEN_EPROTO, "vector for a chain not shared");
		return;
	}
	if (c->planned) {
		session_error(s, SAMEN_EPROTO, "second vector for a chain");
		return;
	}
	if (!s->initiator && (rc = send_vector(s, c->id)) != 0) {
		session_error(s, rc, "could not send");
		return;
	}
	if ((rc = plan(s, c, m->heads, m->nheads)) != 0) {
		session_error(s, rc, "storage error");
		return;
	}
	pump(s, c);
}

/*
 * One change set of a BATCH as the thread pool found it: everything that
 * needs neither the store nor the clock.  rc is the header's verdict
 * (decode, chain, signature), payload_rc the payload's (decode, hash); the
 * loop looks at them in that order, with the clock in between.  op holds
 * its chunks read ahead (decrypted, decoded, their rtags checked) when the
 * pool had the key of its epoch and every chunk read; else it is empty and
 * the merge reads them itself (and finds the same fault, if any).  Its
 * plaintexts are wiped by checked_free.
 */
struct checked {
	struct cs_header h;
	uint8_t id[CS_IDLEN];
	int rc;
	int payload_rc;
	struct cs_opened op;
};

static void
checked_free(struct checked *cs, uint32_t n)
{
	if (cs == NULL)
		return;
	for (uint32_t i = 0; i < n; i++)
		changeset_opened_free(&cs[i].op);
	free(cs);
}

/*
 * Pure: runs on the thread pool, touches only k and what e and key point
 * into.  key (may be NULL) is the chain's at epoch.
 */
static void
check_one(struct checked *k, const uint8_t chain[CS_CIRCLELEN],
    const struct sync_cs *e, const uint8_t *key, uint32_t epoch)
{
	struct cs_payload pl;

	k->payload_rc = 0;
	memset(&k->op, 0, sizeof(k->op));
	if ((k->rc = changeset_header_decode(&k->h, e->hdr, e->hdr_len)) != 0)
		return;
	if (memcmp(k->h.circle, chain, CS_CIRCLELEN) != 0) {
		k->rc = SAMEN_EPROTO;
		return;
	}
	if ((k->rc = changeset_verify(&k->h)) != 0)
		return;
	if ((k->payload_rc = changeset_payload_decode(&pl, e->payload,
	    e->payload_len)) != 0)
		return;
	k->payload_rc = changeset_payload_check(&k->h, &pl, e->payload_len);
	changeset_id(k->id, e->hdr, e->hdr_len);
	/* A chunk that does not read leaves op empty: the merge reads it. */
	if (k->payload_rc == 0 && key != NULL && k->h.epoch == epoch) {
		if (changeset_open(&k->op, &k->h, &pl, key) == 0)
			merge_opened_vids(&k->op, k->id);
		else
			assert(k->op.chunks == NULL);
	}
	changeset_payload_free(&pl);
}

/*
 * Stores one change set that check_one() looked at; 1 if new, 0 if held,
 * <0 bad.  The clock and the chain are checked here, on the loop.
 * Optimistic (store_cs_insert_optimistic), it returns 1 or SAMEN_ERETRY
 * (the transaction must be stored again, carefully), and says nothing:
 * anything but a clean insert is left to the careful pass.
 */
static int
accept_one(struct session *s, const struct sync_cs *e,
    const struct checked *k, int optimistic)
{
	struct peers *p = s->p;
	int rc;

	if (optimistic) {
		if (k->rc != 0 || k->payload_rc != 0 ||
		    hlc_too_far(k->h.hlc, now_ms(), p->env.max_skew_ms))
			return SAMEN_ERETRY;
		rc = store_cs_insert_optimistic(p->env.store, &k->h, k->id,
		    e->hdr, e->hdr_len, e->payload, e->payload_len,
		    k->op.chunks != NULL ? &k->op : NULL);
		return rc == 0 ? 1 : SAMEN_ERETRY;
	}
	if (k->rc != 0)
		return k->rc;
	/* From the future: held back (not stored, so offered again later,
	 * when our clock has caught up or theirs is fixed), and reported. */
	if (hlc_too_far(k->h.hlc, now_ms(), p->env.max_skew_ms)) {
		char who[DEVID_SHORTLEN + 1], t[32];

		short_id(who, k->h.author);
		hlc_format(t, k->h.hlc);
		log_warnx("clock skew: change set %s/%llu is dated %s, too far "
		    "ahead; held back", who, (unsigned long long)k->h.seq, t);
		return SAMEN_EDRIFT;
	}
	if (k->payload_rc != 0)
		return k->payload_rc;
	/* Merged from the bytes in hand, in on_batch's transaction. */
	if (k->op.chunks != NULL)
		rc = store_cs_insert_opened(p->env.store, &k->h, k->id,
		    e->hdr, e->hdr_len, e->payload, e->payload_len, &k->op);
	else
		rc = store_cs_insert_merged(p->env.store, &k->h, k->id,
		    e->hdr, e->hdr_len, e->payload, e->payload_len);
	if (rc == SAMEN_EEXIST)
		return 0;
	if (rc != 0) {
		char who[DEVID_SHORTLEN + 1], from[DEVID_SHORTLEN + 1];

		short_id(who, k->h.author);
		short_id(from, s->link->device);
		if (rc == SAMEN_EFORK)
			log_warnx("author %s forked its chain at seq %llu "
			    "(via %s): flagged, nothing more accepted from it",
			    who, (unsigned long long)k->h.seq, from);
		else
			log_warnx("change set %s/%llu from %s rejected: %s",
			    who, (unsigned long long)k->h.seq, from,
			    samen_strerror(rc));
		return rc;
	}
	return 1;
}

/*
 * Stores the checked change sets of one batch (cs[i] for m->cs[i]) in the
 * open transaction, counting into *acc and *rej.  Returns SAMEN_ESTORE if
 * the store failed (the transaction must go), SAMEN_ERETRY if optimistic
 * and one of them was not a clean insert (the transaction must go, and its
 * batches be stored again carefully), else 0.
 */
static int
batch_store(struct session *s, const struct sync_msg *m,
    const struct checked *cs, int optimistic, uint32_t *acc, uint32_t *rej)
{
	for (uint32_t i = 0; i < m->ncs; i++) {
		int rc = accept_one(s, &m->cs[i], &cs[i], optimistic);

		if (rc == 1)
			(*acc)++;
		else if (rc == SAMEN_ESTORE || rc == SAMEN_ERETRY)
			return rc;
		else if (rc < 0)
			(*rej)++;
	}
	return 0;
}

/* Sends the ACKs whose commit is on disk, in order. */
static void
acks_send(struct session *s)
{
	struct peers *p = s->p;
	uint8_t d[32];
	struct wbuf w;
	size_t i;

	if (s->nacks == 0 || s->acks[0].ticket > p->synced)
		return;
	my_digest(p, d);
	for (i = 0; i < s->nacks && s->acks[i].ticket <= p->synced; i++) {
		if (s->state != S_RUNNING)
			continue;	/* dropped: nobody to tell */
		wire_init(&w);
		sync_put_ack(&w, s->id, s->acks[i].chain, s->acks[i].accepted,
		    s->acks[i].rejected, d);
		if (send_msg(s, &w) != 0)
			session_end(s, 0, "could not send");
		wire_free(&w);
	}
	memmove(s->acks, s->acks + i, (s->nacks - i) * sizeof(*s->acks));
	s->nacks -= i;
}

/*
 * Stores n batches of s (ms[i], checked as css[i]; each for a chain of s)
 * in one transaction: one commit, one sync and one index refresh for all
 * of them.  Each batch's ACK goes out once the disk has that commit
 * (acks_send, from peers_durable when the commit is lazy), in order, so a
 * sender never hears of a change set that a crash could still lose.  A
 * store failure rolls all n back and ends the session (none was ACKed).
 */
static void
store_batches(struct session *s, const struct sync_msg *const *ms,
    const struct checked *const *css, size_t n)
{
	struct peers *p = s->p;
	uint32_t acc[GROUP_MAX], rej[GROUP_MAX], accepted = 0;
	uint64_t ticket = 0;
	int lazy = p->env.durable != NULL, optimistic = 1;
	size_t i;
	int rc;

	assert(n >= 1 && n <= GROUP_MAX);
again:
	rc = lazy ? store_begin_lazy(p->env.store) :
	    store_begin(p->env.store);
	if (rc != 0) {
		session_error(s, rc, "storage error");
		return;
	}
	accepted = 0;
	for (i = 0; i < n; i++) {
		acc[i] = rej[i] = 0;
		rc = batch_store(s, ms[i], css[i], optimistic, &acc[i],
		    &rej[i]);
		accepted += acc[i];
		if (rc != 0)
			break;
	}
	/* Not all clean: none of it stays; the careful pass sorts it out
	 * (docs/sync.md, "Receiving"). */
	if (rc == SAMEN_ERETRY) {
		store_rollback(p->env.store);
		optimistic = 0;
		goto again;
	}
	if (rc == 0 && accepted > 0)
		p->env.host.merge(p->env.host.arg);
	if (rc == 0) {
		/* The session's, for the row responder_note writes; the
		 * session ends if the commit fails. */
		for (i = 0; i < n; i++) {
			s->received += acc[i];
			s->rejected += rej[i];
		}
		/* In the transaction: no synced commit of its own. */
		responder_note(s, 1);
		rc = lazy ? store_commit_lazy(p->env.store, &ticket) :
		    store_commit(p->env.store);
	}
	if (rc != 0) {
		store_rollback(p->env.store);
		if (accepted > 0)
			p->env.host.stored(p->env.host.arg, 0);
		session_error(s, rc, "storage error");
		return;
	}
	if (lazy)
		durable_request(p->env.durable, ticket);
	for (i = 0; i < n; i++) {
		struct ack *a;

		p->rejected += rej[i];	/* counted once committed */
		if (rej[i] > 0) {
			char from[DEVID_SHORTLEN + 1];

			short_id(from, s->link->device);
			log_warnx("%u of %u change sets from %s rejected",
			    rej[i], ms[i]->ncs, from);
		}
		if (s->nacks == s->capacks) {
			s->capacks = s->capacks ? s->capacks * 2 : 8;
			s->acks = xreallocarray(s->acks, s->capacks,
			    sizeof(*s->acks));
		}
		a = &s->acks[s->nacks++];
		memcpy(a->chain, ms[i]->chain, CS_CIRCLELEN);
		a->accepted = acc[i];
		a->rejected = rej[i];
		a->ticket = ticket;
	}
	/* Received change sets may travel on before they are on disk: the
	 * device that wrote them still has them. */
	if (accepted > 0) {
		nudge(p, s->link);
		p->env.host.stored(p->env.host.arg, 1);
	}
	acks_send(s);
}

void
peers_durable(struct peers *p, uint64_t done, int status)
{
	struct session *s, *next;
	size_t i;

	if (done > p->synced)
		p->synced = done;
	for (i = 0; i <= p->nlinks; i++) {
		s = i < p->nlinks ? p->links[i]->out : p->inbound;
		for (; s != NULL; s = next) {
			next = i < p->nlinks ? NULL : s->next;
			if (s->nacks == 0)
				continue;
			acks_send(s);
			if (status != 0 && s->nacks > 0) {
				s->nacks = 0;
				session_error(s, SAMEN_ESTORE,
				    "storage error");
				continue;
			}
			if (s->nacks == 0 && s->qhead == NULL)
				check_complete(s);
		}
	}
}

/*
 * Stores a batch whose change sets the pool has checked (cs, m->ncs of
 * them; NULL: check them here).
 */
static void
on_batch(struct session *s, const struct sync_msg *m,
    const struct checked *cs)
{
	struct peers *p = s->p;
	struct checked *here = NULL;
	const struct checked *k;

	if (chain_find(s, m->chain) == NULL) {
		p->rejected += m->ncs;
		s->rejected += m->ncs;
		session_error(s, SAMEN_EPROTO, "batch for a chain not shared");
		return;
	}
	if (cs == NULL) {
		here = xcalloc(m->ncs, sizeof(*here));
		for (uint32_t i = 0; i < m->ncs; i++)
			check_one(&here[i], m->chain, &m->cs[i], NULL, 0);
		cs = here;
	}
	k = cs;
	store_batches(s, &m, &k, 1);
	checked_free(here, m->ncs);
}

static void
on_ack(struct session *s, const struct sync_msg *m)
{
	struct chain *c = chain_find(s, m->chain);

	if (c == NULL || c->inflight == 0) {
		session_error(s, SAMEN_EPROTO, "unexpected ack");
		return;
	}
	c->inflight--;
	pump(s, c);
	responder_note(s, 0);
}

static void
on_done(struct session *s, const struct sync_msg *m)
{
	struct chain *c = chain_find(s, m->chain);

	if (c == NULL) {
		session_error(s, SAMEN_EPROTO, "done for a chain not shared");
		return;
	}
	c->their_done = 1;
	check_complete(s);
}

static void
note_digest(struct link *l, const uint8_t d[32])
{
	memcpy(l->digest, d, 32);
	l->has_digest = 1;
}

/* cs: a BATCH's change sets as the pool checked them, or NULL. */
static void
dispatch(struct session *s, const struct sync_msg *m, size_t len,
    const struct checked *cs)
{
	s->last_ms = now_ms();
	s->bytes_received += len;
	switch (m->type) {
	case SYNC_HELLO:
		note_digest(s->link, m->digest);
		if (s->initiator)
			on_hello_reply(s, m);
		else
			on_hello(s, m);
		break;
	case SYNC_VECTOR:
		on_vector(s, m);
		break;
	case SYNC_BATCH:
		on_batch(s, m, cs);
		break;
	case SYNC_ACK:
		note_digest(s->link, m->digest);
		on_ack(s, m);
		break;
	case SYNC_DONE:
		note_digest(s->link, m->digest);
		on_done(s, m);
		break;
	case SYNC_ERROR: {
		char why[SYNC_MAX_TEXT + 32];
		int n = snprintf(why, sizeof(why), "peer said: %.*s",
		    (int)m->text_len, m->text);

		/* Its words go to our log: no control characters. */
		for (int i = 0; i < n && i < (int)sizeof(why) - 1; i++)
			if ((unsigned char)why[i] < 0x20 || why[i] == 0x7f)
				why[i] = '?';
		session_end(s, 0, why);
		break;
	}
	}
}

/*
 * A message of a session waiting its turn.  A BATCH's change sets are
 * checked on libuv's thread pool (busy until its after-work callback runs);
 * everything a session receives is then handled on the loop in the order
 * it arrived, so a batch is stored only after every batch before it (chains
 * are hash-linked) and an ACK, DONE or ERROR waits behind the batches sent
 * before it.  It owns a copy of the message: m and the pool point into buf.
 * s is NULL once the session is gone; the after-work callback, which the
 * lane always calls (with UV_ECANCELED if pool_cancel took the work back
 * before it started), then frees it.  The pool touches only buf, m and cs.
 */
struct pending {
	struct pool_job job;	/* on p's lane of checks */
	struct peers *p;
	struct session *s;
	uint8_t *buf;
	size_t len;
	struct sync_msg m;
	struct checked *cs;	/* BATCH checked by the pool: m.ncs */
	/*
	 * The chain's key at its highest epoch, for the pool to read the
	 * chunks ahead (sodium_malloc'd; NULL if the store had none): from
	 * receive() until the pool is done with it.
	 */
	uint8_t *key;
	uint32_t epoch;
	int busy;
	struct pending *next;
};

static void
pending_key_drop(struct pending *q)
{
	if (q->key == NULL)
		return;
	sodium_memzero(q->key, CS_KEYLEN);
	sodium_free(q->key);
	q->key = NULL;
}

static void
pending_free(struct pending *q)
{
	pending_key_drop(q);
	checked_free(q->cs, q->m.ncs);
	sync_msg_free(&q->m);
	free(q->buf);
	free(q);
}

static void
check_work_cb(uv_work_t *w)
{
	struct pending *q = w->data;

	for (uint32_t i = 0; i < q->m.ncs; i++)
		check_one(&q->cs[i], q->m.chain, &q->m.cs[i], q->key,
		    q->epoch);
}

static void drain_cb(uv_idle_t *h);

/*
 * q->key: the key of q's chain, if the store has it (unlocked, a member),
 * so that the pool reads the chunks beside the checks and the loop only
 * merges (docs/design.md, "Reading ahead").  Without it the merge reads
 * them, as before.
 */
static void
read_ahead_key(struct peers *p, struct pending *q)
{
	if ((q->key = sodium_malloc(CS_KEYLEN)) == NULL)
		return;
	if (store_chain_key(p->env.store, q->m.chain, &q->epoch, q->key) != 0)
		pending_key_drop(q);
}

static void peers_free_if_done(struct peers *p);

static void
check_done_cb(uv_work_t *w, int status)
{
	struct pending *q = w->data;
	struct peers *p = q->p;

	(void)status;	/* cancelled: only once the session is gone */
	q->busy = 0;
	pending_key_drop(q);
	if (q->s == NULL)
		pending_free(q);
	else if (q->s->qhead == q)
		uv_idle_start(&p->drainer, drain_cb);
	peers_free_if_done(p);
}

/* Frees what waits; what the pool holds is freed when it hands it back. */
static void
queue_abandon(struct session *s)
{
	struct pending *q, *next;

	for (q = s->qhead; q != NULL; q = next) {
		next = q->next;
		if (q->busy) {
			q->s = NULL;
			pool_cancel(&q->job);
		} else
			pending_free(q);
	}
	s->qhead = s->qtail = NULL;
	s->nqueued = 0;
}

/*
 * More than a sender within its credit can have waiting (WINDOW batches
 * per chain, the ACKs of ours, a VECTOR and a DONE per chain): it ignores
 * flow control, and we would hold its bytes without bound.
 */
static size_t
queue_cap(const struct session *s)
{
	return (2 * (size_t)WINDOW + 2) * (s->nchains + 1);
}

/*
 * A message for s, which borrows data (len bytes): handled now if nothing
 * waits before it and it is not a BATCH, else queued (a BATCH goes to the
 * thread pool to be checked).
 */
static void
receive(struct session *s, const struct sync_msg *m, const uint8_t *data,
    size_t len)
{
	struct peers *p = s->p;
	struct pending *q;

	s->last_ms = now_ms();
	if (m->type != SYNC_BATCH && s->qhead == NULL) {
		dispatch(s, m, len, NULL);
		return;
	}
	if (s->nqueued >= queue_cap(s)) {
		p->dropped++;
		session_error(s, SAMEN_EPROTO, "more batches than credit allows");
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->p = p;
	q->s = s;
	q->buf = xmalloc(len);
	memcpy(q->buf, data, len);
	q->len = len;
	/* m points into the caller's bytes: decode our copy (the same bytes,
	 * so it cannot fail; if it ever did, the message is dropped, never
	 * trusted). */
	if (sync_decode(&q->m, q->buf, len) != 0) {
		free(q->buf);
		free(q);
		p->dropped++;
		session_error(s, SAMEN_EPROTO, "malformed message");
		return;
	}
	q->job.work.data = q;
	if (s->qtail != NULL)
		s->qtail->next = q;
	else
		s->qhead = q;
	s->qtail = q;
	s->nqueued++;
	/*
	 * A batch for a chain not shared is refused whole, unchecked.  The
	 * others are checked on the pool's lane, a few at a time in the order
	 * received, not all at once: the loop stores them in that order, and
	 * waits for the first (docs/design.md, "Checked in order").
	 */
	if (q->m.type == SYNC_BATCH && chain_find(s, q->m.chain) != NULL) {
		q->cs = xcalloc(q->m.ncs, sizeof(*q->cs));
		read_ahead_key(p, q);
		q->busy = 1;
		pool_submit(&p->checks, &q->job, check_work_cb, check_done_cb);
	}
	if (!s->qhead->busy)
		uv_idle_start(&p->drainer, drain_cb);
}

/* 1 if q is a BATCH the pool has checked, for a chain of s. */
static int
groupable(struct session *s, const struct pending *q)
{
	return !q->busy && q->m.type == SYNC_BATCH && q->cs != NULL &&
	    chain_find(s, q->m.chain) != NULL;
}

/*
 * Takes the groupable BATCHes at the head of s's queue (the first one at
 * least, within GROUP_MAX and GROUP_CS) off it and stores them together.
 */
static void
drain_group(struct session *s)
{
	struct pending *g[GROUP_MAX], *q;
	const struct sync_msg *ms[GROUP_MAX];
	const struct checked *css[GROUP_MAX];
	size_t n = 0, ncs = 0;

	while ((q = s->qhead) != NULL && n < GROUP_MAX && groupable(s, q) &&
	    (n == 0 || ncs + q->m.ncs <= GROUP_CS)) {
		s->qhead = q->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		s->nqueued--;
		s->last_ms = now_ms();
		s->bytes_received += q->len;
		ncs += q->m.ncs;
		ms[n] = &q->m;
		css[n] = q->cs;
		g[n++] = q;
	}
	store_batches(s, ms, css, n);
	for (size_t i = 0; i < n; i++)
		pending_free(g[i]);
}

/*
 * Handles what is ready at the head of s's queue, in order: at most one
 * BATCH, or one group of them (drain_group), per call, so that the control
 * socket and the other sessions get their turn between them.  Returns 1 if
 * more is ready.
 */
static int
drain(struct session *s)
{
	struct pending *q;
	int stored = 0, handled = 0;

	while ((q = s->qhead) != NULL && !q->busy) {
		if (q->m.type == SYNC_BATCH && stored)
			return 1;
		handled = 1;
		if (s->state == S_RUNNING && groupable(s, q)) {
			drain_group(s);
			stored = 1;
			continue;
		}
		s->qhead = q->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		s->nqueued--;
		/* An ended session takes nothing more in. */
		if (s->state == S_RUNNING)
			dispatch(s, &q->m, q->len, q->cs);
		stored |= q->m.type == SYNC_BATCH;
		pending_free(q);
	}
	/* What waited may have been all the session waited for.  (Not for
	 * a session whose queue was empty anyway: it may not even have had
	 * the HELLO reply yet, and no chains means "complete".) */
	if (handled && s->qhead == NULL)
		check_complete(s);
	return 0;
}

static void
drain_cb(uv_idle_t *h)
{
	struct peers *p = h->data;
	int more = 0;

	for (size_t i = 0; i < p->nlinks; i++)
		if (p->links[i]->out != NULL)
			more |= drain(p->links[i]->out);
	for (struct session *s = p->inbound; s != NULL; s = s->next)
		more |= drain(s);
	if (!more)
		uv_idle_stop(h);
}

/*
 * Receives one whole message of at most want frames into frames[].
 * Returns the frame count, 0 if nothing was waiting, or -1 for a message
 * with more frames than want (dropped whole).
 */
static int
recv_frames(void *sock, zmq_msg_t *frames, int want)
{
	int n = 0, more = 1;

	while (more) {
		zmq_msg_t *f = &frames[n < want ? n : want];

		zmq_msg_init(f);
		if (zmq_msg_recv(f, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(f);
			if (n == 0)
				return 0;
			break;
		}
		more = zmq_msg_more(f);
		if (n >= want)
			zmq_msg_close(f);
		n++;
	}
	if (n > want) {
		for (int i = 0; i < want; i++)
			zmq_msg_close(&frames[i]);
		return -1;
	}
	return n;
}

static void
dealer_cb(struct zsock *zs, void *arg)
{
	struct link *l = arg;
	struct peers *p = l->p;
	zmq_msg_t f[2];
	struct sync_msg m;
	int n, rc;

	for (int i = 0; i < RECV_BATCH && l->zs == zs; i++) {
		if ((n = recv_frames(zsock_socket(zs), f, 1)) == 0)
			return;
		if (n < 0) {
			p->dropped++;
			continue;
		}
		l->last_recv_ms = now_ms();
		rc = sync_decode(&m, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]));
		if (rc != 0) {
			p->dropped++;
			log_warnx("%.12s: malformed sync message: %s", l->devid,
			    samen_strerror(rc));
			if (l->out != NULL && l->out->state == S_RUNNING)
				session_end(l->out, 0, "malformed message");
		} else {
			/* A BATCH is only queued here: taking it is cheap. */
			if (l->out != NULL && l->out->id == m.session &&
			    l->out->state == S_RUNNING)
				receive(l->out, &m, zmq_msg_data(&f[0]),
				    zmq_msg_size(&f[0]));
			sync_msg_free(&m);
		}
		zmq_msg_close(&f[0]);
	}
}

static struct session *
inbound_find(struct peers *p, struct link *l, uint64_t id)
{
	for (struct session *s = p->inbound; s != NULL; s = s->next)
		if (s->link == l && s->id == id)
			return s;
	return NULL;
}

static void
inbound_drop(struct peers *p, struct session *s)
{
	for (struct session **pp = &p->inbound; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			session_free(s);
			return;
		}
	}
}

static void
router_one(struct peers *p, zmq_msg_t *f)
{
	const char *user;
	uint8_t device[32];
	struct link *l;
	struct session *s;
	struct sync_msg m;
	size_t len = zmq_msg_size(&f[1]);
	int rc;

	/* ZAP put the device id there; nothing else can. */
	user = zmq_msg_gets(&f[1], "User-Id");
	if (user == NULL || devid_decode(device, user, strlen(user)) != 0) {
		p->dropped++;
		return;
	}
	if ((l = link_find(p, device)) == NULL)
		l = link_add(p, device);
	l->last_recv_ms = now_ms();
	if (zmq_msg_size(&f[0]) > MAX_ROUTING_ID) {
		p->dropped++;
		return;
	}
	if ((rc = sync_decode(&m, zmq_msg_data(&f[1]), len)) != 0) {
		p->dropped++;
		log_warnx("%.12s: malformed sync message: %s", l->devid,
		    samen_strerror(rc));
		return;
	}
	s = inbound_find(p, l, m.session);
	if (m.type == SYNC_HELLO) {
		if (s != NULL)
			inbound_drop(p, s);
		/* One session per peer at a time. */
		for (struct session *o = p->inbound; o != NULL; o = o->next)
			if (o->link == l) {
				inbound_drop(p, o);
				break;
			}
		s = session_new(p, l, 0, m.session);
		memcpy(s->rid, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]));
		s->rid_len = zmq_msg_size(&f[0]);
		s->next = p->inbound;
		p->inbound = s;
	}
	if (s != NULL && s->state == S_RUNNING)
		receive(s, &m, zmq_msg_data(&f[1]), len);
	sync_msg_free(&m);
}

static void
router_cb(struct zsock *zs, void *arg)
{
	struct peers *p = arg;
	zmq_msg_t f[3];
	int n;

	for (int i = 0; i < RECV_BATCH; i++) {
		if ((n = recv_frames(zsock_socket(zs), f, 2)) == 0)
			return;
		if (n != 2) {
			if (n == 1)
				zmq_msg_close(&f[0]);
			p->dropped++;
			continue;
		}
		router_one(p, f);
		zmq_msg_close(&f[0]);
		zmq_msg_close(&f[1]);
	}
}

/* ZAP (RFC 27): version, request id, domain, address, identity, mechanism,
 * credentials. */
static void
zap_reply(void *sock, zmq_msg_t *reqid, const char *code,
    const char *text, const char *user)
{
	zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
	if (reqid != NULL)
		zmq_send(sock, zmq_msg_data(reqid), zmq_msg_size(reqid),
		    ZMQ_SNDMORE);
	else
		zmq_send(sock, "", 0, ZMQ_SNDMORE);
	zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(sock, "", 0, 0);
}

static void
zap_cb(struct zsock *zs, void *arg)
{
	struct peers *p = arg;
	void *sock = zsock_socket(zs);
	zmq_msg_t f[8];
	struct link *l;
	char addr[64];
	int n;

	for (int i = 0; i < RECV_BATCH; i++) {
		if ((n = recv_frames(sock, f, 7)) == 0)
			return;
		if (n < 0) {
			/* A REP socket must answer: this cannot be ZAP. */
			log_warnx("ZAP: malformed request");
			zap_reply(sock, NULL, "500", "malformed", "");
			continue;
		}
		if (n < 2) {
			for (int k = 0; k < n; k++)
				zmq_msg_close(&f[k]);
			continue;
		}
		snprintf(addr, sizeof(addr), "%.*s",
		    n > 3 ? (int)zmq_msg_size(&f[3]) : 0,
		    n > 3 ? (const char *)zmq_msg_data(&f[3]) : "");
		if (n != 7 || zmq_msg_size(&f[5]) != 5 ||
		    memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 ||
		    zmq_msg_size(&f[6]) != 32) {
			p->zap_refused++;
			log_warnx("refused a connection from %s: not CURVE",
			    addr);
			zap_reply(sock, &f[1], "400", "CURVE only", "");
		} else if ((l = link_by_curve(p, zmq_msg_data(&f[6]))) ==
		    NULL) {
			char hex[17];

			hex_encode(hex, zmq_msg_data(&f[6]), 8);
			p->zap_refused++;
			log_warnx("refused a connection from %s: unknown key "
			    "%s...", addr, hex);
			zap_reply(sock, &f[1], "400", "unknown device", "");
		} else {
			log_debug("admitted %.12s from %s", l->devid, addr);
			zap_reply(sock, &f[1], "200", "OK", l->devid);
		}
		for (int k = 0; k < n; k++)
			zmq_msg_close(&f[k]);
	}
}

/* Starting sessions. */

static int
start_session(struct peers *p, struct link *l)
{
	uint8_t (*shared)[CS_CIRCLELEN] = NULL;
	struct sync_circle *c;
	struct session *s;
	size_t n;
	uint8_t d[32];
	struct wbuf w;
	int rc = 0;

	if (l->zs == NULL)
		return SAMEN_EINVAL;
	if (l->out != NULL) {
		if (l->out->state == S_RUNNING)
			session_end(l->out, 0, "superseded");
		session_free(l->out);
	}
	s = session_new(p, l, 1, randombytes_random() |
	    ((uint64_t)randombytes_random() << 32));
	s->round = ++p->round;
	l->out = s;
	n = p->env.host.shared(p->env.host.arg, l->device, &shared);
	if (n > SYNC_MAX_CIRCLES)
		n = SYNC_MAX_CIRCLES;
	c = xcalloc(n + 1, sizeof(*c));
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint8_t mc[CS_CIRCLELEN];

		memcpy(c[i].circle, shared[i], CS_CIRCLELEN);
		sync_members_circle(mc, shared[i]);
		if ((rc = chain_digest(p, shared[i], c[i].data)) == 0)
			rc = chain_digest(p, mc, c[i].members);
	}
	free(shared);
	if (rc == 0) {
		my_digest(p, d);
		wire_init(&w);
		sync_put_hello(&w, s->id, d, c, n);
		rc = send_msg(s, &w);
		/*
		 * No pipe: the last handshake failed (say the peer did not
		 * know us yet) and libzmq does not retry after a refusal.
		 * A fresh socket queues the message until it connects.
		 */
		if (rc == -EAGAIN) {
			link_close_sockets(l);
			if ((rc = link_connect(l)) == 0)
				rc = send_msg(s, &w);
		}
		wire_free(&w);
	}
	free(c);
	if (rc != 0)
		session_end(s, 0, samen_strerror(rc));
	/* Until this one ends, no timer-driven session. */
	l->next_sync_ms = UINT64_MAX;
	return 0;
}

static void
tick_cb(uv_timer_t *t)
{
	struct peers *p = t->data;
	uint64_t now = now_ms();
	struct session *s, *next;

	for (size_t i = 0; i < p->nlinks; i++) {
		struct link *l = p->links[i];

		if (l->out != NULL && l->out->state == S_RUNNING &&
		    now - l->out->last_ms > SESSION_IDLE_MS)
			session_end(l->out, 0, "the peer did not answer");
		if (l->zs != NULL && (l->out == NULL ||
		    l->out->state != S_RUNNING) && now >= l->next_sync_ms)
			start_session(p, l);
	}
	for (s = p->inbound; s != NULL; s = next) {
		next = s->next;
		if (now - s->last_ms > SESSION_IDLE_MS)
			inbound_drop(p, s);
	}
}

/* Parses "ID@tcp://h:p, ..." and stores each as a peer. */
static void
add_static_peers(struct peers *p)
{
	char *list = xstrdup(p->env.static_peers), *save = NULL, *tok;

	for (tok = strtok_r(list, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		char *at = strchr(tok, '@');
		uint8_t dev[32];

		if (at == NULL || devid_decode(dev, tok, (size_t)(at - tok)) ||
		    strncmp(at + 1, "tcp://", 6) != 0) {
			log_warnx("config: peers: '%s' is not "
			    "DEVICE_ID@tcp://HOST:PORT; ignored", tok);
			continue;
		}
		if (store_peer_put(p->env.store, dev, at + 1) != 0)
			log_warnx("config: peers: could not store '%s'", tok);
	}
	free(list);
}

static void
refresh_now(struct peers *p)
{
	struct store_peer *sp = NULL;
	uint8_t (*members)[32] = NULL;
	size_t nsp = 0, nm, i, j;
	int rc;

	for (i = 0; i < p->nlinks; i++) {
		p->links[i]->mark = 0;
		p->links[i]->is_peer = 0;
	}
	if ((rc = store_peer_list(p->env.store, &sp, &nsp)) != 0)
		log_warnx("could not read the peers: %s", samen_strerror(rc));
	for (i = 0; i < nsp; i++) {
		struct link *l = link_find(p, sp[i].device);

		if (memcmp(sp[i].device, p->device, 32) == 0)
			continue;
		if (l == NULL) {
			l = link_add(p, sp[i].device);
			l->next_sync_ms = now_ms();
		}
		l->mark = 1;
		l->is_peer = 1;
		l->last_sync_ms = sp[i].last_sync_ms;
		if (!l->has_digest)
			memcpy(l->digest, sp[i].digest, 32);
		if (sp[i].addr == NULL ? l->addr != NULL : l->addr == NULL ||
		    strcmp(sp[i].addr, l->addr) != 0) {
			link_disconnect(l);
			free(l->addr);
			l->addr = sp[i].addr ? xstrdup(sp[i].addr) : NULL;
			if (l->addr != NULL &&
			    (rc = link_connect(l)) != 0)
				log_warnx("cannot connect to %s: %s", l->addr,
				    zmq_strerror(-rc));
			l->next_sync_ms = now_ms();
		}
	}
	store_peer_list_free(sp, nsp);
	/* No longer a peer: no longer connected to, whatever else it is. */
	for (i = 0; i < p->nlinks; i++) {
		struct link *l = p->links[i];

		if (!l->is_peer && l->addr != NULL) {
			link_disconnect(l);
			free(l->addr);
			l->addr = NULL;
		}
	}
	nm = p->env.host.members(p->env.host.arg, &members);
	for (i = 0; i < nm; i++) {
		struct link *l;

		if (memcmp(members[i], p->device, 32) == 0)
			continue;
		if ((l = link_find(p, members[i])) == NULL)
			l = link_add(p, members[i]);
		l->mark = 1;
	}
	free(members);
	/* Gone from both lists: no longer admitted. */
	for (i = j = 0; i < p->nlinks; i++) {
		struct link *l = p->links[i];

		if (l->mark) {
			p->links[j++] = l;
			continue;
		}
		for (struct session *s = p->inbound, *nx; s; s = nx) {
			nx = s->next;
			if (s->link == l)
				inbound_drop(p, s);
		}
		link_free(l);
	}
	p->nlinks = j;
}

static void
refresh_cb(uv_idle_t *h)
{
	struct peers *p = h->data;

	uv_idle_stop(h);
	p->refresh_pending = 0;
	refresh_now(p);
}

/*
 * Deferred to the next loop iteration: the caller may be inside a
 * session's callback (a merge added members), which a refresh could free.
 */
void
peers_refresh(struct peers *p)
{
	if (!p->refresh_pending) {
		p->refresh_pending = 1;
		uv_idle_start(&p->refresher, refresh_cb);
	}
}

void
peers_set_interval(struct peers *p, int seconds)
{
	uint64_t at = now_ms() + (uint64_t)seconds * 1000;

	if (seconds == p->env.sync_interval)
		return;
	p->env.sync_interval = seconds;
	/* Sooner now (or at all, after 0): from now, not from the last
	 * session.  Going to 0, what is planned runs once more. */
	for (size_t i = 0; seconds > 0 && i < p->nlinks; i++)
		if (p->links[i]->next_sync_ms > at)
			p->links[i]->next_sync_ms = at;
}

int
peers_open(struct peers **out, const struct peers_env *env, char **cause)
{
	struct peers *p = xcalloc(1, sizeof(*p));
	void *zap = NULL, *router = NULL;
	int zero = 0, one = 1, hb = 5000, hbto = 15000, rc;
	int64_t maxmsg = SYNC_MAX_MSG;

	*out = NULL;
	*cause = NULL;
	p->env = *env;
	pool_lane_init(&p->checks, env->loop, pool_width());
	memcpy(p->device, env->sign_sk + 32, 32);
	if (crypto_sign_ed25519_pk_to_curve25519(p->curve_pk, p->device) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(p->curve_sk,
	    env->sign_sk) != 0) {
		*cause = xstrdup("the device key has no X25519 form");
		free(p);
		return SAMEN_EKEYFILE;
	}
	if (strlen(env->listen) >= sizeof(p->listen)) {
		*cause = xstrdup("listen address too long");
		goto fail;
	}
	/* The ZAP handler first: CURVE without it lets anyone in. */
	if ((zap = zmq_socket(env->zctx, ZMQ_REP)) == NULL ||
	    zmq_setsockopt(zap, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_bind(zap, ZAP_ENDPOINT) != 0) {
		*cause = xasprintf("ZAP handler: %s", zmq_strerror(errno));
		goto fail;
	}
	if ((rc = zsock_open(&p->zap, env->loop, zap, zap_cb, p)) != 0) {
		zap = NULL;
		*cause = xasprintf("ZAP handler: %s", zmq_strerror(-rc));
		goto fail;
	}
	zap = NULL;
	if (*env->listen != '\0') {
		if ((router = zmq_socket(env->zctx, ZMQ_ROUTER)) == NULL) {
			*cause = xasprintf("socket: %s", zmq_strerror(errno));
			goto fail;
		}
		zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &maxmsg,
		    sizeof(maxmsg));
		zmq_setsockopt(router, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
		zmq_setsockopt(router, ZMQ_HEARTBEAT_TIMEOUT, &hbto,
		    sizeof(hbto));
		zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one,
		    sizeof(one));
		if (zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one,
		    sizeof(one)) != 0 ||
		    zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, p->curve_sk,
		    32) != 0 ||
		    zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN,
		    strlen(ZAP_DOMAIN)) != 0 ||
		    zmq_bind(router, env->listen) != 0) {
			*cause = xasprintf("listen on %s: %s", env->listen,
			    zmq_strerror(errno));
			zmq_close(router);
			goto fail;
		}
		if ((rc = zsock_open(&p->router, env->loop, router, router_cb,
		    p)) != 0) {
			*cause = xasprintf("listen: %s", zmq_strerror(-rc));
			goto fail;
		}
		snprintf(p->listen, sizeof(p->listen), "%s", env->listen);
	}
	add_static_peers(p);
	refresh_now(p);
	uv_idle_init(env->loop, &p->refresher);
	p->refresher.data = p;
	uv_idle_init(env->loop, &p->drainer);
	p->drainer.data = p;
	uv_timer_init(env->loop, &p->timer);
	p->timer.data = p;
	p->open_handles = 3;
	uv_timer_start(&p->timer, tick_cb, 200, TICK_MS);
	*out = p;
	return 0;
fail:
	if (zap != NULL)
		zmq_close(zap);
	if (p->zap != NULL)
		zsock_close(p->zap);
	sodium_memzero(p->curve_sk, sizeof(p->curve_sk));
	free(p);
	return SAMEN_EINVAL;
}

static void
handle_closed_cb(uv_handle_t *h)
{
	struct peers *p = h->data;

	p->open_handles--;
	peers_free_if_done(p);
}

/* Frees p once it is closed and neither a handle nor a check needs it. */
static void
peers_free_if_done(struct peers *p)
{
	if (p->closed && p->open_handles == 0 &&
	    pool_lane_busy(&p->checks) == 0)
		free(p);
}

void
peers_close(struct peers *p)
{
	struct session *s, *next;

	if (p == NULL)
		return;
	p->closed = 1;
	for (size_t i = 0; i < p->nlinks; i++)
		link_free(p->links[i]);
	free(p->links);
	for (s = p->inbound; s != NULL; s = next) {
		next = s->next;
		session_free(s);
	}
	if (p->router != NULL)
		zsock_close(p->router);
	if (p->zap != NULL)
		zsock_close(p->zap);
	sodium_memzero(p->curve_sk, sizeof(p->curve_sk));
	uv_timer_stop(&p->timer);
	uv_idle_stop(&p->refresher);
	uv_idle_stop(&p->drainer);
	uv_close((uv_handle_t *)&p->timer, handle_closed_cb);
	uv_close((uv_handle_t *)&p->refresher, handle_closed_cb);
	uv_close((uv_handle_t *)&p->drainer, handle_closed_cb);
}

int
peers_sync(struct peers *p, const uint8_t *device, struct wbuf *w)
{
	size_t n = 0;
	uint64_t first = p->round + 1;
	struct link *l;

	if (device != NULL) {
		if ((l = link_find(p, device)) == NULL || !l->is_peer)
			return SAMEN_ENOTFOUND;
		if (l->zs == NULL)
			return SAMEN_EINVAL;
		start_session(p, l);
		n = 1;
	} else {
		for (size_t i = 0; i < p->nlinks; i++)
			if (p->links[i]->is_peer && p->links[i]->zs != NULL) {
				start_session(p, p->links[i]);
				n++;
			}
		if (n == 0)
			return SAMEN_EINVAL;
	}
	wire_put_map(w, 2);
	wire_put_cstr(w, "round");
	wire_put_u64(w, first);
	wire_put_cstr(w, "started");
	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < p->nlinks; i++) {
		l = p->links[i];
		if (l->out != NULL && l->out->round >= first)
			wire_put_cstr(w, l->devid);
	}
	return 0;
}

static void
put_kv_time(struct wbuf *w, const char *k, uint64_t ms)
{
	char t[32];

	if (ms == 0) {
		wire_put_kv_str(w, k, NULL);
		return;
	}
	hlc_format(t, HLC_MAKE(ms, 0));
	wire_put_kv_str(w, k, t);
}

static void
put_session(struct wbuf *w, const struct session *s)
{
	static const char *names[] = { "running", "done", "failed" };

	wire_put_map(w, 9);
	wire_put_kv_u64(w, "round", s->round);
	wire_put_kv_str(w, "state", names[s->state]);
	wire_put_kv_str(w, "error", s->error);
	wire_put_kv_u64(w, "sent", s->sent);
	wire_put_kv_u64(w, "received", s->received);
	wire_put_kv_u64(w, "rejected", s->rejected);
	wire_put_kv_u64(w, "bytes_sent", s->bytes_sent);
	wire_put_kv_u64(w, "bytes_received", s->bytes_received);
	wire_put_cstr(w, "in_sync");
	wire_put_bool(w, s->in_sync);
}

int
peers_put_ls(struct peers *p, struct wbuf *w)
{
	struct store_peer *sp = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_peer_list(p->env.store, &sp, &n)) != 0)
		return rc;
	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		struct link *l = link_find(p, sp[i].device);
		char id[DEVID_TEXTLEN + 1], hex[65];
		const char *state;
		int has_digest = 0;

		for (size_t k = 0; k < 32; k++)
			has_digest |= sp[i].digest[k];
		devid_encode(id, sp[i].device);
		if (sp[i].addr == NULL)
			state = l != NULL && l->last_recv_ms != 0 ?
			    "inbound" : "idle";
		else if (l != NULL && l->up)
			state = "connected";
		else
			state = "connecting";
		wire_put_map(w, 9);
		wire_put_kv_str(w, "device", id);
		wire_put_kv_str(w, "addr", sp[i].addr);
		wire_put_kv_str(w, "state", state);
		put_kv_time(w, "last_sync", sp[i].last_sync_ms);
		wire_put_kv_u64(w, "sent", sp[i].sent);
		wire_put_kv_u64(w, "received", sp[i].received);
		wire_put_kv_u64(w, "rejected", sp[i].rejected);
		hex_encode(hex, sp[i].digest, 32);
		wire_put_kv_str(w, "digest", has_digest ? hex : NULL);
		wire_put_cstr(w, "session");
		if (l != NULL && l->out != NULL)
			put_session(w, l->out);
		else
			wire_put_nil(w);
	}
	store_peer_list_free(sp, n);
	return 0;
}

void
peers_found(struct peers *p, const uint8_t device[32], const char *addr)
{
	struct link *l = link_find(p, device);
	char who[DEVID_SHORTLEN + 1];
	int rc;

	short_id(who, device);
	if (l == NULL) {
		for (size_t i = 0; i < p->nunknown; i++)
			if (memcmp(p->unknown[i], device, 32) == 0)
				return;
		memcpy(p->unknown[p->nunknown++ % 16], device, 32);
		if (p->nunknown > 16)
			p->nunknown = 16;
		log_info("beacon from unknown device %s at %s: ignored", who,
		    addr);
		return;
	}
	if (l->addr != NULL)
		return;		/* an address given by a person wins */
	log_info("beacon: %s listens at %s", who, addr);
	if ((rc = store_peer_put(p->env.store, device, addr)) != 0)
		log_warnx("could not store the peer %s: %s", who,
		    samen_strerror(rc));
	else
		peers_refresh(p);
}

uint64_t
peers_zap_refused(const struct peers *p)
{
	return p->zap_refused;
}

uint64_t
peers_handshake_failed(const struct peers *p)
{
	return p->handshake_failed;
}

uint64_t
peers_dropped(const struct peers *p)
{
	return p->dropped;
}

uint64_t
peers_rejected(const struct peers *p)
{
	return p->rejected;
}

const char *
peers_listen(const struct peers *p)
{
	return p->listen;
}
