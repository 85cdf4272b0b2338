/* trail: a record's audit trail (who read it, who wrote it), the seam between export and the read audit. */
#include "trail.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"

/*
 * One change set's part of a history, h[0..n) (its entries are adjacent),
 * as a person names it; *alive is the existence before it, and after.
 */
static const char *
write_kind(const struct store_hist *h, size_t n, int *alive)
{
	const char *what = "update";

	for (size_t i = 0; i < n; i++) {
		if (h[i].kind != OP_EXIST)
			continue;
		if (!h[i].alive)
			what = "delete";
		else if (h[i].nrefs == 0)
			what = "create";
		else if (!*alive)
			what = "restore";
		*alive = h[i].alive;
	}
	return what;
}

int
trail_events(struct ctl_parts *p, const struct store_record *rec,
    struct trail_event **out, size_t *n, char **cause)
{
	struct store_hist *h;
	struct trail_event *ev;
	size_t nh, i, j, k = 0;
	int alive = 1, rc;

	*out = NULL;
	*n = 0;
	if ((rc = store_history(p->env.store, rec->rkey, &h, &nh)) != 0)
		return samen_fail(cause, rc, "storage error: %s",
		    samen_strerror(rc));
	ev = xreallocarray(NULL, nh ? nh : 1, sizeof(*ev));
	for (i = 0; i < nh; i = j) {
		for (j = i + 1; j < nh && h[j].seq == h[i].seq &&
		    memcmp(h[j].author, h[i].author, 32) == 0; j++)
			;
		ev[k].hlc = h[i].hlc;
		memcpy(ev[k].device, h[i].author, 32);
		ev[k].action = TRAIL_WRITE;
		ev[k].what = write_kind(&h[i], j - i, &alive);
		k++;
	}
	store_history_free(h, nh);
	*out = ev;
	*n = k;
	return 0;
}

int
trail_read(struct ctl_parts *p, const char *action,
    const struct store_record *const *recs, size_t n, char **cause)
{
	/* The read audit writes its event here (trail.h). */
	(void)p;
	(void)action;
	(void)recs;
	(void)n;
	(void)cause;
	return 0;
}
