/* ctl: the control requests: one table of decode, act and render, batches and their replies. */
#include "ctl.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circle.h"
#include "clock.h"
#include "ctl_admin.h"
#include "ctl_bulk.h"
#include "ctl_circles.h"
#include "ctl_peers.h"
#include "ctl_records.h"
#include "durable.h"
#include "error.h"
#include "loader.h"
#include "log.h"
#include "peer.h"
#include "util.h"
#include "writer.h"

/* What a request needs before it acts. */
#define CTL_F_KEYS	0x1	/* the keys: the daemon is unlocked */
#define CTL_F_UNLOCKED	0x2	/* the keys and the whole index */
#define CTL_F_WRITES	0x4	/* writes, in the batch's transaction */
#define CTL_F_ALONE	0x8	/* runs outside the batch: what the batch
				 * wrote so far is committed first */

/*
 * Every control request, in protocol.h's order.  Requests also wait for
 * the index while it loads (ctl_batch), all of them, so that replies keep
 * their order.
 */
static const struct handler {
	enum ctl_type type;
	request_decode_fn *decode;
	ctl_act_fn *act;
	render_fn *render;	/* NULL: the act wrote the body */
	unsigned flags;
} handlers[] = {
	{ CTL_STATUS, request_decode_status, ctl_admin_status,
	  render_status, 0 },
	{ CTL_UNLOCK, request_decode_unlock, ctl_admin_unlock,
	  render_unlock, CTL_F_ALONE },
	{ CTL_PUT, request_decode_put, ctl_records_put,
	  render_put, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_GET, request_decode_get, ctl_records_get,
	  render_get, CTL_F_UNLOCKED },
	{ CTL_LS, request_decode_ls, ctl_records_ls,
	  render_ls, CTL_F_UNLOCKED },
	{ CTL_FIND, request_decode_find, ctl_records_find,
	  render_find, CTL_F_UNLOCKED },
	{ CTL_RM, request_decode_rm, ctl_records_rm,
	  render_rm, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_LOG, request_decode_log, ctl_records_log,
	  render_log, CTL_F_UNLOCKED },
	{ CTL_CONFLICTS, request_decode_conflicts, ctl_records_conflicts,
	  render_conflicts, CTL_F_UNLOCKED },
	{ CTL_NOTE, request_decode_note, ctl_records_note,
	  render_note, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_REBUILD, request_decode_rebuild, ctl_admin_rebuild,
	  render_rebuild, CTL_F_KEYS | CTL_F_ALONE },
	{ CTL_PEER_ADD, request_decode_peer_add, ctl_peers_add,
	  render_peer_add, 0 },
	{ CTL_PEER_LS, request_decode_peer_ls, ctl_peers_ls,
	  render_peer_ls, 0 },
	{ CTL_PEER_RM, request_decode_peer_rm, ctl_peers_rm,
	  render_peer_rm, 0 },
	{ CTL_SYNC, request_decode_sync, ctl_peers_sync,
	  NULL, CTL_F_UNLOCKED | CTL_F_ALONE },
	{ CTL_CIRCLE_NEW, request_decode_circle_new, ctl_circles_new,
	  render_circle_new, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_CIRCLE_ADD, request_decode_circle_add, ctl_circles_add,
	  render_circle_add, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_CIRCLE_LS, request_decode_circle_ls, ctl_circles_ls,
	  render_circle_ls, CTL_F_UNLOCKED },
	{ CTL_CIRCLE_USE, request_decode_circle_use, ctl_circles_use,
	  render_circle_use, CTL_F_UNLOCKED },
	{ CTL_METRICS, request_decode_metrics, ctl_admin_metrics,
	  render_metrics, 0 },
	/* An export reads the store (histories): the batch's writes first. */
	{ CTL_EXPORT, request_decode_export, ctl_bulk_export,
	  render_export, CTL_F_UNLOCKED | CTL_F_ALONE },
	{ CTL_IMPORT, request_decode_import, ctl_bulk_import,
	  render_import, CTL_F_UNLOCKED | CTL_F_WRITES },
};

#define NHANDLERS (sizeof(handlers) / sizeof(handlers[0]))

/* A reply waiting for its batch's commit, then for the disk. */
struct held {
	struct api_req *req;
	int code;
	char *msg;
	struct wbuf body;
	int has_body;
};

/* A batch's replies, waiting in durable_after for its commit's ticket. */
struct sent {
	struct ctl *c;
	uint64_t ticket;
	int wrote;		/* the batch changed records: nudge the peers */
	size_t n;
	struct held held[];
};

struct ctl {
	struct ctl_parts parts;
	/* The batch being handled: its replies, held until it commits. */
	struct held *held;
	size_t nheld;
	size_t capheld;
	uint64_t ticket;	/* the last lazy commit's */
	/* Requests that came while the index loads (loader_busy). */
	struct api_req **deferred;
	size_t ndeferred;
	size_t capdeferred;
};

int
ctl_fail(struct ctl_reply *res, int code, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(res->msg);
	res->msg = xstrdup(buf);
	res->code = code;
	return code;
}

int
ctl_fail_cause(struct ctl_reply *res, int code, char *cause)
{
	free(res->msg);
	res->msg = cause;
	res->code = code;
	return code;
}

/* Replies. */

static void
send_held(struct held *h)
{
	api_reply(h->req, h->code, h->msg, h->has_body ? wire_data(&h->body) :
	    NULL, wire_len(&h->body));
	free(h->msg);
	wire_free(&h->body);
}

/*
 * The disk has the batch's commit (durable_after): its replies go out, in
 * order.  After a failed sync, replies that waited for a commit past the
 * last good sync are answered with it: what they wait for is committed,
 * visible here, and maybe not on disk, and no later sync will say
 * otherwise.
 */
static void
send_batch(void *arg, int status)
{
	struct sent *b = arg;
	struct ctl *c = b->c;
	int lost = status != 0;

	for (size_t i = 0; i < b->n; i++) {
		struct held *h = &b->held[i];

		if (lost) {
			free(h->msg);
			h->msg = xasprintf("storage error: the disk failed to "
			    "sync; writes since the last sync may be lost at a "
			    "power cut (restart samend)");
			h->code = SAMEN_ESTORE;
			h->has_body = 0;
		}
		send_held(h);
	}
	if (!lost && b->wrote && c->parts.peers != NULL)
		peers_nudge(c->parts.peers);
	free(b);
}

/* The writer rolled the batch back: every reply held so far says so. */
static size_t
aborted(void *arg, int code)
{
	struct ctl *c = arg;

	loader_forget(c->parts.loader);
	for (size_t i = 0; i < c->nheld; i++) {
		struct held *h = &c->held[i];

		free(h->msg);
		h->msg = xasprintf("not stored: %s", samen_strerror(code));
		h->code = code;
		h->has_body = 0;
	}
	return c->nheld;
}

/*
 * Builds the batch's change sets (one per circle written), commits,
 * refreshes the index for what they touched, and hands the held replies to
 * durable_after, which sends them once the disk has the commit.  If a
 * change set cannot be stored or the commit fails, every held reply has
 * become that error (aborted): no client was told anything yet, and
 * nothing of it was kept.  A reply never overtakes one before it, so a
 * client that sees a reply sees only what is on the disk.
 */
static void
flush(struct ctl *c)
{
	struct sent *b;
	int rc, wrote;

	rc = writer_commit(c->parts.writer, &c->ticket);
	wrote = rc == 0 && loader_pending(c->parts.loader) > 0;
	if (rc == 0)
		(void)loader_refresh(c->parts.loader, c->parts.circle);
	loader_forget(c->parts.loader);
	circle_refresh_pending(c->parts.circle);
	if (c->nheld == 0)
		return;
	b = xmalloc(sizeof(*b) + c->nheld * sizeof(b->held[0]));
	b->c = c;
	b->ticket = c->ticket;
	b->wrote = wrote;
	b->n = c->nheld;
	memcpy(b->held, c->held, c->nheld * sizeof(b->held[0]));
	c->nheld = 0;
	durable_after(c->parts.env.durable, b->ticket, send_batch, b);
}

static struct held *
hold(struct ctl *c, struct api_req *req)
{
	struct held *h;

	if (c->nheld == c->capheld) {
		c->capheld = c->capheld ? c->capheld * 2 : 16;
		c->held = xreallocarray(c->held, c->capheld, sizeof(*c->held));
	}
	h = &c->held[c->nheld++];
	memset(h, 0, sizeof(*h));
	h->req = req;
	/* A write's reply is under a hundred bytes; ls grows it. */
	wire_init_size(&h->body, 128);
	return h;
}

/* Dispatch. */

static const struct handler *
handler(uint32_t type)
{
	for (size_t i = 0; i < NHANDLERS; i++)
		if (handlers[i].type == type)
			return &handlers[i];
	return NULL;
}

/* What the flags ask for before the act. */
static int
ready(struct ctl *c, unsigned flags, struct ctl_reply *res)
{
	if ((flags & (CTL_F_KEYS | CTL_F_UNLOCKED)) &&
	    (vault_locked(c->parts.env.vault) ||
	    circle_private(c->parts.circle) == NULL))
		return ctl_fail(res, SAMEN_ELOCKED, "the daemon is locked: run "
		    "'samen unlock'");
	/* Never answer from a partial index. */
	if ((flags & CTL_F_UNLOCKED) && loader_bad(c->parts.loader))
		return ctl_fail(res, SAMEN_ESTORE, "the replica could not be "
		    "read into memory (see samend's log): run 'samen rebuild'");
	return 0;
}

static void
handle_one(struct ctl *c, struct api_req *req)
{
	struct wire_reader r;
	const struct handler *e;
	const uint8_t *data;
	union request q;
	struct ctl_reply res;
	struct held *h;
	char *cause = NULL;
	uint32_t type;
	size_t len;
	int rc, was_open;

	data = api_req_data(req, &len);
	wire_reader_init(&r, data, len);
	if ((rc = request_frame(&r, &type, &cause)) != 0) {
		api_reply(req, rc, cause, NULL, 0);
		free(cause);
		return;
	}
	e = handler(type);
	if (e != NULL && (e->flags & CTL_F_ALONE))
		flush(c);
	h = hold(c, req);
	memset(&res, 0, sizeof(res));
	res.body = &h->body;
	res.req = req;
	if (e == NULL)
		ctl_fail(&res, SAMEN_EPROTO, "unknown request type %u", type);
	else if ((rc = e->decode(&r, &q, &cause)) != 0)
		ctl_fail_cause(&res, rc, cause);
	else if (ready(c, e->flags, &res) == 0) {
		was_open = writer_in_txn(c->parts.writer);
		rc = e->act(&c->parts, &q, &res);
		/* Only writes open the batch's transaction. */
		assert((e->flags & CTL_F_WRITES) || was_open ||
		    !writer_in_txn(c->parts.writer));
		if (res.req == NULL) {
			/* Taken: the act answers it later (unlock). */
			c->nheld--;
			wire_free(&h->body);
			return;
		}
		if (rc == 0 && res.code == 0 && e->render != NULL)
			e->render(res.body, &res.out);
	}
	free(h->msg);	/* an abort of the batch may have set one */
	h->code = res.code;
	h->msg = res.msg;
	h->has_body = res.code == 0;
}

void
ctl_batch(void *arg, struct api_req **reqs, size_t n)
{
	struct ctl *c = arg;

	if (loader_busy(c->parts.loader)) {
		/* Answered once the index is in (serve_deferred). */
		if (c->ndeferred + n > c->capdeferred) {
			c->capdeferred = (c->ndeferred + n) * 2;
			c->deferred = xreallocarray(c->deferred,
			    c->capdeferred, sizeof(*c->deferred));
		}
		memcpy(&c->deferred[c->ndeferred], reqs, n * sizeof(*reqs));
		c->ndeferred += n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		handle_one(c, reqs[i]);
	flush(c);
}

/* The index is in (loader.h): what waited for it is served. */
static void
serve_deferred(void *arg)
{
	struct ctl *c = arg;
	struct api_req **reqs = c->deferred;
	size_t n = c->ndeferred;

	c->deferred = NULL;
	c->ndeferred = c->capdeferred = 0;
	if (n > 0)
		ctl_batch(c, reqs, n);
	free(reqs);
}

/* What happens to a peer's change sets once stored (peer.h). */

static void
hook_merge(void *arg)
{
	loader_merge(((struct ctl *)arg)->parts.loader);
}

static void
hook_stored(void *arg, int committed)
{
	circle_stored(((struct ctl *)arg)->parts.circle, committed);
}

void
ctl_peer_hooks(struct ctl *c, struct peer_hooks *h)
{
	h->arg = c;
	h->merge = hook_merge;
	h->stored = hook_stored;
}

struct circle *
ctl_circle(struct ctl *c)
{
	return c->parts.circle;
}

struct loader *
ctl_loader(struct ctl *c)
{
	return c->parts.loader;
}

void
ctl_set_peers(struct ctl *c, struct peers *p)
{
	c->parts.peers = p;
}

void
ctl_collect(void *arg)
{
	ctl_admin_collect(&((struct ctl *)arg)->parts);
}

/* The circles changed: so may who can connect. */
static void
circles_changed(void *arg)
{
	struct ctl *c = arg;

	if (c->parts.peers != NULL)
		peers_refresh(c->parts.peers);
}

/* Life cycle. */

int
ctl_unlock_now(struct ctl *c, const char *passphrase, size_t len)
{
	return ctl_admin_unlock_now(&c->parts, passphrase, len);
}

int
ctl_busy(const struct ctl *c)
{
	return c->parts.unlocking;
}

struct ctl *
ctl_open(const struct ctl_env *env)
{
	struct ctl *c = xcalloc(1, sizeof(*c));
	struct loader_env le;
	struct writer_env we;
	struct circle_env ce;

	c->parts.env = *env;
	c->parts.started_ms = clock_wall_ms();

	memset(&le, 0, sizeof(le));
	le.loop = env->loop;
	le.store = env->store;
	le.index = env->index;
	le.db_path = env->db_path;
	le.loaded = serve_deferred;
	le.arg = c;
	c->parts.loader = loader_open(&le);

	memset(&we, 0, sizeof(we));
	we.store = env->store;
	we.vault = env->vault;
	we.durable = env->durable;
	we.touched = loader_touched;
	we.touched_arg = c->parts.loader;
	we.aborted = aborted;
	we.arg = c;
	c->parts.writer = writer_open(&we);

	memset(&ce, 0, sizeof(ce));
	ce.store = env->store;
	ce.vault = env->vault;
	ce.writer = c->parts.writer;
	ce.loader = c->parts.loader;
	ce.dir = env->dir;
	ce.changed = circles_changed;
	ce.arg = c;
	c->parts.circle = circle_open(&ce);
	return c;
}

void
ctl_stop(struct ctl *c)
{
	/* The durable was closed first (main.c, stop). */
	c->parts.env.durable = NULL;
	writer_set_durable(c->parts.writer, NULL);
	loader_stop(c->parts.loader);
	for (size_t i = 0; i < c->ndeferred; i++)
		api_reply(c->deferred[i], -ESHUTDOWN, "samend is shutting down",
		    NULL, 0);
	c->ndeferred = 0;
}

void
ctl_close(struct ctl *c)
{
	if (c == NULL)
		return;
	assert(!loader_busy(c->parts.loader));
	circle_close(c->parts.circle);
	writer_close(c->parts.writer);
	loader_close(c->parts.loader);
	free(c->held);
	free(c->deferred);
	free(c);
}
