/* cmd: samen's command table and what its handlers share: one request, one reply. */
#include "cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client.h"
#include "error.h"
#include "output.h"

const struct cmd_entry *
cmd_find(const struct cmd_entry *table, const char *name)
{
	const struct cmd_entry *e;

	for (e = table; e->name != NULL; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

const char *
cmd_name(char buf[CMD_NAME_MAX], const struct cmd_entry *group,
    const struct cmd_entry *e)
{
	if (group != NULL)
		snprintf(buf, CMD_NAME_MAX, "%s %s", group->name, e->name);
	else
		snprintf(buf, CMD_NAME_MAX, "%s", e->name);
	return buf;
}

int
cmd_complain(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("samen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
cmd_failed(int rc, char *cause)
{
	cmd_complain(0, "%s", cause != NULL ? cause : samen_strerror(rc));
	free(cause);
	return rc == -EINVAL ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
}

void
cmd_request(struct wbuf *w, enum ctl_type type, uint32_t nargs)
{
	wire_init(w);
	wire_put_array(w, 3);
	wire_put_u64(w, SAMEN_PROTOCOL_VERSION);
	wire_put_u64(w, type);
	wire_put_array(w, nargs);
}

int
cmd_exit_for_client(int rc)
{
	switch (rc) {
	case -ENAMETOOLONG:
	case -EINVAL:
		return CMD_EXIT_USAGE;
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -ECONNRESET:	/* it stopped with our request: not running */
		return CMD_EXIT_DOWN;
	default:
		return CMD_EXIT_FAIL;
	}
}

int
cmd_call(struct cmd_ctx *c, struct wbuf *w, struct reply *rp)
{
	uint8_t *rep;
	size_t replen;
	char *cause = NULL;
	int rc, code;

	if (wire_len(w) > CTL_MAX_REQUEST) {
		rc = cmd_complain(CMD_EXIT_USAGE, "request too large: %zu "
		    "bytes, at most %u", wire_len(w), CTL_MAX_REQUEST);
		wire_wipe(w);
		wire_free(w);
		return rc;
	}
	rc = client_call(c->dir, wire_data(w), wire_len(w), &rep, &replen,
	    &cause);
	wire_wipe(w);
	wire_free(w);
	if (rc != 0) {
		cmd_complain(0, "%s", cause);
		free(cause);
		return cmd_exit_for_client(rc);
	}
	rc = reply_parse(rp, rep, replen);
	/* The reply may hold records' values: the parse copied them. */
	sodium_memzero(rep, replen);
	free(rep);
	if (rc != 0)
		return cmd_complain(CMD_EXIT_FAIL, "malformed reply from "
		    "samend: %s", samen_strerror(rc));
	if (rp->code != 0) {
		code = rp->code;
		cmd_complain(0, "%s", rp->message[0] != '\0' ? rp->message :
		    samen_strerror(code));
		reply_free(rp);
		return code == SAMEN_ELOCKED ? CMD_EXIT_LOCKED : CMD_EXIT_FAIL;
	}
	return 0;
}

int
cmd_run(struct cmd_ctx *c, struct wbuf *w,
    void (*human)(FILE *, const struct reply_node *))
{
	struct reply rp;
	int rc;

	if ((rc = cmd_call(c, w, &rp)) != 0)
		return rc;
	if (c->json)
		output_json(stdout, rp.body);
	else if (human != NULL)
		human(stdout, rp.body);
	reply_free(&rp);
	return 0;
}
