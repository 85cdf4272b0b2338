/* circle: the circles this device holds, their rosters and keys, and the membership ops it writes. */
#include "circle_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "devid.h"
#include "error.h"
#include "keyring.h"
#include "loader.h"
#include "log.h"
#include "sync.h"
#include "testhook.h"
#include "util.h"
#include "writer.h"

#define DEFAULT_CIRCLE_FILE "default-circle"
/* Hex digits of its id that stand for a circle whose name we cannot read. */
#define SHORT_ID 8
/* Rounds of taking keys: each may make more of a chain readable. */
#define MAX_ROUNDS 4

struct circle *
circle_open(const struct circle_env *env)
{
	struct circle *cs = xcalloc(1, sizeof(*cs));

	cs->env = *env;
	return cs;
}

static void
views_free(struct circle *cs)
{
	for (size_t i = 0; i < cs->nviews; i++) {
		struct view *v = &cs->views[i];

		roster_free(v->r);
		for (size_t k = 0; k < v->nops; k++)
			roster_op_free(&v->ops[k]);
		free(v->ops);
	}
	free(cs->views);
	free(cs->infos);
	cs->views = NULL;
	cs->infos = NULL;
	cs->nviews = 0;
	cs->ninfos = 0;
}

static void
rows_free(struct circle *cs)
{
	store_circle_list_free(cs->circles, cs->ncircles);
	cs->circles = NULL;
	cs->ncircles = 0;
}

void
circle_close(struct circle *cs)
{
	if (cs == NULL)
		return;
	if (cs->have_priv)
		store_circle_clear(&cs->priv);
	rows_free(cs);
	views_free(cs);
	free(cs->departed);
	circle_erasure_forget(cs);
	free(cs);
}

void
circle_lock(struct circle *cs)
{
	if (cs->have_priv)
		store_circle_clear(&cs->priv);
	sodium_memzero(&cs->priv, sizeof(cs->priv));
	cs->have_priv = 0;
	store_circle_list_free(cs->circles, cs->ncircles);
	cs->circles = NULL;
	cs->ncircles = 0;
	views_free(cs);
	free(cs->departed);
	cs->departed = NULL;
	cs->ndeparted = 0;
	circle_erasure_forget(cs);
	cs->has_default = 0;
	cs->stale = 0;
}

static int
hex_decode(uint8_t *out, size_t n, const char *hex)
{
	if (hex == NULL || strlen(hex) != 2 * n)
		return -1;
	return sodium_hex2bin(out, n, hex, 2 * n, NULL, NULL, NULL);
}

static const uint8_t *
me(const struct circle *cs)
{
	return vault_public_key(cs->env.vault);
}

/* Lookups. */

const struct store_circle *
circle_private(const struct circle *cs)
{
	return cs->have_priv ? &cs->priv : NULL;
}

int
circle_is_chain(const struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < cs->nviews; i++)
		if (memcmp(cs->views[i].chain, id, CS_CIRCLELEN) == 0)
			return 1;
	return 0;
}

/* The index of the view of shared circle id, or nviews. */
static size_t
view_index(const struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	size_t i;

	for (i = 0; i < cs->nviews; i++)
		if (memcmp(cs->views[i].info.id, id, CS_CIRCLELEN) == 0)
			break;
	return i;
}

struct view *
circle_view_of(struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	size_t i = view_index(cs, id);

	return i < cs->nviews ? &cs->views[i] : NULL;
}

static const struct view *
view_of(const struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	size_t i = view_index(cs, id);

	return i < cs->nviews ? &cs->views[i] : NULL;
}

const struct store_circle *
circle_row(const struct circle *cs, const uint8_t id[CS_CIRCLELEN],
    uint32_t epoch)
{
	for (size_t i = 0; i < cs->ncircles; i++)
		if (cs->circles[i].kind != STORE_CIRCLE_MEMBERS &&
		    cs->circles[i].epoch == epoch &&
		    memcmp(cs->circles[i].id, id, CS_CIRCLELEN) == 0)
			return &cs->circles[i];
	return NULL;
}

const struct store_circle *
circle_by_id(const struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	const struct view *v;

	if (cs->have_priv && memcmp(cs->priv.id, id, CS_CIRCLELEN) == 0)
		return &cs->priv;
	if ((v = view_of(cs, id)) == NULL)
		return NULL;
	return v->writer;
}

const struct circle_info *
circle_list(const struct circle *cs, size_t *n)
{
	*n = cs->ninfos;
	return cs->infos;
}

/* 1 if s is at least SHORT_ID lower-case hex digits, at most an id's. */
static int
hex_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < SHORT_ID || n > 2 * CS_CIRCLELEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

const struct circle_info *
circle_find(const struct circle *cs, const char *name)
{
	const struct circle_info *found = NULL;
	char hex[2 * CS_CIRCLELEN + 1];

	for (size_t i = 0; i < cs->ninfos; i++) {
		const struct circle_info *c = &cs->infos[i];

		if (!c->named || strcmp(c->name, name) != 0)
			continue;
		if (found != NULL)
			return NULL;
		found = c;
	}
	if (found != NULL || !hex_prefix(name))
		return found;
	for (size_t i = 0; i < cs->ninfos; i++) {
		hex_encode(hex, cs->infos[i].id, CS_CIRCLELEN);
		if (strncmp(hex, name, strlen(name)) != 0)
			continue;
		if (found != NULL)
			return NULL;
		found = &cs->infos[i];
	}
	return found;
}

const struct store_circle *
circle_by_name(const struct circle *cs, const char *name)
{
	const struct circle_info *c;

	if (strcmp(name, "private") == 0)
		return circle_private(cs);
	if ((c = circle_find(cs, name)) == NULL)
		return NULL;
	return circle_by_id(cs, c->id);
}

int
circle_no_writer(const struct circle *cs, const char *name, char **cause)
{
	const struct circle_info *c;

	if (strcmp(name, "private") == 0 ||
	    (c = circle_find(cs, name)) == NULL)
		return samen_fail(cause, SAMEN_ENOTFOUND, "no circle named "
		    "'%s' (samen circle ls)", name);
	if (c->r == NULL)
		return samen_fail(cause, SAMEN_EINVAL, "circle '%s' cannot be "
		    "written to: its members cannot be resolved on this "
		    "device (samen circle ls)", name);
	return samen_fail(cause, SAMEN_EINVAL, "this device holds no key of "
	    "circle '%s' to write with", name);
}

int
circle_name_taken(const struct circle *cs, const char *name)
{
	for (size_t i = 0; i < cs->ninfos; i++)
		if (cs->infos[i].named && strcmp(cs->infos[i].name, name) == 0)
			return 1;
	return 0;
}

const struct store_circle *
circle_default(const struct circle *cs)
{
	const struct store_circle *d;

	if (cs->has_default &&
	    (d = circle_by_id(cs, cs->default_circle)) != NULL)
		return d;
	return circle_private(cs);
}

const struct circle_info *
circle_default_unresolved(const struct circle *cs)
{
	if (!cs->has_default)
		return NULL;
	for (size_t i = 0; i < cs->ninfos; i++)
		if (cs->infos[i].r == NULL &&
		    memcmp(cs->infos[i].id, cs->default_circle,
		    CS_CIRCLELEN) == 0)
			return &cs->infos[i];
	return NULL;
}

const struct store_circle *
circle_chain_of(const struct circle *cs, const uint8_t base[CS_CIRCLELEN])
{
	for (size_t i = 0; i < cs->ncircles; i++)
		if (cs->circles[i].kind == STORE_CIRCLE_MEMBERS &&
		    memcmp(cs->circles[i].base, base, CS_CIRCLELEN) == 0)
			return &cs->circles[i];
	return NULL;
}

/* The default circle, in a file of its own: a choice of this device. */

static int
write_default(struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	char hex[2 * CS_CIRCLELEN + 2], *path, *tmp;
	FILE *f;
	int rc = 0, dfd = -1;

	hex_encode(hex, id, CS_CIRCLELEN);
	strcat(hex, "\n");
	path = xasprintf("%s/%s", cs->env.dir, DEFAULT_CIRCLE_FILE);
	tmp = xasprintf("%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL || fputs(hex, f) < 0 ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = SAMEN_ESTORE;
	if (f != NULL && fclose(f) != 0)
		rc = SAMEN_ESTORE;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = SAMEN_ESTORE;
	/* The rename is durable only once the directory is synced: without
	 * it a power cut could bring the old default back after the reply. */
	if (rc == 0 && ((dfd = open(cs->env.dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || fsync(dfd) != 0))
		rc = SAMEN_ESTORE;
	if (dfd != -1)
		close(dfd);
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	free(path);
	return rc;
}

static void
read_default(struct circle *cs)
{
	char buf[2 * CS_CIRCLELEN + 2], *path;
	FILE *f;

	cs->has_default = 0;
	path = xasprintf("%s/%s", cs->env.dir, DEFAULT_CIRCLE_FILE);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			buf[strcspn(buf, "\n")] = '\0';
			cs->has_default = hex_decode(cs->default_circle,
			    CS_CIRCLELEN, buf) == 0;
		}
		fclose(f);
	}
	free(path);
}

void
circle_forget_default(struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	char *path;

	if (id != NULL && (!cs->has_default ||
	    memcmp(cs->default_circle, id, CS_CIRCLELEN) != 0))
		return;
	cs->has_default = 0;
	path = xasprintf("%s/%s", cs->env.dir, DEFAULT_CIRCLE_FILE);
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("%s", path);
	free(path);
}

int
circle_use(struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	int rc;

	if ((rc = write_default(cs, id)) != 0)
		return rc;
	memcpy(cs->default_circle, id, CS_CIRCLELEN);
	cs->has_default = 1;
	return 0;
}

int
circle_unlock(struct circle *cs)
{
	struct store *st = cs->env.store;
	int rc;

	if ((rc = store_begin(st)) != 0)
		return rc;
	rc = store_circle_private(st, &cs->priv);
	if (rc == SAMEN_ENOTFOUND) {
		/* First unlock: this device's own private circle. */
		memset(&cs->priv, 0, sizeof(cs->priv));
		randombytes_buf(cs->priv.id, sizeof(cs->priv.id));
		randombytes_buf(cs->priv.key, sizeof(cs->priv.key));
		cs->priv.epoch = 1;
		cs->priv.name = xstrdup("private");
		rc = store_circle_put_private(st, &cs->priv);
	}
	if (rc == 0)
		rc = store_merge_pending(st, NULL, NULL);
	if (rc == 0)
		rc = store_commit(st);
	if (rc != 0) {
		store_rollback(st);
		store_circle_clear(&cs->priv);
		return rc;
	}
	cs->have_priv = 1;
	read_default(cs);
	return 0;
}

/* Reading the members chains: the rosters. */

/* What reading one chain gathers. */
struct reading {
	const uint8_t *base;
	uint8_t key[CS_KEYLEN];		/* the members key */
	struct roster_op *ops;
	size_t n, cap;
	size_t max;			/* ROSTER_MAX_OPS, or a test's less */
	int rc;
};

/* The place of a change set whose op cannot be read (roster.h). */
static void
placeholder(struct roster_op *op, const uint8_t id[CS_IDLEN],
    const struct cs_header *h)
{
	roster_op_free(op);
	memset(op, 0, sizeof(*op));
	memcpy(op->id, id, 32);
	memcpy(op->author, h->author, 32);
	op->seq = h->seq;
	op->hlc = h->hlc;
}

/*
 * One change set of a members chain, as stored (verified on arrival):
 * its one chunk, under the members key, is one op.  Anything else is a
 * placeholder, which keeps its author's place in the chain.
 */
static int
read_op_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct reading *rd = arg;
	struct cs_header h;
	struct cs_payload pl;
	struct ops_chunk oc;
	struct roster_op *op;
	uint8_t id[CS_IDLEN], *plain;
	size_t plen;

	if (changeset_header_decode(&h, hdr, hdr_len) != 0)
		return 0;	/* not from the store we wrote */
	if (rd->n == rd->max) {
		rd->rc = SAMEN_ETOOBIG;
		return 1;
	}
	if (rd->n == rd->cap) {
		rd->cap = rd->cap ? 2 * rd->cap : 16;
		rd->ops = xreallocarray(rd->ops, rd->cap, sizeof(*rd->ops));
	}
	changeset_id(id, hdr, hdr_len);
	op = &rd->ops[rd->n++];
	memset(op, 0, sizeof(*op));
	placeholder(op, id, &h);
	if (changeset_payload_decode(&pl, payload, payload_len) != 0)
		return 0;
	if (pl.nchunks == 1 && !pl.chunks[0].purged &&
	    changeset_chunk_read(&plain, &plen, &oc, &h, &pl.chunks[0],
	    rd->key) == 0) {
		(void)roster_op_parse(op, &oc, rd->base, id, h.author, h.seq,
		    h.hlc);
		ops_chunk_free(&oc);
		sodium_memzero(plain, plen);
		free(plain);
	}
	changeset_payload_free(&pl);
	return 0;
}

/* v's roster from every op of its chain; on failure v->r is NULL. */
static void
resolve(struct circle *cs, struct view *v)
{
	struct reading rd;
	char hex[2 * CS_CIRCLELEN + 1];
	int rc;

	memset(&rd, 0, sizeof(rd));
	rd.base = v->info.id;
	rd.max = ROSTER_MAX_OPS;
	if (testhook()->roster_max_ops > 0 &&
	    testhook()->roster_max_ops < ROSTER_MAX_OPS)
		rd.max = (size_t)testhook()->roster_max_ops;
	sync_members_key(rd.key, v->info.id);
	rc = store_chain_each(cs->env.store, v->chain, read_op_cb, &rd);
	if (rc == 1)
		rc = rd.rc;
	sodium_memzero(rd.key, sizeof(rd.key));
	v->ops = rd.ops;
	v->nops = rd.n;
	if (rc == 0)
		rc = roster_resolve(v->info.id, v->ops, v->nops, &v->r);
	v->info.roster_rc = rc;
	if (rc != 0) {
		hex_encode(hex, v->info.id, CS_CIRCLELEN);
		log_warnx("circle %s: could not resolve its members: %s", hex,
		    samen_strerror(rc));
		v->r = NULL;
	}
}

/* 1 if secret is the secret of the audit key pair whose public key is pk. */
static int
audit_pair(const uint8_t secret[32], const uint8_t pk[32])
{
	uint8_t got[32];

	return crypto_scalarmult_base(got, secret) == 0 &&
	    sodium_memcmp(got, pk, 32) == 0;
}

/*
 * The keys sealed to us in v's roster that we do not hold: opened and
 * stored.  The audit secret (epoch 0) only if it is the current one's.
 * Returns how many were stored.
 */
static int
take_keys(struct circle *cs, struct view *v)
{
	const struct roster_seal *seals;
	const struct store_circle *row;
	const uint8_t *audit;
	char hex[2 * CS_CIRCLELEN + 1];
	struct store_circle sc;
	size_t n;
	int rc, added = 0;

	if (v->r == NULL || !roster_circle_valid(v->r))
		return 0;
	hex_encode(hex, v->info.id, CS_CIRCLELEN);
	seals = roster_seals(v->r, me(cs), &n);
	audit = roster_audit(v->r);
	for (size_t i = 0; i < n; i++) {
		row = circle_row(cs, v->info.id, seals[i].epoch);
		if (seals[i].epoch != ROSTER_AUDIT_EPOCH && row != NULL)
			continue;
		if (seals[i].epoch == ROSTER_AUDIT_EPOCH && (audit == NULL ||
		    (row != NULL && audit_pair(row->key, audit))))
			continue;
		memset(&sc, 0, sizeof(sc));
		if (keyring_open(sc.key, &seals[i], me(cs),
		    vault_sign_sk(cs->env.vault)) != 0) {
			log_warnx("circle %s: a key sealed to us does not open",
			    hex);
			continue;
		}
		if (seals[i].epoch == ROSTER_AUDIT_EPOCH &&
		    !audit_pair(sc.key, audit)) {
			sodium_memzero(sc.key, sizeof(sc.key));
			continue;	/* an earlier audit key's */
		}
		memcpy(sc.id, v->info.id, CS_CIRCLELEN);
		sc.epoch = seals[i].epoch;
		sc.kind = STORE_CIRCLE_SHARED;
		/* Ids only at rest too: the name is the create op's. */
		sc.name = xstrdup(hex);
		if ((rc = store_circle_put(cs->env.store, &sc)) != 0)
			log_warnx("circle %s: could not store its key: %s",
			    hex, samen_strerror(rc));
		else {
			if (seals[i].epoch == ROSTER_FIRST_EPOCH)
				log_info("joined circle %s", hex);
			added++;
		}
		store_circle_clear(&sc);
	}
	return added;
}

/*
 * Merges what the keys just taken make readable: in the batch's
 * transaction if one is open, else in one of its own.
 */
static int
merge_taken(struct circle *cs)
{
	struct store *st = cs->env.store;
	int rc;

	if (writer_in_txn(cs->env.writer))
		return store_merge_pending(st, loader_touched, cs->env.loader);
	if ((rc = store_begin(st)) != 0)
		return rc;
	rc = store_merge_pending(st, loader_touched, cs->env.loader);
	if (rc == 0)
		rc = store_commit(st);
	if (rc != 0) {
		store_rollback(st);
		loader_forget(cs->env.loader);
		return rc;
	}
	(void)loader_refresh(cs->env.loader, cs);
	return 0;
}

int
circle_is_key(const struct store_circle *c, const uint8_t id[CS_CIRCLELEN])
{
	return c->kind != STORE_CIRCLE_MEMBERS &&
	    c->epoch != ROSTER_AUDIT_EPOCH &&
	    memcmp(c->id, id, CS_CIRCLELEN) == 0;
}

size_t
circle_nkeys(const struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	size_t n = 0;

	for (size_t i = 0; i < cs->ncircles; i++)
		n += circle_is_key(&cs->circles[i], id);
	return n;
}

/* The circle's name, sealed in its create op under the first key. */
static void
find_name(struct circle *cs, struct view *v)
{
	const struct roster_epoch *e;
	const struct store_circle *row;
	size_t n;
	char *name;
	size_t len;

	hex_encode(v->label, v->info.id, CS_CIRCLELEN);
	v->label[SHORT_ID] = '\0';
	v->info.named = 0;
	if (v->r == NULL || !roster_circle_valid(v->r) ||
	    (row = circle_row(cs, v->info.id, ROSTER_FIRST_EPOCH)) == NULL)
		return;
	e = roster_epochs(v->r, &n);
	for (size_t i = 0; i < n; i++) {
		if (e[i].id != ROSTER_FIRST_EPOCH)
			continue;
		for (size_t k = 0; k < v->nops; k++) {
			const struct roster_op *op = &v->ops[k];

			if (memcmp(op->id, e[i].op, 32) != 0 ||
			    op->type != ROSTER_CREATE || op->name_len == 0)
				continue;
			if (keyring_blob_open(&name, &len, op->name,
			    op->name_len, row->key, v->info.id, "name") != 0)
				return;
			/* A name as circle new takes it, or none. */
			if (len < sizeof(v->label) && ops_field_valid(name,
			    len)) {
				memcpy(v->label, name, len + 1);
				v->info.named = 1;
			}
			sodium_memzero(name, len);
			free(name);
			return;
		}
	}
}

/* What circle_list shows of v, once its keys are taken. */
static void
finish_view(struct circle *cs, struct view *v)
{
	const struct roster_member *m;
	const struct roster_epoch *p;

	find_name(cs, v);
	v->writer = NULL;
	v->info.r = v->r;
	v->info.epoch = 0;
	v->info.nepochs = 0;
	v->info.role = ROSTER_NOROLE;
	v->info.state = 0;
	v->info.writable = 0;
	if (v->r == NULL)
		return;
	(void)roster_epochs(v->r, &v->info.nepochs);
	if ((p = roster_preferred(v->r)) != NULL) {
		v->info.epoch = p->id;
		v->writer = circle_row(cs, v->info.id, p->id);
	}
	v->info.writable = v->writer != NULL;
	if ((m = roster_member(v->r, me(cs))) != NULL) {
		v->info.role = m->role;
		v->info.state = m->state;
	}
}

static int
cmp_view(const void *pa, const void *pb)
{
	const struct view *a = pa, *b = pb;
	int d;

	if ((d = strcmp(a->label, b->label)) != 0)
		return d;
	return memcmp(a->info.id, b->info.id, CS_CIRCLELEN);
}

/* The quarantine's counts, which the cuts change. */
static void
count_quarantined(struct circle *cs)
{
	for (size_t i = 0; i < cs->ninfos; i++)
		if (store_quarantine_count(cs->env.store, cs->infos[i].id,
		    &cs->infos[i].quarantined) != 0)
			cs->infos[i].quarantined = 0;
}

int
circle_reload(struct circle *cs)
{
	int rc, added = 1;

	free(cs->departed);
	cs->departed = NULL;
	cs->ndeparted = 0;
	if ((rc = store_departed(cs->env.store, &cs->departed,
	    &cs->ndeparted)) != 0)
		return rc;
	for (int round = 0; added > 0 && round < MAX_ROUNDS; round++) {
		rows_free(cs);
		views_free(cs);
		if ((rc = store_circle_list(cs->env.store, &cs->circles,
		    &cs->ncircles)) != 0)
			return rc;
		for (size_t i = 0; i < cs->ncircles; i++) {
			struct view *v;

			if (cs->circles[i].kind != STORE_CIRCLE_MEMBERS)
				continue;
			cs->views = xreallocarray(cs->views, cs->nviews + 1,
			    sizeof(*cs->views));
			v = &cs->views[cs->nviews++];
			memset(v, 0, sizeof(*v));
			memcpy(v->chain, cs->circles[i].id, CS_CIRCLELEN);
			memcpy(v->info.id, cs->circles[i].base, CS_CIRCLELEN);
			resolve(cs, v);
		}
		added = 0;
		for (size_t i = 0; i < cs->nviews; i++)
			added += take_keys(cs, &cs->views[i]);
		if (added > 0 && (rc = merge_taken(cs)) != 0)
			return rc;
		if (added > 0 && round + 1 == MAX_ROUNDS) {
			/* The last round's keys: list them too. */
			rows_free(cs);
			if ((rc = store_circle_list(cs->env.store,
			    &cs->circles, &cs->ncircles)) != 0)
				return rc;
		}
	}
	for (size_t i = 0; i < cs->nviews; i++)
		finish_view(cs, &cs->views[i]);
	if (cs->nviews > 1)
		qsort(cs->views, cs->nviews, sizeof(*cs->views), cmp_view);
	cs->infos = xreallocarray(NULL, cs->nviews + 1, sizeof(*cs->infos));
	for (size_t i = 0; i < cs->nviews; i++) {
		struct view *v = &cs->views[i];

		v->info.name = v->label;
		/*
		 * Ours to show: a circle whose roster names us; or one whose
		 * roster cannot be made, if we hold a key of it (we were in
		 * it), so that it does not vanish without a word.
		 */
		if ((v->r != NULL && roster_circle_valid(v->r) &&
		    v->info.role != ROSTER_NOROLE) ||
		    (v->r == NULL && v->info.roster_rc != 0 &&
		    circle_nkeys(cs, v->info.id) > 0))
			cs->infos[cs->ninfos++] = v->info;
	}
	count_quarantined(cs);
	return 0;
}

/* Cuts: what a removed device wrote past its cut is held back. */

static int
has_cut(const struct store_cut *c, size_t n, const uint8_t author[32],
    uint64_t seq)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(c[i].author, author, 32) == 0 && c[i].seq == seq)
			return 1;
	return 0;
}

/*
 * Makes the store's cuts of v's circle those of its roster: set for the
 * removed and revoked, cleared for the others; with apply 0, only says
 * whether any differs (*moved).  *rebuild as store_cut_set's.
 */
static int
view_cuts(struct circle *cs, const struct view *v, int apply, int *rebuild,
    int *moved)
{
	const struct roster_member *m, *mm;
	struct store_cut *have;
	size_t n, nh;
	int rc, rb;

	if (v->r == NULL || !roster_circle_valid(v->r))
		return 0;
	/* We were removed: the circle is erased soon, cuts and all. */
	if ((m = roster_member(v->r, me(cs))) != NULL &&
	    m->state != ROSTER_CURRENT)
		return 0;
	if ((rc = store_cuts(cs->env.store, v->info.id, &have, &nh)) != 0)
		return rc;
	m = roster_members(v->r, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (m[i].state == ROSTER_CURRENT ||
		    has_cut(have, nh, m[i].device, m[i].cut_seq))
			continue;
		*moved = 1;
		if (apply && (rc = store_cut_set(cs->env.store, v->info.id,
		    m[i].device, m[i].cut_seq, &rb)) == 0)
			*rebuild |= rb;
	}
	for (size_t i = 0; rc == 0 && i < nh; i++) {
		mm = roster_member(v->r, have[i].author);
		if (mm != NULL && mm->state != ROSTER_CURRENT)
			continue;
		*moved = 1;
		if (apply)
			rc = store_cut_clear(cs->env.store, v->info.id,
			    have[i].author);
	}
	free(have);
	return rc;
}

/*
 * The cuts of every roster, in one transaction if any changed: what they
 * quarantine leaves the replica (a rebuild, if some of it was merged: it
 * came before the removal did), what they let in (an accept) is merged.
 */
static int
apply_cuts(struct circle *cs)
{
	struct store *st = cs->env.store;
	char hex[2 * CS_CIRCLELEN + 1];
	int rc = 0, rebuild = 0, moved = 0;

	for (size_t i = 0; rc == 0 && i < cs->nviews; i++)
		rc = view_cuts(cs, &cs->views[i], 0, &rebuild, &moved);
	if (rc != 0 || !moved)
		return rc;
	if ((rc = store_begin(st)) != 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];

		if ((rc = view_cuts(cs, v, 1, &rebuild, &moved)) != 0) {
			hex_encode(hex, v->info.id, CS_CIRCLELEN);
			log_warnx("circle %s: could not set its cuts: %s", hex,
			    samen_strerror(rc));
		}
	}
	if (rc == 0 && rebuild)
		rc = store_rebuild(st);
	if (rc == 0 && moved && !rebuild)
		rc = store_merge_pending(st, loader_touched, cs->env.loader);
	if (rc == 0)
		rc = store_commit(st);
	if (rc != 0) {
		store_rollback(st);
		loader_forget(cs->env.loader);
		return rc;
	}
	if (rebuild) {
		log_info("a removal held back change sets already merged: "
		    "the replica was rebuilt without them");
		return loader_reload(cs->env.loader);
	}
	(void)loader_refresh(cs->env.loader, cs);
	return 0;
}

int
circle_refresh(struct circle *cs)
{
	int rc;

	if ((rc = circle_reload(cs)) != 0)
		return rc;
	if (writer_in_txn(cs->env.writer)) {
		/* The cuts and the maintenance wait for the commit. */
		cs->stale = 1;
	} else if (!cs->refreshing) {
		cs->refreshing = 1;
		if ((rc = apply_cuts(cs)) != 0)
			log_warnx("could not set the circles' cuts: %s",
			    samen_strerror(rc));
		if ((rc = circle_maintain(cs)) < 0)
			log_warnx("could not keep the circles' epochs: %s",
			    samen_strerror(rc));
		else if (rc > 0 && (rc = apply_cuts(cs)) != 0)
			log_warnx("could not set the circles' cuts: %s",
			    samen_strerror(rc));
		/* Purges and retention (circle_purge.c). */
		if ((rc = circle_erasure(cs)) < 0)
			log_warnx("could not erase what purges ask: %s",
			    samen_strerror(rc));
		count_quarantined(cs);
		cs->refreshing = 0;
	}
	if (cs->env.changed != NULL)
		cs->env.changed(cs->env.arg);
	return 0;
}

void
circle_refresh_later(struct circle *cs)
{
	cs->stale = 1;
}

void
circle_refresh_pending(struct circle *cs)
{
	int rc;

	if (!cs->stale)
		return;
	cs->stale = 0;
	if ((rc = circle_refresh(cs)) != 0)
		log_warnx("could not refresh the circles: %s",
		    samen_strerror(rc));
}

int
circle_put_chain(struct circle *cs, const uint8_t base[CS_CIRCLELEN])
{
	struct store_circle m;
	int rc;

	memset(&m, 0, sizeof(m));
	sync_members_circle(m.id, base);
	sync_members_key(m.key, base);
	m.epoch = 1;
	m.kind = STORE_CIRCLE_MEMBERS;
	memcpy(m.base, base, CS_CIRCLELEN);
	m.name = xmalloc(2 * CS_CIRCLELEN + 1);
	hex_encode(m.name, base, CS_CIRCLELEN);
	rc = store_circle_put(cs->env.store, &m);
	store_circle_clear(&m);
	return rc;
}

/* The sync layer. */

/* m is a current member of r (any role). */
static int
current(const struct roster *r, const uint8_t device[32])
{
	const struct roster_member *m = roster_member(r, device);

	return m != NULL && m->state == ROSTER_CURRENT;
}

size_t
circle_shared(const struct circle *cs, const uint8_t device[32],
    uint8_t (**out)[CS_CIRCLELEN])
{
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];

		if (v->r == NULL || !roster_circle_valid(v->r) ||
		    !current(v->r, me(cs)) || !current(v->r, device))
			continue;
		*out = xreallocarray(*out, n + 1, sizeof(**out));
		memcpy((*out)[n++], v->info.id, CS_CIRCLELEN);
	}
	return n;
}

int
circle_refuses(const struct circle *cs, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t device[32])
{
	const struct view *v = view_of(cs, circle);

	if (cs->have_priv && memcmp(cs->priv.id, circle, CS_CIRCLELEN) == 0)
		return 1;	/* our private circle: never shared */
	if (circle_departed(cs, circle))
		return 1;	/* we left it: never again */
	if (v == NULL || v->r == NULL || !roster_circle_valid(v->r))
		return 0;
	return !current(v->r, device) || !current(v->r, me(cs));
}

enum roster_role
circle_role(const struct circle *cs, const uint8_t base[CS_CIRCLELEN],
    const uint8_t device[32], enum roster_state *state)
{
	const struct view *v = view_of(cs, base);
	const struct roster_member *m;

	if (state != NULL)
		*state = 0;
	if (v == NULL || v->r == NULL ||
	    (m = roster_member(v->r, device)) == NULL)
		return ROSTER_NOROLE;
	if (state != NULL)
		*state = m->state;
	return m->role;
}

size_t
circle_members(const struct circle *cs, uint8_t (**out)[32])
{
	size_t n = 0, nm;

	*out = NULL;
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];
		const struct roster_member *m;

		/* Only circles we are in: anyone can list anyone in theirs. */
		if (v->r == NULL || !roster_circle_valid(v->r) ||
		    !current(v->r, me(cs)))
			continue;
		m = roster_members(v->r, &nm);
		for (size_t k = 0; k < nm; k++) {
			if (m[k].state != ROSTER_CURRENT)
				continue;
			*out = xreallocarray(*out, n + 1, sizeof(**out));
			memcpy((*out)[n++], m[k].device, 32);
		}
	}
	return n;
}

/* 1 if we hold circle or the members chain of it. */
static int
holds(const struct circle *cs, const uint8_t circle[CS_CIRCLELEN])
{
	return view_of(cs, circle) != NULL ||
	    circle_chain_of(cs, circle) != NULL;
}

void
circle_join(struct circle *cs, uint8_t (*circles)[CS_CIRCLELEN], size_t n)
{
	size_t added = 0;
	int rc;

	/* One transaction (one fsync) for all of them. */
	if ((rc = store_begin(cs->env.store)) != 0)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (holds(cs, circles[i]) || circle_departed(cs, circles[i]))
			continue;
		if ((rc = circle_put_chain(cs, circles[i])) != 0) {
			store_rollback(cs->env.store);
			goto bad;
		}
		added++;
	}
	if ((rc = store_commit(cs->env.store)) != 0) {
		store_rollback(cs->env.store);
		goto bad;
	}
	if (added > 0 && (rc = circle_refresh(cs)) != 0)
		goto bad;
	return;
bad:
	log_warnx("could not take in the circles a peer offered: %s",
	    samen_strerror(rc));
}

void
circle_stored(struct circle *cs, int committed)
{
	int rc;

	if (!committed) {
		loader_forget(cs->env.loader);
		return;
	}
	if (!loader_refresh(cs->env.loader, cs)) {
		/* What a removed device wrote may have come: held back. */
		count_quarantined(cs);
		return;
	}
	if ((rc = circle_refresh(cs)) != 0)
		log_warnx("merging what a peer sent failed: %s",
		    samen_strerror(rc));
}
