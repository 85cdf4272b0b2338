/* circle: the circles this device holds, their members, and joining the ones it is added to. */
#include "circle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "devid.h"
#include "error.h"
#include "loader.h"
#include "log.h"
#include "sync.h"
#include "util.h"
#include "writer.h"

#define DEFAULT_CIRCLE_FILE "default-circle"

/* A shared circle: what its members chain says. */
struct view {
	struct members_view m;
	uint8_t chain[CS_CIRCLELEN];	/* its members chain */
};

struct circle {
	struct circle_env env;
	struct store_circle priv;	/* the private circle, once unlocked */
	int have_priv;
	/* Every circle we hold (keys in memory while unlocked), and what
	 * the members chains say about the shared ones. */
	struct store_circle *circles;
	size_t ncircles;
	struct view *views;
	size_t nviews;
	uint8_t default_circle[CS_CIRCLELEN];
	int has_default;
	int stale;			/* refresh after the batch commits */
};

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
	for (size_t i = 0; i < cs->nviews; i++)
		members_view_free(&cs->views[i].m);
	free(cs->views);
	cs->views = NULL;
	cs->nviews = 0;
}

void
circle_close(struct circle *cs)
{
	if (cs == NULL)
		return;
	if (cs->have_priv)
		store_circle_clear(&cs->priv);
	store_circle_list_free(cs->circles, cs->ncircles);
	views_free(cs);
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

/* Lookups. */

const struct store_circle *
circle_private(const struct circle *cs)
{
	return cs->have_priv ? &cs->priv : NULL;
}

int
circle_is_chain(const struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < cs->ncircles; i++)
		if (cs->circles[i].kind == STORE_CIRCLE_MEMBERS &&
		    memcmp(cs->circles[i].id, id, CS_CIRCLELEN) == 0)
			return 1;
	return 0;
}

const struct store_circle *
circle_by_id(const struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	if (cs->have_priv && memcmp(cs->priv.id, id, CS_CIRCLELEN) == 0)
		return &cs->priv;
	for (size_t i = 0; i < cs->ncircles; i++)
		if (cs->circles[i].kind == STORE_CIRCLE_SHARED &&
		    memcmp(cs->circles[i].id, id, CS_CIRCLELEN) == 0)
			return &cs->circles[i];
	return NULL;
}

const struct members_view *
circle_view(const struct circle *cs, const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < cs->nviews; i++)
		if (memcmp(cs->views[i].m.id, id, CS_CIRCLELEN) == 0)
			return &cs->views[i].m;
	return NULL;
}

size_t
circle_nviews(const struct circle *cs)
{
	return cs->nviews;
}

const struct members_view *
circle_view_at(const struct circle *cs, size_t i)
{
	return &cs->views[i].m;
}

const struct store_circle *
circle_by_name(const struct circle *cs, const char *name)
{
	const struct store_circle *found = NULL;

	if (strcmp(name, "private") == 0)
		return circle_private(cs);
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct members_view *v = &cs->views[i].m;

		if (!v->valid || strcmp(v->name, name) != 0)
			continue;
		if (found != NULL)
			return NULL;
		found = circle_by_id(cs, v->id);
	}
	return found;
}

int
circle_name_taken(const struct circle *cs, const char *name)
{
	for (size_t i = 0; i < cs->nviews; i++)
		if (cs->views[i].m.valid &&
		    strcmp(cs->views[i].m.name, name) == 0)
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
	int rc = 0;

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

/* Reading the members chains. */

/*
 * The members chain's records with their histories, as members_build
 * takes them.  From the store, not the index: it may still be loading.
 */
static void
view_build(struct circle *cs, struct view *v, const uint8_t id[CS_CIRCLELEN])
{
	struct store_record **recs;
	struct members_record *mr;
	struct store_hist **hist;
	size_t total, n = 0;

	if (store_circle_records(cs->env.store, v->chain, &recs, &total) !=
	    0) {
		log_warnx("could not read a members chain");
		members_build(&v->m, id, NULL, 0);
		return;
	}
	mr = xreallocarray(NULL, total + 1, sizeof(*mr));
	hist = xreallocarray(NULL, total + 1, sizeof(*hist));
	for (size_t i = 0; i < total; i++) {
		struct store_hist *h;
		struct members_op *ops;
		size_t nh;

		if (strcmp(recs[i]->collection, "circle") != 0 &&
		    strcmp(recs[i]->collection, "member") != 0)
			continue;
		if (store_history(cs->env.store, recs[i]->rkey, &h, &nh) != 0)
			continue;
		ops = xreallocarray(NULL, nh + 1, sizeof(*ops));
		for (size_t k = 0; k < nh; k++) {
			ops[k].author = h[k].author;
			ops[k].kind = h[k].kind;
			ops[k].field = h[k].field;
			ops[k].value = h[k].value;
			ops[k].alive = h[k].alive;
			ops[k].hlc = h[k].hlc;
			ops[k].seq = h[k].seq;
		}
		mr[n].collection = recs[i]->collection;
		mr[n].ops = ops;
		mr[n].nops = nh;
		hist[n++] = h;
	}
	members_build(&v->m, id, mr, n);
	for (size_t i = 0; i < n; i++) {
		store_history_free(hist[i], mr[i].nops);
		free((void *)mr[i].ops);
	}
	free(hist);
	free(mr);
	store_record_list_free(recs, total);
}

/*
 * Our sealed key for circle v, if the admin wrote one for us and we lack
 * the key: opens it and stores the circle.  Returns 1 if a key was added.
 */
static int
take_key(struct circle *cs, const struct members_view *v)
{
	const uint8_t *sk = vault_sign_sk(cs->env.vault);
	const uint8_t *me = vault_public_key(cs->env.vault);
	uint8_t cpk[32], csk[32], sealed[MEMBERS_SEALEDLEN];
	char hex[2 * CS_CIRCLELEN + 1];
	const struct members_entry *m;
	struct store_circle sc;
	int rc, added = 0;

	if (!v->valid || (m = members_find(v, me)) == NULL ||
	    circle_by_id(cs, v->id) != NULL ||
	    hex_decode(sealed, sizeof(sealed), m->key1) != 0)
		return 0;
	if (crypto_sign_ed25519_pk_to_curve25519(cpk, me) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(csk, sk) != 0)
		return 0;
	/* Ids only in the log: a circle's name can name a family. */
	hex_encode(hex, v->id, CS_CIRCLELEN);
	memset(&sc, 0, sizeof(sc));
	if (crypto_box_seal_open(sc.key, sealed, sizeof(sealed), cpk,
	    csk) != 0)
		log_warnx("circle %s: the key sealed to us does not open",
		    hex);
	else {
		memcpy(sc.id, v->id, CS_CIRCLELEN);
		sc.epoch = 1;
		sc.name = xstrdup(v->name);
		sc.kind = STORE_CIRCLE_SHARED;
		if ((rc = store_circle_put(cs->env.store, &sc)) != 0)
			log_warnx("circle %s: could not store its key: %s",
			    hex, samen_strerror(rc));
		else {
			log_info("joined circle %s", hex);
			added = 1;
		}
		store_circle_clear(&sc);
	}
	sodium_memzero(csk, sizeof(csk));
	return added;
}

/* Merges what the keys just taken make readable, in a transaction. */
static int
merge_taken(struct circle *cs)
{
	struct store *st = cs->env.store;
	int rc;

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
circle_refresh(struct circle *cs)
{
	int rc = 0, again = 1;

	for (int round = 0; again && round < 4; round++) {
		again = 0;
		store_circle_list_free(cs->circles, cs->ncircles);
		cs->circles = NULL;
		cs->ncircles = 0;
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
			memcpy(v->chain, cs->circles[i].id, CS_CIRCLELEN);
			view_build(cs, v, cs->circles[i].base);
		}
		for (size_t i = 0; i < cs->nviews; i++)
			again |= take_key(cs, &cs->views[i].m);
		if (again && (rc = merge_taken(cs)) != 0)
			return rc;
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

/* Writing members chains. */

/*
 * One record of a members chain: SETs of the given fields.  Members chains
 * are not grouped: each write is its own change set, as view_build reads
 * them from the store.
 */
static int
write_fields(struct circle *cs, const struct store_circle *chain,
    const char *collection, const uint8_t rid[RID_LEN],
    const char *const *kv, uint32_t n, char **cause)
{
	struct writer_ops l;
	int rc;

	writer_ops_init(&l);
	for (uint32_t i = 0; i < n; i++)
		writer_ops_add(&l, OP_SET, kv[2 * i], strlen(kv[2 * i]),
		    kv[2 * i + 1], strlen(kv[2 * i + 1]));
	rc = writer_record(cs->env.writer, chain, collection, rid, NULL, 1,
	    &l, cause);
	if (rc == 0)
		rc = writer_close_all(cs->env.writer, cause);
	writer_ops_free(&l);
	return rc;
}

/* A member record's id derives from the device: one record per device. */
static void
member_rid(uint8_t rid[RID_LEN], const uint8_t device[32])
{
	crypto_generichash(rid, RID_LEN, device, 32, NULL, 0);
	rid[0] &= 0x7f;		/* keeps the ULID text form within range */
}

/* Writes the member record of device into circle circ's members chain. */
static int
write_member(struct circle *cs, const struct store_circle *chain,
    const struct store_circle *circ, const uint8_t device[32],
    const char *role, char **cause)
{
	uint8_t cpk[32], sealed[MEMBERS_SEALEDLEN];
	uint8_t rid[RID_LEN];
	char dev[DEVID_TEXTLEN + 1], me[DEVID_TEXTLEN + 1];
	char hex[2 * sizeof(sealed) + 1];
	const char *kv[8];

	if (crypto_sign_ed25519_pk_to_curve25519(cpk, device) != 0) {
		*cause = xstrdup("that device id is not a usable key");
		return SAMEN_EINVAL;
	}
	crypto_box_seal(sealed, circ->key, CS_KEYLEN, cpk);
	hex_encode(hex, sealed, sizeof(sealed));
	devid_encode(dev, device);
	devid_encode(me, vault_public_key(cs->env.vault));
	kv[0] = "device"; kv[1] = dev;
	kv[2] = "role"; kv[3] = role;
	kv[4] = "added_by"; kv[5] = me;
	kv[6] = "key1"; kv[7] = hex;
	member_rid(rid, device);
	return write_fields(cs, chain, "member", rid, kv, 4, cause);
}

/* Stores the members chain of base (its key derives from base's id). */
static int
put_chain(struct circle *cs, const uint8_t base[CS_CIRCLELEN],
    const char *name)
{
	struct store_circle m;
	int rc;

	memset(&m, 0, sizeof(m));
	sync_members_circle(m.id, base);
	sync_members_key(m.key, base);
	m.epoch = 1;
	m.kind = STORE_CIRCLE_MEMBERS;
	memcpy(m.base, base, CS_CIRCLELEN);
	m.name = xasprintf("members of %s", name);
	rc = store_circle_put(cs->env.store, &m);
	store_circle_clear(&m);
	return rc;
}

int
circle_create(struct circle *cs, const char *name,
    uint8_t id[CS_CIRCLELEN], char **cause)
{
	char me[DEVID_TEXTLEN + 1], salthex[33], hex[2 * CS_CIRCLELEN + 1];
	const uint8_t *pk = vault_public_key(cs->env.vault);
	const struct store_circle *chain, *circ;
	struct store_circle sc;
	uint8_t salt[16], rid[RID_LEN];
	const char *kv[6];
	int rc;

	randombytes_buf(salt, sizeof(salt));
	memset(&sc, 0, sizeof(sc));
	sync_circle_id(sc.id, pk, salt);
	randombytes_buf(sc.key, sizeof(sc.key));
	sc.epoch = 1;
	sc.kind = STORE_CIRCLE_SHARED;
	sc.name = xstrdup(name);
	cs->stale = 1;
	if ((rc = writer_begin(cs->env.writer, cause)) != 0) {
		store_circle_clear(&sc);
		return rc;
	}
	if ((rc = store_circle_put(cs->env.store, &sc)) != 0 ||
	    (rc = put_chain(cs, sc.id, name)) != 0 ||
	    (rc = circle_refresh(cs)) != 0) {
		store_circle_clear(&sc);
		writer_abort(cs->env.writer, rc);
		*cause = xasprintf("could not create the circle: %s",
		    samen_strerror(rc));
		return rc;
	}
	chain = circle_chain_of(cs, sc.id);
	circ = circle_by_id(cs, sc.id);
	devid_encode(me, pk);
	hex_encode(salthex, salt, sizeof(salt));
	kv[0] = "name"; kv[1] = name;
	kv[2] = "creator"; kv[3] = me;
	kv[4] = "salt"; kv[5] = salthex;
	memcpy(rid, sc.id, RID_LEN);
	rid[0] &= 0x7f;
	if (chain == NULL || circ == NULL ||
	    (rc = write_fields(cs, chain, "circle", rid, kv, 3, cause)) != 0 ||
	    (rc = write_member(cs, chain, circ, pk, "admin", cause)) != 0) {
		store_circle_clear(&sc);
		if (rc == 0) {
			rc = SAMEN_ESTORE;
			*cause = xstrdup("could not create the circle");
		}
		writer_abort(cs->env.writer, rc);
		return rc;
	}
	cs->stale = 1;
	memcpy(id, sc.id, CS_CIRCLELEN);
	store_circle_clear(&sc);
	/* Ids only in the log: a circle's name can name a family. */
	hex_encode(hex, id, CS_CIRCLELEN);
	log_info("created circle %s", hex);
	return 0;
}

int
circle_add(struct circle *cs, const struct store_circle *circ,
    const uint8_t device[32], char **cause)
{
	const struct store_circle *chain = circle_chain_of(cs, circ->id);
	char hex[2 * CS_CIRCLELEN + 1];
	int rc;

	if (chain == NULL) {
		*cause = xstrdup("the circle's members chain is missing");
		return SAMEN_ENOTFOUND;
	}
	if ((rc = write_member(cs, chain, circ, device, "member", cause)) != 0)
		return rc;
	cs->stale = 1;
	hex_encode(hex, circ->id, CS_CIRCLELEN);
	log_info("added a member to circle %s", hex);
	return 0;
}

/* The sync layer. */

size_t
circle_shared(const struct circle *cs, const uint8_t device[32],
    uint8_t (**out)[CS_CIRCLELEN])
{
	const uint8_t *me = vault_public_key(cs->env.vault);
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct members_view *v = &cs->views[i].m;

		if (!v->valid || members_find(v, me) == NULL ||
		    members_find(v, device) == NULL)
			continue;
		*out = xreallocarray(*out, n + 1, sizeof(**out));
		memcpy((*out)[n++], v->id, CS_CIRCLELEN);
	}
	return n;
}

int
circle_refuses(const struct circle *cs, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t device[32])
{
	const struct members_view *v = circle_view(cs, circle);

	if (cs->have_priv && memcmp(cs->priv.id, circle, CS_CIRCLELEN) == 0)
		return 1;	/* our private circle: never shared */
	if (v == NULL || !v->valid)
		return 0;
	return members_find(v, device) == NULL ||
	    members_find(v, vault_public_key(cs->env.vault)) == NULL;
}

size_t
circle_members(const struct circle *cs, uint8_t (**out)[32])
{
	const uint8_t *me = vault_public_key(cs->env.vault);
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct members_view *v = &cs->views[i].m;

		/* Only circles we are in: anyone can list anyone in theirs. */
		if (!v->valid || members_find(v, me) == NULL)
			continue;
		for (size_t k = 0; k < v->nmembers; k++) {
			*out = xreallocarray(*out, n + 1, sizeof(**out));
			memcpy((*out)[n++], v->members[k].device, 32);
		}
	}
	return n;
}

/* 1 if we hold circle or the members chain of it. */
static int
holds(const struct circle *cs, const uint8_t circle[CS_CIRCLELEN])
{
	return circle_by_id(cs, circle) != NULL ||
	    circle_chain_of(cs, circle) != NULL;
}

void
circle_join(struct circle *cs, uint8_t (*circles)[CS_CIRCLELEN], size_t n)
{
	char hex[2 * CS_CIRCLELEN + 1];
	size_t added = 0;
	int rc;

	/* One transaction (one fsync) for all of them. */
	if ((rc = store_begin(cs->env.store)) != 0)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (holds(cs, circles[i]))
			continue;
		hex_encode(hex, circles[i], CS_CIRCLELEN);
		if ((rc = put_chain(cs, circles[i], hex)) != 0) {
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
	if (loader_refresh(cs->env.loader, cs) &&
	    (rc = circle_refresh(cs)) != 0)
		log_warnx("merging what a peer sent failed: %s",
		    samen_strerror(rc));
}
