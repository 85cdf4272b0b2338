/* store_peer: the peers table: devices this one syncs with, and what each session with them came to. */
#include "store_int.h"

#include <stdlib.h>

#include "clock.h"
#include "util.h"

/* Each call is one statement: atomic in or out of a transaction. */

int
store_peer_put(struct store *st, const uint8_t device[32], const char *addr)
{
	sqlite3_stmt *s;

	if ((s = sql_q(st, Q_PEER_PUT)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, device, 32);
	if (addr != NULL)
		sqlite3_bind_text(s, 2, addr, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	sql_bind_u64(s, 3, clock_wall_ms());
	return sql_run(s);
}

int
store_peer_rm(struct store *st, const uint8_t device[32])
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_PEER_RM)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, device, 32);
	if ((rc = sql_run(s)) != 0)
		return rc;
	return sqlite3_changes(st->db) == 0 ? SAMEN_ENOTFOUND : 0;
}

int
store_peer_list(struct store *st, struct store_peer **out, size_t *nout)
{
	struct store_peer *p = NULL, *x;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	const char *addr;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((s = sql_q(st, Q_PEER_LIST)) == NULL)
		return SAMEN_ESTORE;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			p = xreallocarray(p, cap, sizeof(*p));
		}
		x = &p[n];
		memset(x, 0, sizeof(*x));
		if (!sql_col_fixed(s, 0, x->device, 32)) {
			rc = SAMEN_ESTORE;
			goto fail;
		}
		if ((addr = (const char *)sqlite3_column_text(s, 1)) != NULL)
			x->addr = xstrdup(addr);
		x->added_ms = sql_col_u64(s, 2);
		x->last_sync_ms = sql_col_u64(s, 3);
		x->sent = sql_col_u64(s, 4);
		x->received = sql_col_u64(s, 5);
		x->rejected = sql_col_u64(s, 6);
		/* NULL until the first sync: an all-zero digest. */
		if (sqlite3_column_type(s, 7) != SQLITE_NULL &&
		    !sql_col_fixed(s, 7, x->digest, 32)) {
			free(x->addr);
			rc = SAMEN_ESTORE;
			goto fail;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		rc = SAMEN_ESTORE;
		goto fail;
	}
	sqlite3_reset(s);
	*out = p;
	*nout = n;
	return 0;
fail:
	sqlite3_reset(s);
	store_peer_list_free(p, n);
	return rc;
}

void
store_peer_list_free(struct store_peer *p, size_t n)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++)
		free(p[i].addr);
	free(p);
}

int
store_peer_note(struct store *st, const uint8_t device[32],
    uint64_t when_ms, const uint8_t digest[32], uint64_t sent,
    uint64_t received, uint64_t rejected)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_PEER_NOTE)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, device, 32);
	sql_bind_u64(s, 2, when_ms);
	sql_bind_blob(s, 3, digest, 32);
	sql_bind_u64(s, 4, sent);
	sql_bind_u64(s, 5, received);
	sql_bind_u64(s, 6, rejected);
	if ((rc = sql_run(s)) != 0)
		return rc;
	return sqlite3_changes(st->db) == 0 ? SAMEN_ENOTFOUND : 0;
}
