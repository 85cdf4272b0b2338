/* store_journal: the read audit's journal: sealed events waiting to be shipped as change sets. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

int
store_journal_add(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t *box, size_t len)
{
	sqlite3_stmt *s;

	if (st->broken || (s = sql_q(st, Q_JNL_ADD)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	sql_bind_blob(s, 2, box, len);
	return sql_run(s);
}

int
store_journal_all(struct store *st, struct store_journal_row **out,
    size_t *n)
{
	struct store_journal_row *rows = NULL, *r;
	size_t nrows = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (st->broken || (s = sql_q(st, Q_JNL_ALL)) == NULL)
		return SAMEN_ESTORE;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *box = sqlite3_column_blob(s, 2);
		size_t len = (size_t)sqlite3_column_bytes(s, 2);

		if (nrows == cap) {
			cap = cap ? 2 * cap : 16;
			rows = xreallocarray(rows, cap, sizeof(*rows));
		}
		r = &rows[nrows];
		r->n = sqlite3_column_int64(s, 0);
		if (!sql_col_fixed(s, 1, r->circle, CS_CIRCLELEN))
			continue;	/* not a row this samend wrote */
		r->box = xmalloc(len ? len : 1);
		if (len > 0)
			memcpy(r->box, box, len);
		r->len = len;
		nrows++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_journal_free(rows, nrows);
		return SAMEN_ESTORE;
	}
	*out = rows;
	*n = nrows;
	return 0;
}

void
store_journal_free(struct store_journal_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].box);
	free(rows);
}

int
store_journal_del(struct store *st, int64_t n)
{
	sqlite3_stmt *s;

	if (st->broken || (s = sql_q(st, Q_JNL_DEL)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, n);
	return sql_run(s);
}
