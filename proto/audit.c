/* audit: the read audit's events and the sealed box they travel in, pure. */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

_Static_assert(AUDIT_KEYLEN == crypto_box_BEFORENMBYTES, "audit key");
_Static_assert(AUDIT_NONCELEN == crypto_box_NONCEBYTES, "audit nonce");
_Static_assert(AUDIT_MACLEN == crypto_box_MACBYTES, "audit mac");

static const char *const actions[AUDIT_NACTIONS] = {
	[AUDIT_GET] = "get",
	[AUDIT_LS] = "ls",
	[AUDIT_FIND] = "find",
	[AUDIT_LOG] = "log",
	[AUDIT_CONFLICTS] = "conflicts",
	[AUDIT_EXPORT] = "export",
};

const char *
audit_action_name(unsigned action)
{
	return action > 0 && action < AUDIT_NACTIONS ? actions[action] : NULL;
}

unsigned
audit_action_parse(const char *name)
{
	for (unsigned i = 1; i < AUDIT_NACTIONS; i++)
		if (strcmp(actions[i], name) == 0)
			return i;
	return 0;
}

/* Events. */

void
audit_put_event(struct wbuf *w, uint64_t hlc, unsigned action,
    const struct audit_rec *recs, size_t n)
{
	size_t i, j, runs = 0;

	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(recs[i].collection,
		    recs[i - 1].collection) != 0)
			runs++;
	wire_put_array(w, 3);
	wire_put_u64(w, hlc);
	wire_put_u64(w, action);
	wire_put_array(w, (uint32_t)runs);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(recs[j].collection,
		    recs[i].collection) == 0; j++)
			;
		wire_put_array(w, 2);
		wire_put_cstr(w, recs[i].collection);
		wire_put_array(w, (uint32_t)(j - i));
		for (size_t k = i; k < j; k++)
			wire_put_bin(w, recs[k].rid, RID_LEN);
	}
}

void
audit_put_block(struct wbuf *w, const uint8_t circle[16],
    const uint8_t device[32], const uint8_t *events, size_t len, uint32_t n)
{
	wire_put_array(w, 4);
	wire_put_u64(w, AUDIT_VERSION);
	wire_put_bin(w, circle, 16);
	wire_put_bin(w, device, 32);
	wire_put_array(w, n);
	wire_put_raw(w, events, len);
}

void
audit_block_free(struct audit_block *b)
{
	free(b->events);
	free(b->recs);
	memset(b, 0, sizeof(*b));
}

/* One event's records, appended to b->recs; their count in *n. */
static int
get_recs(struct wire_reader *r, struct audit_block *b, size_t *cap,
    size_t *n)
{
	uint32_t runs, nrids;
	const char *s, *prev = NULL;
	size_t len, prev_len = 0;

	*n = 0;
	if (wire_get_array(r, &runs, AUDIT_MAX_RECS))
		return r->err;
	for (uint32_t i = 0; i < runs; i++) {
		if (wire_get_array_n(r, 2) ||
		    wire_get_str(r, &s, &len, OPS_MAX_COLLECTION) ||
		    wire_get_array(r, &nrids, AUDIT_MAX_RECS))
			return r->err;
		if (!ops_collection_valid(s, len))
			return SAMEN_EVALUE;
		/* One run per collection in a row: as audit_put_event. */
		if (prev != NULL && len == prev_len &&
		    memcmp(s, prev, len) == 0)
			return SAMEN_ENONCANON;
		prev = s;
		prev_len = len;
		if (nrids == 0 || *n + nrids > AUDIT_MAX_RECS)
			return nrids == 0 ? SAMEN_EVALUE : SAMEN_ETOOBIG;
		/* Each rid takes 18 bytes: a count past them is a lie. */
		if ((size_t)nrids > wire_remaining(r) / (2 + RID_LEN))
			return SAMEN_ETRUNC;
		if (b->nrecs + nrids > *cap) {
			while (b->nrecs + nrids > *cap)
				*cap = *cap ? 2 * *cap : 16;
			b->recs = xreallocarray(b->recs, *cap,
			    sizeof(*b->recs));
		}
		for (uint32_t k = 0; k < nrids; k++) {
			struct audit_rec *rec = &b->recs[b->nrecs];

			memset(rec, 0, sizeof(*rec));
			if (wire_get_bin_fixed(r, rec->rid, RID_LEN))
				return r->err;
			memcpy(rec->collection, s, len);
			rec->collection[len] = '\0';
			b->nrecs++;
		}
		*n += nrids;
	}
	return 0;
}

static int
block_decode(struct audit_block *b, struct wire_reader *r, size_t *first)
{
	uint64_t version, action;
	uint32_t nev;
	size_t cap = 0;
	int rc;

	if (wire_get_array_n(r, 4) || wire_get_u64(r, &version))
		return r->err;
	if (version != AUDIT_VERSION)
		return SAMEN_EVERSION;
	if (wire_get_bin_fixed(r, b->circle, 16) ||
	    wire_get_bin_fixed(r, b->device, 32) ||
	    wire_get_array(r, &nev, AUDIT_MAX_EVENTS))
		return r->err;
	b->events = xcalloc(nev ? nev : 1, sizeof(*b->events));
	for (uint32_t i = 0; i < nev; i++) {
		struct audit_event *e = &b->events[i];

		if (wire_get_array_n(r, 3) || wire_get_u64(r, &e->hlc) ||
		    wire_get_u64(r, &action))
			return r->err;
		if (action == 0 || action >= AUDIT_NACTIONS)
			return SAMEN_EVALUE;
		e->action = (unsigned)action;
		first[i] = b->nrecs;
		if ((rc = get_recs(r, b, &cap, &e->nrecs)) != 0)
			return rc;
		b->nevents++;
	}
	return wire_end(r);
}

int
audit_block_decode(struct audit_block *b, const uint8_t *p, size_t n)
{
	struct wire_reader r;
	size_t *first;
	uint32_t nev = 0;
	int rc;

	memset(b, 0, sizeof(*b));
	if (n > AUDIT_MAX_BLOCK)
		return SAMEN_ETOOBIG;
	/* The records' offsets while their array grows: one per event. */
	wire_reader_init(&r, p, n);
	if (wire_get_array_n(&r, 4) != 0 || wire_skip(&r, 1) != 0 ||
	    wire_skip(&r, 1) != 0 || wire_skip(&r, 1) != 0 ||
	    wire_get_array(&r, &nev, AUDIT_MAX_EVENTS) != 0)
		nev = 0;
	first = xcalloc(nev ? nev : 1, sizeof(*first));
	wire_reader_init(&r, p, n);
	rc = block_decode(b, &r, first);
	if (rc == 0)
		for (size_t i = 0; i < b->nevents; i++)
			b->events[i].recs = b->events[i].nrecs ?
			    &b->recs[first[i]] : NULL;
	free(first);
	if (rc != 0)
		audit_block_free(b);
	return rc;
}

/* Boxes. */

void
audit_seal(struct wbuf *w, const uint8_t audit_pk[32],
    const uint8_t eph_pk[32], const uint8_t k[AUDIT_KEYLEN],
    const uint8_t nonce[AUDIT_NONCELEN], const uint8_t *block, size_t len)
{
	uint8_t *ct = xmalloc(len + AUDIT_MACLEN);

	crypto_box_easy_afternm(ct, block, len, nonce, k);
	wire_put_array(w, 5);
	wire_put_u64(w, AUDIT_VERSION);
	wire_put_bin(w, audit_pk, AUDIT_HINTLEN);
	wire_put_bin(w, eph_pk, 32);
	wire_put_bin(w, nonce, AUDIT_NONCELEN);
	wire_put_bin(w, ct, len + AUDIT_MACLEN);
	free(ct);
}

int
audit_box_parse(struct audit_box *b, const uint8_t *p, size_t n)
{
	struct wire_reader r;
	uint64_t version;

	memset(b, 0, sizeof(*b));
	wire_reader_init(&r, p, n);
	if (wire_get_array_n(&r, 5) || wire_get_u64(&r, &version))
		return r.err;
	if (version != AUDIT_VERSION)
		return SAMEN_EVERSION;
	wire_get_bin_fixed(&r, b->hint, AUDIT_HINTLEN);
	wire_get_bin_fixed(&r, b->eph, 32);
	wire_get_bin_fixed(&r, b->nonce, AUDIT_NONCELEN);
	wire_get_bin(&r, &b->ct, &b->ct_len, AUDIT_MAX_BLOCK + AUDIT_MACLEN);
	if (wire_end(&r) != 0)
		return r.err;
	if (b->ct_len < AUDIT_MACLEN)
		return SAMEN_ETRUNC;
	return 0;
}

int
audit_box_for(const struct audit_box *b, const uint8_t pk[32])
{
	return memcmp(b->hint, pk, AUDIT_HINTLEN) == 0;
}

int
audit_box_open(uint8_t **block, size_t *len, const struct audit_box *b,
    const uint8_t k[AUDIT_KEYLEN])
{
	size_t n = b->ct_len - AUDIT_MACLEN;
	uint8_t *m = xmalloc(n ? n : 1);

	if (crypto_box_open_easy_afternm(m, b->ct, b->ct_len, b->nonce,
	    k) != 0) {
		free(m);
		return SAMEN_EDECRYPT;
	}
	*block = m;
	*len = n;
	return 0;
}
