/* loader: fills the index after unlock on the thread pool, and keeps it up to date after merges. */
#include "loader.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "circle.h"
#include "error.h"
#include "log.h"
#include "testhook.h"
#include "util.h"

/* A load in flight on the thread pool. */
struct index_load {
	uv_work_t work;
	struct loader *l;
	uint8_t key[32];	/* the storage key, wiped once handed over */
	struct index *ix;
	atomic_int stop;
	int dropped;		/* loader_lock: its index is thrown away */
	unsigned delay_ms;	/* $SAMEND_TEST_LOAD_DELAY_MS, for tests */
	uint64_t started;	/* uv_hrtime(), ns */
	int rc;
	char *cause;
};

struct loader {
	struct loader_env env;
	struct index_load *load;	/* non-NULL while loading */
	int closing;
	int bad;		/* it could not be loaded: reads are refused */
	/* Records merges touched, to be read again once committed. */
	int64_t *touched;
	size_t ntouched;
	size_t captouched;
	/* Records changed while the index loads, to be read again after. */
	int64_t *reload;
	size_t nreload;
	size_t capreload;
	/* The replica was rebuilt while the index loads: all of it again. */
	int again;
	/* Records erased while the index loads, to drop from it after. */
	int64_t *erased;
	size_t nerased;
	size_t caperased;
};

struct loader *
loader_open(const struct loader_env *env)
{
	struct loader *l = xcalloc(1, sizeof(*l));

	l->env = *env;
	return l;
}

void
loader_close(struct loader *l)
{
	if (l == NULL)
		return;
	free(l->touched);
	free(l->reload);
	free(l->erased);
	free(l);
}

void
loader_lock(struct loader *l)
{
	if (l->load != NULL) {
		l->load->dropped = 1;
		atomic_store(&l->load->stop, 1);
	}
	index_clear(l->env.index);
	l->bad = 0;
	l->ntouched = l->nreload = l->nerased = 0;
}

void
loader_stop(struct loader *l)
{
	l->closing = 1;
	if (l->load != NULL)
		atomic_store(&l->load->stop, 1);
}

int
loader_busy(const struct loader *l)
{
	return l->load != NULL;
}

int
loader_bad(const struct loader *l)
{
	return l->bad;
}

static int
index_add_cb(void *arg, struct store_record *r)
{
	index_append(arg, r);
	return 0;
}

int
loader_load_now(struct loader *l)
{
	struct index *ix = index_open();
	int rc;

	if ((rc = store_record_foreach(l->env.store, index_add_cb, ix)) == 0) {
		index_sort(ix);
		index_swap(l->env.index, ix);
		l->bad = 0;
	}
	index_close(ix);
	return rc;
}

int
loader_reload(struct loader *l)
{
	l->ntouched = 0;
	if (l->load != NULL) {
		l->again = 1;
		return 0;
	}
	return loader_load_now(l);
}

/* Refreshing after merges. */

static void
push_rkey(int64_t **a, size_t *n, size_t *cap, int64_t rkey)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*a = xreallocarray(*a, *cap, sizeof(**a));
	}
	(*a)[(*n)++] = rkey;
}

void
loader_touched(void *arg, int64_t rkey)
{
	struct loader *l = arg;

	push_rkey(&l->touched, &l->ntouched, &l->captouched, rkey);
}

size_t
loader_pending(const struct loader *l)
{
	return l->ntouched;
}

void
loader_forget(struct loader *l)
{
	l->ntouched = 0;
}

static int
cmp_rkey(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return a < b ? -1 : a > b;
}

int
loader_refresh(struct loader *l, const struct circle *cs)
{
	struct store_record **recs;
	int members = 0;
	size_t n = 0, m = 0;

	/* A batch may touch one record many times: read it once. */
	if (l->ntouched > 1)
		qsort(l->touched, l->ntouched, sizeof(*l->touched), cmp_rkey);
	for (size_t i = 0; i < l->ntouched; i++)
		if (n == 0 || l->touched[n - 1] != l->touched[i])
			l->touched[n++] = l->touched[i];
	recs = xreallocarray(NULL, n + 1, sizeof(*recs));
	/* One read transaction for the batch, not two locks per record. */
	(void)store_record_load_many(l->env.store, l->touched, n, recs);
	for (size_t i = 0; i < n; i++) {
		struct store_record *rec = recs[i];

		if (rec == NULL) {
			log_warnx("could not reload a record into the index");
			continue;
		}
		members |= circle_is_chain(cs, rec->circle);
		if (l->load != NULL) {
			push_rkey(&l->reload, &l->nreload, &l->capreload,
			    rec->rkey);
			store_record_free(rec);
		} else
			recs[m++] = rec;
	}
	l->ntouched = 0;
	/* Records arrive author by author, their rids in no order: one
	 * pass over the index, not a move of its tail per record. */
	index_put_many(l->env.index, recs, m);
	free(recs);
	return members;
}

/* Drops from list[0..*n) every rkey of rkeys[0..m) (ascending). */
static void
drop_rkeys(int64_t *list, size_t *n, const int64_t *rkeys, size_t m)
{
	size_t i, k = 0;

	for (i = 0; i < *n; i++)
		if (bsearch(&list[i], rkeys, m, sizeof(*rkeys),
		    cmp_rkey) == NULL)
			list[k++] = list[i];
	*n = k;
}

void
loader_erased(struct loader *l, const int64_t *rkeys, size_t n)
{
	if (n == 0)
		return;
	index_remove(l->env.index, rkeys, n);
	drop_rkeys(l->touched, &l->ntouched, rkeys, n);
	drop_rkeys(l->reload, &l->nreload, rkeys, n);
	if (l->load == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		push_rkey(&l->erased, &l->nerased, &l->caperased, rkeys[i]);
}

void
loader_merge(struct loader *l)
{
	int rc;

	if ((rc = store_merge_pending(l->env.store, loader_touched, l)) != 0)
		log_warnx("merging what a peer sent failed: %s",
		    samen_strerror(rc));
}

/* Loading in the background. */

static int
load_add_cb(void *arg, struct store_record *r)
{
	struct index_load *ld = arg;

	index_append(ld->ix, r);
	return atomic_load(&ld->stop) ? -ECANCELED : 0;
}

static void
load_work_cb(uv_work_t *w)
{
	struct index_load *ld = w->data;
	struct store *st;

	for (unsigned t = 0; t < ld->delay_ms && !atomic_load(&ld->stop);
	    t += 10)
		usleep(10000);
	if ((ld->rc = store_open(&st, ld->l->env.db_path, &ld->cause)) != 0) {
		sodium_memzero(ld->key, sizeof(ld->key));
		return;
	}
	store_set_key(st, ld->key);
	sodium_memzero(ld->key, sizeof(ld->key));
	if ((ld->rc = store_record_foreach(st, load_add_cb, ld)) == 0)
		index_sort(ld->ix);
	store_close(st);
}

static void
load_done_cb(uv_work_t *w, int status)
{
	struct index_load *ld = w->data;
	struct loader *l = ld->l;
	int rc = status ? status : ld->rc;

	l->load = NULL;
	if (l->closing) {
		l->nreload = 0;
		goto out;
	}
	if (ld->dropped) {
		/* Locked meanwhile: what it read goes (index_close wipes). */
		l->nreload = l->nerased = 0;
		log_info("index load cut short: locked");
		l->env.loaded(l->env.arg);
		goto out;
	}
	if (rc == 0 && l->again) {
		/* What it read may be gone: the replica was rebuilt. */
		l->nreload = 0;
		if ((rc = loader_load_now(l)) != 0) {
			log_warnx("could not load the index: %s; reads are "
			    "refused until 'samen rebuild'",
			    samen_strerror(rc));
			l->bad = 1;
		}
	} else if (rc == 0) {
		index_swap(l->env.index, ld->ix);
		/* Its snapshot may be older than an erase: before the reloads,
		 * which may have reused an erased record's rkey. */
		if (l->nerased > 1)
			qsort(l->erased, l->nerased, sizeof(*l->erased),
			    cmp_rkey);
		index_remove(l->env.index, l->erased, l->nerased);
#ifdef __GLIBC__
		/* The loader's thread freed its arena's scratch (SQLite's
		 * cache, the key list): give it back. */
		malloc_trim(0);
#endif
	} else {
		/* Not on the side, then: here, at once. */
		log_warnx("loading the index on the side failed: %s%s%s; "
		    "loading it here", ld->cause ? ld->cause : "",
		    ld->cause ? ": " : "", samen_strerror(rc));
		l->nreload = 0;
		if ((rc = loader_load_now(l)) != 0) {
			log_warnx("could not load the index: %s; reads are "
			    "refused until 'samen rebuild'",
			    samen_strerror(rc));
			l->bad = 1;
		}
	}
	for (size_t i = 0; i < l->nreload; i++) {
		struct store_record *rec;

		if (store_record_load(l->env.store, l->reload[i], &rec) == 0)
			index_put(l->env.index, rec);
		else
			log_warnx("could not reload a record into the index");
	}
	log_info("index loaded: %zu records in %llu ms (%zu changed by peers "
	    "meanwhile)", index_count(l->env.index),
	    (unsigned long long)((uv_hrtime() - ld->started) / 1000000),
	    l->nreload);
	l->nreload = 0;
	l->again = 0;
	l->nerased = 0;
	l->env.loaded(l->env.arg);
out:
	index_close(ld->ix);
	free(ld->cause);
	free(ld);
}

void
loader_start(struct loader *l, const uint8_t key[32])
{
	struct index_load *ld = xcalloc(1, sizeof(*ld));

	ld->l = l;
	ld->work.data = ld;
	ld->ix = index_open();
	atomic_init(&ld->stop, 0);
	memcpy(ld->key, key, sizeof(ld->key));
	ld->delay_ms = (unsigned)testhook()->load_delay_ms;
	ld->started = uv_hrtime();
	l->load = ld;
	l->nreload = 0;
	l->nerased = 0;
	if (uv_queue_work(l->env.loop, &ld->work, load_work_cb,
	    load_done_cb) != 0) {
		/* Cannot happen with a valid loop; load here then. */
		sodium_memzero(ld->key, sizeof(ld->key));
		ld->rc = SAMEN_ESTORE;
		load_done_cb(&ld->work, 0);
	}
}
