/* output_circles: the human forms of what samen says of circles: circle new ... retention, device revoke. */
#include "output_circles.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "devid.h"
#include "output.h"

void
output_circles_new(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");

	if (name == NULL) {
		output_json(fp, body);
		return;
	}
	fputs("circle ", fp);
	output_str(fp, name, 0, 0, 0);
	fputs(" created\n", fp);
}

void
output_circles_add(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");
	const char *device = reply_get_str(body, "device");
	const char *role = reply_get_str(body, "role");

	if (name == NULL || device == NULL) {
		output_json(fp, body);
		return;
	}
	output_str(fp, device, 0, 0, 0);
	fputs(" added to circle ", fp);
	output_str(fp, name, 0, 0, 0);
	if (role != NULL) {
		fputs(" as ", fp);
		output_str(fp, role, 0, 0, 0);
	}
	putc('\n', fp);
}

void
output_circles_use(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");

	if (name == NULL) {
		output_json(fp, body);
		return;
	}
	fputs("new records go to circle ", fp);
	output_str(fp, name, 0, 0, 0);
	putc('\n', fp);
}

void
output_circles_role(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");
	const char *device = reply_get_str(body, "device");
	const char *role = reply_get_str(body, "role");

	if (name == NULL || device == NULL || role == NULL) {
		output_json(fp, body);
		return;
	}
	output_str(fp, device, 0, 0, 0);
	fputs(" is now ", fp);
	output_str(fp, role, 0, 0, 0);
	fputs(" of circle ", fp);
	output_str(fp, name, 0, 0, 0);
	putc('\n', fp);
}

void
output_circles_rm(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");
	const char *device = reply_get_str(body, "device");
	int64_t cut, epoch;

	if (name == NULL || device == NULL ||
	    reply_get_i64(body, "epoch", &epoch) != 0 ||
	    reply_get_i64(body, "cut", &cut) != 0) {
		output_json(fp, body);
		return;
	}
	output_str(fp, device, 0, 0, 0);
	fputs(" removed from circle ", fp);
	output_str(fp, name, 0, 0, 0);
	fprintf(fp, ": new epoch %08" PRIx32 ", what it writes after seq %"
	    PRId64 " is held back\n", (uint32_t)epoch, cut);
}

void
output_circles_accept(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");
	const char *device = reply_get_str(body, "device");
	int64_t cut;

	if (name == NULL || device == NULL ||
	    reply_get_i64(body, "cut", &cut) != 0) {
		output_json(fp, body);
		return;
	}
	fputs("accepted what ", fp);
	output_str(fp, device, 0, 0, 0);
	fputs(" wrote in circle ", fp);
	output_str(fp, name, 0, 0, 0);
	fprintf(fp, " up to seq %" PRId64 "\n", cut);
}

void
output_circles_quarantine(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *h, *recs, *r;
	const char *s;
	int64_t seq, chunks;
	uint32_t i, j;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		h = &list->v.kids[i];
		output_short(fp, reply_get_str(h, "author"));
		if (reply_get_i64(h, "seq", &seq) == 0)
			fprintf(fp, "  seq %" PRId64, seq);
		if ((s = reply_get_str(h, "time")) != NULL) {
			fputs("  ", fp);
			output_str(fp, s, 0, 0, 0);
		}
		recs = reply_get(h, "records");
		if (recs == NULL || recs->type != REPLY_ARRAY) {
			if (reply_get_i64(h, "chunks", &chunks) != 0)
				chunks = 0;
			fprintf(fp, "  %" PRId64 " record%s, not readable "
			    "here\n", chunks, chunks == 1 ? "" : "s");
			continue;
		}
		for (j = 0; j < recs->n; j++) {
			r = &recs->v.kids[j];
			fputs(j == 0 ? "  " : ", ", fp);
			output_opt(fp, reply_get_str(r, "collection"));
			putc(' ', fp);
			output_opt(fp, reply_get_str(r, "id"));
		}
		putc('\n', fp);
	}
}

void
output_circles_revoke(FILE *fp, const struct reply_node *body)
{
	const char *device = reply_get_str(body, "device");
	int64_t n;

	if (device == NULL || reply_get_i64(body, "circles", &n) != 0) {
		output_json(fp, body);
		return;
	}
	output_str(fp, device, 0, 0, 0);
	fprintf(fp, " revoked in %" PRId64 " circle%s\n", n, n == 1 ? "" :
	    "s");
}

#define ROLE_COLS 6		/* "member" */
#define STATE_COLS 7		/* "current" */

void
output_circles_ls(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *c, *members, *m;
	const char *s, *role, *by, *state;
	int64_t n, cut;
	uint32_t i, j;
	int def;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		c = &list->v.kids[i];
		if (i > 0)
			putc('\n', fp);
		s = reply_get_str(c, "name");
		output_str(fp, s != NULL ? s : "?", 0, 0, 0);
		if ((s = reply_get_str(c, "kind")) != NULL) {
			fputs("  ", fp);
			output_str(fp, s, 0, 0, 0);
		}
		if (reply_get_i64(c, "epoch", &n) == 0) {
			/* Derived ids: hex reads better than a number. */
			fprintf(fp, "  epoch %08" PRIx32, (uint32_t)n);
			if (reply_get_i64(c, "epochs", &n) == 0 && n > 1)
				fprintf(fp, " (of %" PRId64 ")", n);
		}
		if ((s = reply_get_str(c, "role")) != NULL) {
			fputs("  ", fp);
			output_str(fp, s, 0, 0, 0);
		}
		if ((s = reply_get_str(c, "state")) != NULL &&
		    strcmp(s, "current") != 0) {
			fputs(" (", fp);
			output_str(fp, s, 0, 0, 0);
			putc(')', fp);
		}
		if (reply_get_bool(c, "default", &def) == 0 && def)
			fputs("  (default)", fp);
		if (reply_get_i64(c, "quarantined", &n) == 0 && n > 0)
			fprintf(fp, "  %" PRId64 " held back", n);
		if (reply_get_i64(c, "purges", &n) == 0 && n > 0)
			fprintf(fp, "  %" PRId64 " purge%s", n,
			    n == 1 ? "" : "s");
		putc('\n', fp);
		if ((s = reply_get_str(c, "unresolved")) != NULL) {
			fputs("  members unknown here: ", fp);
			output_str(fp, s, 0, 0, 0);
			fputs("; syncs with nobody\n", fp);
		}
		members = reply_get(c, "retention");
		for (j = 0; j < reply_len(members) &&
		    members->type == REPLY_ARRAY; j++) {
			m = &members->v.kids[j];
			if ((s = reply_get_str(m, "collection")) == NULL)
				s = "?";
			fputs("  keeps ", fp);
			output_str(fp, s, 0, 0, 0);
			if (reply_get_i64(m, "days", &n) == 0)
				fprintf(fp, " for %" PRId64 " days", n);
			putc('\n', fp);
		}
		members = reply_get(c, "members");
		for (j = 0; j < reply_len(members) &&
		    members->type == REPLY_ARRAY; j++) {
			m = &members->v.kids[j];
			if ((role = reply_get_str(m, "role")) == NULL)
				role = "?";
			if ((state = reply_get_str(m, "state")) == NULL)
				state = "?";
			by = reply_get_str(m, "added_by");
			fputs("  ", fp);
			output_col(fp, reply_get_str(m, "device"),
			    DEVID_SHORTLEN);
			fputs("  ", fp);
			output_col(fp, role, ROLE_COLS);
			fputs("  ", fp);
			output_col(fp, state, STATE_COLS);
			if (by != NULL) {
				fputs("  added by ", fp);
				output_short(fp, by);
			}
			if (reply_get_i64(m, "cut", &cut) == 0)
				fprintf(fp, "  cut at seq %" PRId64, cut);
			putc('\n', fp);
		}
	}
}

void
output_circles_retention(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *due = reply_get(body, "due"), *d;
	const char *name = reply_get_str(body, "name");
	int64_t days;
	uint32_t i;

	if (name == NULL || (due == NULL &&
	    reply_get_i64(body, "days", &days) != 0)) {
		output_json(fp, body);
		return;
	}
	if (due == NULL) {
		output_str(fp, name, 0, 0, 0);
		fputs(" keeps ", fp);
		output_opt(fp, reply_get_str(body, "collection"));
		if (days == 0)
			fputs(" for ever (no retention)\n", fp);
		else
			fprintf(fp, " for %" PRId64 " days after its last "
			    "change\n", days);
		return;
	}
	for (i = 0; i < reply_len(due) && due->type == REPLY_ARRAY; i++) {
		d = &due->v.kids[i];
		output_opt(fp, reply_get_str(d, "collection"));
		fputs("  ", fp);
		output_col(fp, reply_get_str(d, "id"), OUTPUT_RID_COLS);
		fputs("  last changed ", fp);
		output_opt(fp, reply_get_str(d, "updated"));
		putc('\n', fp);
	}
}
