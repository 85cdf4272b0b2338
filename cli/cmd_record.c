/* cmd_record: samen put, get, ls, find, rm, log, note, conflicts, rebuild, handover, purge and audit. */
#include "cmd_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argcheck.h"
#include "devid.h"
#include "ops.h"
#include "output.h"
#include "output_records.h"
#include "request.h"
#include "rid.h"
#include "util.h"

static void
print_id(FILE *fp, const struct reply_node *body)
{
	output_field(fp, body, "id");
}

static void
print_digest(FILE *fp, const struct reply_node *body)
{
	output_field(fp, body, "replica_digest");
}

/* Requests of the shape [collection, rid]. */
static int
run_record(struct cmd_ctx *c, enum ctl_type type,
    void (*human)(FILE *, const struct reply_node *))
{
	struct wbuf w;
	char rid[RID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_collection(c->argv[0], &cause)) != 0 ||
	    (rc = argcheck_rid(c->argv[1], rid, &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, type, 2);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, rid);
	return cmd_run(c, &w, human);
}

/*
 * Checks the assignments of put, as[0..n) from c->argv[first...].
 * Returns 0, or the exit code after saying why.
 */
static int
parse_assigns(struct cmd_ctx *c, int first, struct argcheck_assign *as,
    int n)
{
	char *cause = NULL;
	int i, j, rc;

	for (i = 0; i < n; i++) {
		if ((rc = argcheck_assign(c->argv[first + i], &as[i],
		    &cause)) != 0)
			return cmd_failed(rc, cause);
		/* One change set holds one value per field (ops.h). */
		for (j = 0; j < i; j++)
			if (as[i].how == CTL_ASSIGN_SET &&
			    as[j].how == CTL_ASSIGN_SET &&
			    as[i].flen == as[j].flen &&
			    memcmp(as[i].field, as[j].field, as[i].flen) == 0)
				return cmd_complain(CMD_EXIT_USAGE, "field %.*s "
				    "is set twice", (int)as[i].flen,
				    as[i].field);
	}
	return 0;
}

int
cmd_record_put(struct cmd_ctx *c)
{
	struct argcheck_assign *as;
	struct wbuf w;
	char rid[RID_TEXTLEN + 1];
	char *cause = NULL;
	int i, first = 1, n, rc;

	if ((rc = argcheck_collection(c->argv[0], &cause)) != 0 ||
	    (c->circle != NULL &&
	    (rc = argcheck_circle(c->circle, &cause)) != 0))
		return cmd_failed(rc, cause);
	/* An id has no '='; an assignment always has one. */
	if (c->argc > 1 && strchr(c->argv[1], '=') == NULL) {
		uint8_t bin[RID_LEN];

		if (rid_decode(bin, c->argv[1], strlen(c->argv[1])) != 0)
			return cmd_complain(CMD_EXIT_USAGE, "\"%s\" is neither "
			    "an id nor a FIELD=VALUE", c->argv[1]);
		rid_encode(rid, bin);
		first = 2;
	}
	n = c->argc - first;
	if (n == 0)
		return cmd_complain(CMD_EXIT_USAGE, "put needs at least one "
		    "FIELD=VALUE");
	if (n > CTL_MAX_ASSIGNS)
		return cmd_complain(CMD_EXIT_USAGE, "too many assignments: %d, "
		    "at most %d", n, CTL_MAX_ASSIGNS);
	as = xcalloc((size_t)n, sizeof(*as));
	if ((rc = parse_assigns(c, first, as, n)) != 0) {
		free(as);
		return rc;
	}
	/*
	 * The circle is a fourth argument, sent only when given: without it
	 * the request stays the three-argument form every daemon knows.
	 */
	cmd_request(&w, CTL_PUT, c->circle != NULL ? 4 : 3);
	wire_put_cstr(&w, c->argv[0]);
	if (first == 2)
		wire_put_cstr(&w, rid);
	else
		wire_put_nil(&w);
	wire_put_array(&w, (uint32_t)n);
	for (i = 0; i < n; i++) {
		wire_put_array(&w, 3);
		wire_put_u64(&w, (uint64_t)as[i].how);
		wire_put_str(&w, as[i].field, as[i].flen);
		wire_put_cstr(&w, as[i].value);
	}
	if (c->circle != NULL)
		wire_put_cstr(&w, c->circle);
	free(as);
	return cmd_run(c, &w, print_id);
}

int
cmd_record_get(struct cmd_ctx *c)
{
	return run_record(c, CTL_GET, output_records_get);
}

int
cmd_record_rm(struct cmd_ctx *c)
{
	/* Silent on success, as rm(1). */
	return run_record(c, CTL_RM, NULL);
}

int
cmd_record_log(struct cmd_ctx *c)
{
	return run_record(c, CTL_LOG, output_records_log);
}

int
cmd_record_ls(struct cmd_ctx *c)
{
	struct wbuf w;
	const char *field = NULL, *value = NULL;
	size_t flen = 0;
	char *cause = NULL;
	int i, rc;

	if ((rc = argcheck_collection(c->argv[0], &cause)) != 0)
		return cmd_failed(rc, cause);
	for (i = 0; i < c->nwhere; i++)
		if ((rc = argcheck_where(c->where[i], &field, &flen, &value,
		    &cause)) != 0)
			return cmd_failed(rc, cause);
	cmd_request(&w, CTL_LS, 2);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_array(&w, (uint32_t)c->nwhere);
	for (i = 0; i < c->nwhere; i++) {
		/* Checked above: it cannot fail. */
		argcheck_pair(c->where[i], &field, &flen, &value, &cause);
		wire_put_array(&w, 2);
		wire_put_str(&w, field, flen);
		wire_put_cstr(&w, value);
	}
	return cmd_run(c, &w, output_records_ls);
}

int
cmd_record_find(struct cmd_ctx *c)
{
	struct wbuf w;
	char *cause = NULL;
	int rc;

	if (c->argv[0][0] == '\0')
		return cmd_complain(CMD_EXIT_USAGE, "find needs a non-empty "
		    "TEXT");
	if ((rc = argcheck_text("search text", c->argv[0], OPS_MAX_VALUE,
	    &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_FIND, 1);
	wire_put_cstr(&w, c->argv[0]);
	return cmd_run(c, &w, output_records_find);
}

int
cmd_record_note(struct cmd_ctx *c)
{
	struct wbuf w;
	char rid[RID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_rid(c->argv[0], rid, &cause)) != 0)
		return cmd_failed(rc, cause);
	if (c->argv[1][0] == '\0')
		return cmd_complain(CMD_EXIT_USAGE, "empty note");
	if ((rc = argcheck_text("note text", c->argv[1], OPS_MAX_VALUE,
	    &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_NOTE, 2);
	wire_put_cstr(&w, rid);
	wire_put_cstr(&w, c->argv[1]);
	return cmd_run(c, &w, print_id);
}

int
cmd_record_conflicts(struct cmd_ctx *c)
{
	struct wbuf w;

	cmd_request(&w, CTL_CONFLICTS, 0);
	return cmd_run(c, &w, output_records_conflicts);
}

int
cmd_record_rebuild(struct cmd_ctx *c)
{
	struct wbuf w;

	cmd_request(&w, CTL_REBUILD, 0);
	return cmd_run(c, &w, print_digest);
}

int
cmd_record_handover(struct cmd_ctx *c)
{
	struct wbuf w;
	char from[DEVID_TEXTLEN + 1], to[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_devid(c->argv[0], from, &cause)) != 0 ||
	    (rc = argcheck_devid(c->argv[1], to, &cause)) != 0 ||
	    (c->circle != NULL &&
	    (rc = argcheck_circle(c->circle, &cause)) != 0))
		return cmd_failed(rc, cause);
	if (strcmp(from, to) == 0)
		return cmd_complain(CMD_EXIT_USAGE, "FROM_DEVICE and TO_DEVICE "
		    "are the same device");
	cmd_request(&w, CTL_HANDOVER, 3);
	wire_put_cstr(&w, from);
	wire_put_cstr(&w, to);
	if (c->circle != NULL)
		wire_put_cstr(&w, c->circle);
	else
		wire_put_nil(&w);
	return cmd_run(c, &w, output_records_handover);
}

int
cmd_record_purge(struct cmd_ctx *c)
{
	struct wbuf w;
	char rid[RID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_collection(c->argv[0], &cause)) != 0 ||
	    (rc = argcheck_rid(c->argv[1], rid, &cause)) != 0)
		return cmd_failed(rc, cause);
	/* Who asked, and why, is what samen log keeps of the record. */
	if (c->reason == NULL || *c->reason == '\0')
		return cmd_complain(CMD_EXIT_USAGE, "purge needs --reason TEXT: "
		    "who asked for the erasure, and why");
	if ((rc = argcheck_text("--reason", c->reason, REQUEST_MAX_REASON,
	    &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_PURGE, 4);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, rid);
	wire_put_bool(&w, c->cascade);
	wire_put_cstr(&w, c->reason);
	return cmd_run(c, &w, output_records_purge);
}

int
cmd_record_audit(struct cmd_ctx *c)
{
	struct wbuf w;
	char rid[RID_TEXTLEN + 1], dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	uint64_t since = 0;
	int rc;

	if (c->argc == 1)
		return cmd_complain(CMD_EXIT_USAGE, "audit names a record by "
		    "its collection and its id (samen audit COLLECTION ID), or "
		    "none");
	if (c->argc == 2 &&
	    ((rc = argcheck_collection(c->argv[0], &cause)) != 0 ||
	    (rc = argcheck_rid(c->argv[1], rid, &cause)) != 0))
		return cmd_failed(rc, cause);
	if (c->device != NULL &&
	    (rc = argcheck_devid(c->device, dev, &cause)) != 0)
		return cmd_failed(rc, cause);
	if (c->since != NULL &&
	    (rc = argcheck_since(c->since, &since, &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_AUDIT, 4);
	if (c->argc == 2) {
		wire_put_cstr(&w, c->argv[0]);
		wire_put_cstr(&w, rid);
	} else {
		wire_put_nil(&w);
		wire_put_nil(&w);
	}
	if (c->device != NULL)
		wire_put_cstr(&w, dev);
	else
		wire_put_nil(&w);
	if (c->since != NULL)
		wire_put_u64(&w, since);
	else
		wire_put_nil(&w);
	return cmd_run(c, &w, output_records_audit);
}
