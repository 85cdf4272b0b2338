/* depart: this device leaves: a circle it was removed from is erased, and everything, keys too, once it is revoked. */
#include "depart.h"

#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "circle.h"
#include "ckpt.h"
#include "clock.h"
#include "ctl.h"
#include "error.h"
#include "loader.h"
#include "log.h"
#include "peer.h"
#include "util.h"

/* How often a departure looks again whether the sessions are over. */
#define DEPART_POLL_MS 200
/* How long it waits for them at most; then it ends them. */
#define DEPART_PATIENCE_MS 30000
/* After an erase failed (the store's): the next try. */
#define DEPART_RETRY_MS 10000

struct depart {
	struct ctl_parts *p;
	uv_timer_t timer;
	uint64_t since;		/* uv_now(): when this departure was seen */
	int pending;		/* the timer runs for a departure */
	int stopped;
};

static void tick_cb(uv_timer_t *t);

struct depart *
depart_open(struct ctl_parts *p)
{
	struct depart *d = xcalloc(1, sizeof(*d));

	d->p = p;
	uv_timer_init(p->env.loop, &d->timer);
	d->timer.data = d;
	return d;
}

void
depart_check(struct depart *d)
{
	uint8_t (*c)[CS_CIRCLELEN];
	size_t n;

	if (d->stopped || d->pending || d->p->revoked)
		return;
	(void)circle_departures(d->p->circle, &c, &n);
	free(c);
	if (n == 0)
		return;
	d->pending = 1;
	d->since = uv_now(d->p->env.loop);
	/* Not from inside the refresh (a session's callback): next turn. */
	uv_timer_start(&d->timer, tick_cb, 0, 0);
}

static void
again(struct depart *d, uint64_t ms)
{
	uv_timer_start(&d->timer, tick_cb, ms, 0);
}

/*
 * Removed from circle base: its change sets (both chains, quarantined
 * ones and forks), records, keys, cuts and purged tags go from the store,
 * its records from the index, what the WAL holds of them with the next
 * truncate; nothing of it comes in again (its sessions end, and it is
 * never joined again).  0 or the store's code.
 */
static int
leave(struct depart *d, const uint8_t base[CS_CIRCLELEN])
{
	struct ctl_parts *p = d->p;
	struct store_erased e;
	char hex[2 * CS_CIRCLELEN + 1];
	int rc;

	hex_encode(hex, base, CS_CIRCLELEN);
	if ((rc = store_erase_circle(p->env.store, base, clock_wall_ms(), 0,
	    &e)) != 0) {
		log_warnx("could not erase circle %s, which this device was "
		    "removed from: %s; trying again", hex, samen_strerror(rc));
		return rc;
	}
	loader_erased(p->loader, e.rkeys, e.nrkeys);
	if (p->env.ckpt != NULL)
		ckpt_erased(p->env.ckpt);
	if (p->peers != NULL)
		peers_drop_circle(p->peers, base);
	circle_forget_default(p->circle, base);
	log_info("removed from circle %s: erased it from this device (%llu "
	    "change sets, %zu records, its keys)", hex,
	    (unsigned long long)e.changesets, e.nrkeys);
	store_erased_free(&e);
	return 0;
}

/*
 * Revoked: sync stops and every secret in memory goes (as a lock does),
 * then the store is emptied, then the key file (the storage key is in it:
 * what any copy of samen.db holds can no longer be read).  From then on
 * the ctl answers status alone.
 */
static void
leave_all(struct depart *d, const uint8_t circle[CS_CIRCLELEN])
{
	struct ctl_parts *p = d->p;
	struct store_erased e;
	char hex[2 * CS_CIRCLELEN + 1];
	int rc;

	hex_encode(hex, circle, CS_CIRCLELEN);
	log_warnx("this device was revoked (circle %s says so): erasing every "
	    "circle, record and key it holds", hex);
	circle_forget_default(p->circle, NULL);
	p->revoked = 1;
	ctl_lock(p->self, NULL);
	if ((rc = store_erase_all(p->env.store, clock_wall_ms(), &e)) != 0)
		log_warnx("could not empty the store: %s; its contents stay "
		    "unreadable without the key file, which goes",
		    samen_strerror(rc));
	else
		store_erased_free(&e);
	loader_lock(p->loader);
	if (p->env.ckpt != NULL)
		ckpt_erased(p->env.ckpt);
	if ((rc = vault_revoke(p->env.vault, p->env.dir)) != 0)
		log_warnx("could not delete the key file: %s",
		    samen_strerror(rc));
	log_warnx("this device is revoked: its data and keys are erased; it "
	    "answers 'samen status' only");
}

static void
tick_cb(uv_timer_t *t)
{
	struct depart *d = t->data;
	struct ctl_parts *p = d->p;
	uint8_t (*c)[CS_CIRCLELEN];
	size_t n, left = 0;
	int revoked, patient, waits = 0, failed = 0;

	if (d->stopped || p->revoked) {
		d->pending = 0;
		return;
	}
	/* The rosters as they are now (a lock forgets them: none). */
	revoked = circle_departures(p->circle, &c, &n);
	patient = uv_now(p->env.loop) - d->since < DEPART_PATIENCE_MS;
	if (n == 0) {
		d->pending = 0;
		free(c);
		return;
	}
	if (revoked) {
		if (patient && p->peers != NULL && peers_busy(p->peers, NULL))
			again(d, DEPART_POLL_MS);
		else {
			d->pending = 0;
			leave_all(d, c[0]);
		}
		free(c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (patient && p->peers != NULL && peers_busy(p->peers, c[i]))
			waits = 1;
		else if (leave(d, c[i]) == 0)
			left++;
		else
			failed = 1;
	}
	free(c);
	/* Still pending: the refresh's depart_check plans nothing more. */
	if (left > 0 && circle_refresh(p->circle) != 0)
		log_warnx("could not read the circles again after leaving one");
	if (failed)
		again(d, DEPART_RETRY_MS);
	else if (waits)
		again(d, DEPART_POLL_MS);
	else
		d->pending = 0;
}

void
depart_stop(struct depart *d)
{
	d->stopped = 1;
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, NULL);
}

void
depart_close(struct depart *d)
{
	free(d);
}
