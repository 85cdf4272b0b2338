/* ctl_admin: the control requests on the daemon itself: status, unlock, lock, rebuild, metrics. */
#include "ctl_admin.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "circle.h"
#include "clock.h"
#include "devid.h"
#include "error.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "peer.h"
#include "util.h"
#include "writer.h"

int
ctl_admin_status(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	struct render_status *out = &res->out.status;
	char *cause = NULL;
	int rc;

	(void)q;
	/* Unlocked, the index holds every record (status waits for it to
	 * load): counting there is free, counting in SQLite a table scan.
	 * The change sets and digest count this batch's earlier writes. */
	if ((rc = writer_close_all(p->writer, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	if (vault_locked(p->env.vault) || loader_bad(p->loader))
		rc = store_stats(p->env.store, &out->stats);
	else {
		memset(&out->stats, 0, sizeof(out->stats));
		for (size_t i = 0; i < index_count(p->env.index); i++)
			out->stats.records += !index_at(p->env.index,
			    i)->deleted;
		rc = store_stats_but_records(p->env.store, &out->stats);
	}
	if (rc != 0 || (rc = store_digest(p->env.store, out->digest)) != 0)
		return ctl_fail(res, rc, "storage error: %s",
		    samen_strerror(rc));
	memcpy(out->shared, out->digest, sizeof(out->shared));
	store_shared_digest(p->env.store, out->shared);
	out->device = vault_public_key(p->env.vault);
	out->dir = p->env.dir;
	out->uptime_s = (clock_wall_ms() - p->started_ms) / 1000;
	out->locked = vault_locked(p->env.vault);
	out->passphrase = vault_has_passphrase(p->env.vault);
	out->revoked = p->revoked;
	out->listen = p->peers && *peers_listen(p->peers) ?
	    peers_listen(p->peers) : NULL;
	out->zap_refused = p->peers ? peers_zap_refused(p->peers) : 0;
	out->rejected = p->peers ? peers_rejected(p->peers) : 0;
	out->held_by = p->peers ? peers_held_by(p->peers,
	    &out->held_by_ahead_ms) : 0;
	out->handshake_failed = p->peers ?
	    peers_handshake_failed(p->peers) : 0;
	out->dropped = p->peers ? peers_dropped(p->peers) : 0;
	out->purges_refused = circle_purges_refused(p->circle);
	/* Each peer's replica digest when we last synced, next to ours. */
	out->peers = NULL;
	out->npeers = 0;
	if (store_peer_list(p->env.store, &out->peers, &out->npeers) != 0)
		out->npeers = 0;
	return 0;
}

int
ctl_admin_rebuild(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	struct store_stats s;
	int rc;

	(void)q;
	if ((rc = store_rebuild(p->env.store)) != 0 ||
	    (rc = loader_load_now(p->loader)) != 0 ||
	    (rc = circle_refresh(p->circle)) != 0 ||
	    (rc = store_stats(p->env.store, &s)) != 0 ||
	    (rc = store_digest(p->env.store, res->out.rebuild.digest)) != 0)
		return ctl_fail(res, rc, "rebuild failed: %s",
		    samen_strerror(rc));
	log_info("replica rebuilt from %llu change sets",
	    (unsigned long long)s.changesets);
	res->out.rebuild.changesets = s.changesets;
	return 0;
}

/* Metrics. */

/* A peer's samen_peer_last_sync_age_seconds, if it ever synced. */
static void
set_sync_age(struct metric *f, const uint8_t device[32], uint64_t last_ms,
    uint64_t now_ms)
{
	char id[DEVID_TEXTLEN + 1];
	const char *value = id;

	if (last_ms == 0)
		return;
	devid_encode(id, device);
	/* A wall clock set back since then: not a negative age. */
	metrics_set(f, &value, now_ms > last_ms ?
	    (double)(now_ms - last_ms) / 1000 : 0);
}

/*
 * The peers by state, and how long ago each last synced.  While sync is
 * off (locked, or it could not start) the stored peers are all idle:
 * nothing connects to them or from them.
 */
static void
collect_peers(struct ctl_parts *p, struct metrics_samen *m)
{
	static const char *const states[] = {
		[PEERS_IDLE] = "idle",
		[PEERS_INBOUND] = "inbound",
		[PEERS_CONNECTING] = "connecting",
		[PEERS_CONNECTED] = "connected",
	};
	uint64_t count[sizeof(states) / sizeof(states[0])] = { 0 };
	uint64_t now = clock_wall_ms();
	struct peers_stat *ps;
	struct store_peer *sp;
	size_t n;

	/* Peers that were removed have no series left. */
	metrics_clear(m->sync_age);
	if (p->peers != NULL && peers_snapshot(p->peers, &ps, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			count[ps[i].conn]++;
			set_sync_age(m->sync_age, ps[i].device,
			    ps[i].last_sync_ms, now);
		}
		peers_snapshot_free(ps, n);
	} else if (p->peers == NULL &&
	    store_peer_list(p->env.store, &sp, &n) == 0) {
		count[PEERS_IDLE] = n;
		for (size_t i = 0; i < n; i++)
			set_sync_age(m->sync_age, sp[i].device,
			    sp[i].last_sync_ms, now);
		store_peer_list_free(sp, n);
	}
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		metrics_set(m->peers, &states[i], (double)count[i]);
}

void
ctl_admin_collect(struct ctl_parts *p)
{
	struct metrics_samen *m = p->env.metrics;
	struct store_stats st;
	int locked = vault_locked(p->env.vault), rc;

	metrics_set(m->locked, NULL, locked);
	/*
	 * Live records: the index holds them all once loaded (counting
	 * there is a walk in memory); else the store counts them (a table
	 * scan, as status does while locked).  On a store error the gauges
	 * keep their last values: the store's users report it.
	 */
	memset(&st, 0, sizeof(st));
	if (locked || loader_busy(p->loader) || loader_bad(p->loader))
		rc = store_stats(p->env.store, &st);
	else {
		for (size_t i = 0; i < index_count(p->env.index); i++)
			st.records += !index_at(p->env.index, i)->deleted;
		rc = store_stats_but_records(p->env.store, &st);
	}
	if (rc == 0) {
		metrics_set(m->records, NULL, (double)st.records);
		metrics_set(m->changesets, NULL, (double)st.changesets);
		metrics_set(m->quarantine, NULL, (double)st.quarantined);
	}
	collect_peers(p, m);
}

int
ctl_admin_metrics(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	(void)q;
	ctl_admin_collect(p);
	res->out.metrics.text = metrics_render(p->env.metrics->registry,
	    &res->out.metrics.len);
	return 0;
}

/* Unlock. */

/*
 * The keys are in the vault: the store decrypts with them, the circles
 * are taken, what waited for them is merged, and the index starts loading.
 */
static int
after_unlock(struct ctl_parts *p)
{
	uint64_t max_hlc;
	int rc;

	store_set_key(p->env.store, vault_storage_key(p->env.vault));
	if ((rc = circle_unlock(p->circle)) != 0 ||
	    (rc = store_max_hlc(p->env.store, &max_hlc)) != 0)
		return rc;
	/* Never issue a timestamp below one already used, even if the wall
	 * clock went back while we were down. */
	writer_start(p->writer, max_hlc);
	loader_start(p->loader, vault_storage_key(p->env.vault));
	if ((rc = circle_refresh(p->circle)) != 0)
		return rc;
	if (p->env.unlocked != NULL)
		p->env.unlocked(p->env.unlocked_arg);
	return 0;
}

int
ctl_admin_unlock_now(struct ctl_parts *p, const char *passphrase,
    size_t len)
{
	struct keywrap_secrets s;
	int rc;

	if ((rc = vault_try(p->env.vault, passphrase, len, &s)) != 0)
		return rc;
	vault_install(p->env.vault, &s);
	return after_unlock(p);
}

struct unlock_work {
	uv_work_t work;
	struct ctl_parts *p;
	struct api_req *req;
	char *pass;		/* sodium_malloc */
	size_t len;
	struct keywrap_secrets secrets;
	int rc;
};

static void
unlock_work_cb(uv_work_t *w)
{
	struct unlock_work *u = w->data;

	u->rc = vault_try(u->p->env.vault, u->pass, u->len, &u->secrets);
}

static void
unlock_done_cb(uv_work_t *w, int status)
{
	struct unlock_work *u = w->data;
	struct ctl_parts *p = u->p;
	int rc = status ? status : u->rc;

	p->unlocking = 0;
	if (p->unlock_dropped) {
		/* A lock came meanwhile: it wins, and these keys go. */
		p->unlock_dropped = 0;
		if (rc == 0)
			rc = SAMEN_ELOCKED;
	} else if (rc == 0 && vault_locked(p->env.vault)) {
		vault_install(p->env.vault, &u->secrets);
		rc = after_unlock(p);
	}
	sodium_memzero(&u->secrets, sizeof(u->secrets));
	sodium_free(u->pass);
	if (rc == SAMEN_ELOCKED) {
		log_warnx("unlock dropped: locked while it ran");
		api_reply(u->req, rc, "locked ('samen lock') while unlocking: "
		    "unlock again", NULL, 0);
	} else if (rc == 0) {
		struct wbuf body;

		log_info("unlocked");
		wire_init(&body);
		render_unlock(&body, NULL);
		api_reply(u->req, 0, NULL, wire_data(&body), wire_len(&body));
		wire_free(&body);
	} else {
		log_warnx("unlock failed: %s", samen_strerror(rc));
		api_reply(u->req, rc, rc == SAMEN_EPASSPHRASE ?
		    "wrong passphrase" : samen_strerror(rc), NULL, 0);
	}
	free(u);
	ctl_unlock_ended(p->self);
}

int
ctl_admin_unlock(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_unlock *rq = &q->unlock;
	struct unlock_work *u;

	if (!vault_locked(p->env.vault)) {
		res->msg = xstrdup("already unlocked");
		return 0;
	}
	if (p->unlocking)
		return ctl_fail(res, SAMEN_EINVAL, "an unlock is already in "
		    "progress");
	u = xcalloc(1, sizeof(*u));
	u->p = p;
	u->req = res->req;
	u->len = rq->len;
	if ((u->pass = sodium_malloc(rq->len + 1)) == NULL)
		die_oom(rq->len + 1);
	memcpy(u->pass, rq->pass, rq->len);
	u->pass[rq->len] = '\0';
	u->work.data = u;
	p->unlocking = 1;
	uv_queue_work(p->env.loop, &u->work, unlock_work_cb, unlock_done_cb);
	res->req = NULL;	/* unlock_done_cb answers it */
	return 0;
}

/* Lock. */

int
ctl_admin_lock(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	(void)q;
	/* Anyone who can read the disk can unlock these keys. */
	if (!vault_has_passphrase(p->env.vault))
		return ctl_fail(res, SAMEN_EINVAL, "the device keys have no "
		    "passphrase: locking would protect nothing (a device "
		    "initialised with 'samen init --no-passphrase' cannot lock)");
	if (vault_locked(p->env.vault) && !p->unlocking && !p->locking) {
		res->msg = xstrdup("already locked");
		return 0;
	}
	log_info("locking: asked by 'samen lock'");
	ctl_lock(p->self, res->req);
	res->req = NULL;	/* answered once every secret is dropped */
	return 0;
}
