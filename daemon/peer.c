/*
 * peer: sync with other devices (docs/sync.md): the peers_* API, the
 * schedule of sessions and the peers table.
 *
 * One ROUTER bound on the listen address takes sessions that peers start;
 * one DEALER per peer with an address carries the sessions we start.  Both
 * use CURVE with the X25519 key pair derived from the device's ed25519
 * identity, so a device id is also its server key: connecting to the wrong
 * device fails the handshake.  The ZAP handler, bound before anything else,
 * admits a client only if its key belongs to a stored peer or to a member
 * of a circle we share, and names it in the User-Id of every message.
 * The work is split over link.c, zap.c, session.c and intake.c
 * (peer_int.h says which does what).
 */
#include "peer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "circle.h"
#include "clock.h"
#include "error.h"
#include "hlc.h"
#include "link.h"
#include "log.h"
#include "metrics.h"
#include "peer_int.h"
#include "session.h"
#include "util.h"
#include "zap.h"
#include "zsock.h"

#define SESSION_IDLE_MS 30000		/* no message for this long: over */
#define TICK_MS 1000
#define HELD_RETRY_MS 60000	/* a merge of held change sets failed */

void
peers_short_id(char out[DEVID_SHORTLEN + 1], const uint8_t key[32])
{
	char full[DEVID_TEXTLEN + 1];

	devid_encode(full, key);
	memcpy(out, full, DEVID_SHORTLEN);
	out[DEVID_SHORTLEN] = '\0';
}

/*
 * The schedule.  Every deadline is on the loop's clock (uv_now), which is
 * monotonic: a wall clock set back an hour must not end every session, nor
 * one set ahead skip or starve them.
 */

/*
 * What is due at now (the loop's clock): sessions idle too long end, and
 * links whose next session is due start one.
 */
static void
tick(struct peers *p, uint64_t now)
{
	struct session *s, *next;

	for (size_t i = 0; i < p->nlinks; i++) {
		struct link *l = p->links[i];

		if (l->out != NULL && l->out->state == SESSION_RUNNING &&
		    now > l->out->last_ms + SESSION_IDLE_MS)
			session_end(l->out, 0, "the peer did not answer");
		if (l->zs != NULL && (l->out == NULL ||
		    l->out->state != SESSION_RUNNING) && now >= l->next_sync_ms)
			session_start(p, l);
	}
	for (s = p->inbound; s != NULL; s = next) {
		next = s->next;
		if (now > s->last_ms + SESSION_IDLE_MS)
			session_drop_inbound(p, s);
	}
	if (p->zap != NULL)
		zap_tick(p->zap, now);
}

/*
 * Change sets held as dated too far ahead (docs/sync.md, "A clock
 * ahead") are merged once our clock has caught up with them: looked up
 * when something new was held (held_due UINT64_MAX), then waited for on
 * the wall clock, and merged in one transaction of their own.
 */
static void
release_held(struct peers *p)
{
	struct store *st = p->env.store;
	uint64_t n, next;
	int rc;

	if (p->held_due == UINT64_MAX) {
		if (store_held(st, &n, &next) != 0)
			return;	/* tried again at the next tick */
		p->held_due = n == 0 ? 0 : HLC_MS(next) > p->env.max_skew_ms ?
		    HLC_MS(next) - p->env.max_skew_ms : 1;
	}
	if (p->held_due == 0 || p->wall_ms() < p->held_due)
		return;
	if ((rc = store_begin(st)) == 0) {
		p->env.hooks.merge(p->env.hooks.arg);
		if ((rc = store_commit(st)) != 0) {
			store_rollback(st);
			p->env.hooks.stored(p->env.hooks.arg, 0);
		}
	}
	if (rc != 0) {
		/* Again in a minute, not at every tick. */
		log_warnx("merging held change sets failed: %s",
		    samen_strerror(rc));
		p->held_due = p->wall_ms() + HELD_RETRY_MS;
		return;
	}
	p->env.hooks.stored(p->env.hooks.arg, 1);
	log_info("held change sets came due: merged");
	p->held_due = UINT64_MAX;
}

void
peers_held_changed(struct peers *p)
{
	p->held_due = UINT64_MAX;
}

static void
tick_cb(uv_timer_t *t)
{
	struct peers *p = t->data;

	tick(p, uv_now(p->env.loop));
	release_held(p);
}

/*
 * The next tick within 20 ms, not up to a second from now.  Never later
 * than it was due: a stream of writes must not keep pushing it away.
 */
void
peers_tick_soon(struct peers *p)
{
	if (uv_timer_get_due_in(&p->timer) > 20)
		uv_timer_start(&p->timer, tick_cb, 20, TICK_MS);
}

/*
 * Gossip: something new arrived (or was written here); with periodic sync
 * on, pass it on at the next tick instead of a whole interval later.
 * Without it (sync_interval 0) peers sync only when asked.
 */
void
peers_gossip(struct peers *p, const struct link *from)
{
	if (p->env.sync_interval <= 0)
		return;
	for (size_t i = 0; i < p->nlinks; i++) {
		struct link *l = p->links[i];

		if (l->exile_only)
			continue;	/* told already: session_end */
		if (l != from && l->zs != NULL && l->is_peer &&
		    (l->out == NULL || l->out->state != SESSION_RUNNING))
			l->next_sync_ms = 0;
		else if (l != from && l->out != NULL &&
		    l->out->state == SESSION_RUNNING)
			l->again = 1;	/* after this session */
	}
	peers_tick_soon(p);
}

void
peers_nudge(struct peers *p)
{
	peers_gossip(p, NULL);
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

/* 1 if a session with l runs and is under way (session_busy). */
static int
link_busy(struct peers *p, const struct link *l)
{
	if (l->out != NULL && session_busy(l->out, NULL))
		return 1;
	for (struct session *s = p->inbound; s != NULL; s = s->next)
		if (s->link == l && session_busy(s, NULL))
			return 1;
	return 0;
}

/*
 * Whether l is exiled from circles we hold and shares no other with us:
 * once it was told, no session more (session_end) until the circles it
 * is exiled from change, which brings one at once if it has an address
 * and sessions run on their own (sync_interval: else when asked).
 */
static void
note_exile(struct peers *p, struct link *l)
{
	uint8_t (*ex)[CS_CIRCLELEN] = NULL, (*sh)[CS_CIRCLELEN] = NULL;
	uint8_t sig[16];
	size_t nex, nsh = 0;

	nex = circle_exiled(p->env.circle, l->device, &ex);
	if (!circle_revoked(p->env.circle, l->device))
		nsh = circle_shared(p->env.circle, l->device, &sh);
	crypto_generichash(sig, sizeof(sig), (const uint8_t *)ex,
	    nex * CS_CIRCLELEN, NULL, 0);
	l->exile_only = nex > 0 && nsh == 0;
	if (nex > 0 && sodium_memcmp(sig, l->exile_sig, sizeof(sig)) != 0 &&
	    p->env.sync_interval > 0 && l->zs != NULL && (l->out == NULL ||
	    l->out->state != SESSION_RUNNING))
		l->next_sync_ms = uv_now(p->env.loop);
	memcpy(l->exile_sig, sig, sizeof(sig));
	free(ex);
	free(sh);
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
			l->next_sync_ms = uv_now(p->env.loop);
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
			l->next_sync_ms = uv_now(p->env.loop);
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
	nm = circle_members(p->env.circle, &members);
	for (i = 0; i < nm; i++) {
		struct link *l;

		if (memcmp(members[i], p->device, 32) == 0)
			continue;
		if ((l = link_find(p, members[i])) == NULL)
			l = link_add(p, members[i]);
		l->mark = 1;
	}
	free(members);
	/* Removed and revoked devices: admitted for an exile session. */
	nm = circle_exiles(p->env.circle, &members);
	for (i = 0; i < nm; i++) {
		if (memcmp(members[i], p->device, 32) == 0)
			continue;
		if (link_find(p, members[i]) == NULL)
			link_add(p, members[i]);
		link_find(p, members[i])->mark = 1;
	}
	free(members);
	for (i = 0; i < p->nlinks; i++)
		note_exile(p, p->links[i]);
	/* Gone from every list: no longer admitted (once what it does
	 * with us is over, such as the session that told us we left). */
	for (i = j = 0; i < p->nlinks; i++) {
		struct link *l = p->links[i];

		if (l->mark || link_busy(p, l)) {
			p->links[j++] = l;
			continue;
		}
		for (struct session *s = p->inbound, *nx; s; s = nx) {
			nx = s->next;
			if (s->link == l)
				session_drop_inbound(p, s);
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
	uint64_t at = uv_now(p->env.loop) + (uint64_t)seconds * 1000;

	if (seconds == p->env.sync_interval)
		return;
	p->env.sync_interval = seconds;
	/* Sooner now (or at all, after 0): from now, not from the last
	 * session.  Going to 0, what is planned runs once more. */
	for (size_t i = 0; seconds > 0 && i < p->nlinks; i++)
		if (p->links[i]->next_sync_ms > at)
			p->links[i]->next_sync_ms = at;
}

/* ZAP's question: a stored peer, or a member of a circle we share. */
static int
admit(void *arg, const uint8_t curve[32], char user[DEVID_TEXTLEN + 1])
{
	struct link *l = link_by_curve(arg, curve);

	if (l == NULL)
		return 0;
	memcpy(user, l->devid, sizeof(l->devid));
	return 1;
}

int
peers_open(struct peers **out, const struct peers_env *env, char **cause)
{
	struct peers *p = xcalloc(1, sizeof(*p));
	void *router = NULL;
	int zero = 0, one = 1, hb = 5000, hbto = 15000, rc;
	int64_t maxmsg = SYNC_MAX_MSG;

	*out = NULL;
	*cause = NULL;
	p->env = *env;
	p->wall_ms = clock_wall_ms;
	p->held_due = UINT64_MAX;	/* looked up at the first tick */
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
	if (zap_open(&p->zap, env->loop, env->zctx, admit, p, cause) != 0)
		goto fail;
	zap_count_into(p->zap, env->metrics->zap_refusals);
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
		if ((rc = zsock_open(&p->router, env->loop, router,
		    session_router_cb, p)) != 0) {
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
	zap_close(p->zap);
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

void
peers_free_if_done(struct peers *p)
{
	if (p->closed && p->open_handles == 0 &&
	    pool_lane_busy(&p->checks) == 0) {
		if (p->env.hooks.closed != NULL)
			p->env.hooks.closed(p->env.hooks.arg);
		free(p);
	}
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
	zap_close(p->zap);
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
		session_start(p, l);
		n = 1;
	} else {
		for (size_t i = 0; i < p->nlinks; i++)
			if (p->links[i]->is_peer && p->links[i]->zs != NULL) {
				session_start(p, p->links[i]);
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
session_stat(struct peers_session_stat *out, const struct session *s)
{
	static const enum peers_run runs[] = {
		[SESSION_RUNNING] = PEERS_RUNNING,
		[SESSION_DONE] = PEERS_DONE,
		[SESSION_FAILED] = PEERS_FAILED,
	};

	out->round = s->round;
	out->state = runs[s->state];
	out->error = s->error != NULL ? xstrdup(s->error) : NULL;
	out->sent = s->sent;
	out->received = s->received;
	out->rejected = s->rejected;
	out->bytes_sent = s->bytes_sent;
	out->bytes_received = s->bytes_received;
	out->in_sync = s->in_sync;
	out->held_by = s->held_by;
	out->held_by_ahead_ms = s->held_by_ahead_ms;
}

int
peers_snapshot(struct peers *p, struct peers_stat **out, size_t *n)
{
	struct store_peer *sp = NULL;
	struct peers_stat *st;
	size_t nsp = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = store_peer_list(p->env.store, &sp, &nsp)) != 0)
		return rc;
	st = xcalloc(nsp + 1, sizeof(*st));
	for (size_t i = 0; i < nsp; i++) {
		struct link *l = link_find(p, sp[i].device);
		struct peers_stat *e = &st[i];

		memcpy(e->device, sp[i].device, 32);
		e->addr = sp[i].addr != NULL ? xstrdup(sp[i].addr) : NULL;
		if (sp[i].addr == NULL)
			e->conn = l != NULL && l->heard ? PEERS_INBOUND :
			    PEERS_IDLE;
		else if (l != NULL && l->up)
			e->conn = PEERS_CONNECTED;
		else
			e->conn = PEERS_CONNECTING;
		e->last_sync_ms = sp[i].last_sync_ms;
		e->sent = sp[i].sent;
		e->received = sp[i].received;
		e->rejected = sp[i].rejected;
		memcpy(e->digest, sp[i].digest, 32);
		for (size_t k = 0; k < 32; k++)
			e->has_digest |= sp[i].digest[k] != 0;
		if (l != NULL) {
			e->held_from = l->held_from;
			e->held_by = l->held_by;
			e->held_by_ahead_ms = l->held_by_ahead_ms;
			e->held_by_ms = l->held_by_ms;
		}
		if (l != NULL && l->out != NULL) {
			e->has_session = 1;
			session_stat(&e->session, l->out);
		}
	}
	store_peer_list_free(sp, nsp);
	*out = st;
	*n = nsp;
	return 0;
}

void
peers_snapshot_free(struct peers_stat *st, size_t n)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(st[i].addr);
		free(st[i].session.error);
	}
	free(st);
}

void
peers_found(struct peers *p, const uint8_t device[32], const char *addr)
{
	struct link *l = link_find(p, device);
	char who[DEVID_SHORTLEN + 1];
	int rc;

	peers_short_id(who, device);
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
	return zap_refused(p->zap);
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

uint64_t
peers_held_by(const struct peers *p, uint64_t *ahead_ms)
{
	uint64_t n = 0;

	*ahead_ms = 0;
	for (size_t i = 0; i < p->nlinks; i++) {
		n += p->links[i]->held_by;
		if (p->links[i]->held_by_ahead_ms > *ahead_ms)
			*ahead_ms = p->links[i]->held_by_ahead_ms;
	}
	return n;
}

const char *
peers_listen(const struct peers *p)
{
	return p->listen;
}

int
peers_busy(const struct peers *p, const uint8_t *base)
{
	for (size_t i = 0; i < p->nlinks; i++)
		if (p->links[i]->out != NULL &&
		    session_busy(p->links[i]->out, base))
			return 1;
	for (const struct session *s = p->inbound; s != NULL; s = s->next)
		if (session_busy(s, base))
			return 1;
	return 0;
}

void
peers_drop_circle(struct peers *p, const uint8_t base[CS_CIRCLELEN])
{
	uint8_t mc[CS_CIRCLELEN];
	struct session *s, *next;

	sync_members_circle(mc, base);
	for (size_t i = 0; i < p->nlinks; i++) {
		s = p->links[i]->out;
		if (s != NULL && s->state == SESSION_RUNNING &&
		    (session_has_chain(s, base) || session_has_chain(s, mc)))
			session_end(s, 0, "this device left the circle");
	}
	for (s = p->inbound; s != NULL; s = next) {
		next = s->next;
		if (session_has_chain(s, base) || session_has_chain(s, mc))
			session_drop_inbound(p, s);
	}
}
