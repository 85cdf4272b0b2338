/* cmd_peer: samen peer add, ls and rm, and samen sync: the devices this one syncs with. */
#include "cmd_peer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "argcheck.h"
#include "clock.h"
#include "devid.h"
#include "output.h"
#include "output_sync.h"
#include "util.h"

#define SYNC_TIMEOUT_S 60	/* sync --wait without --timeout */
#define SYNC_POLL_MS 200	/* between two peer ls while waiting */

int
cmd_peer_add(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_devid(c->argv[0], dev, &cause)) != 0 ||
	    (c->argc > 1 && (rc = argcheck_addr(c->argv[1], &cause)) != 0))
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_PEER_ADD, 2);
	wire_put_cstr(&w, dev);
	if (c->argc > 1)
		wire_put_cstr(&w, c->argv[1]);
	else
		wire_put_nil(&w);
	return cmd_run(c, &w, output_sync_peer_add);
}

int
cmd_peer_ls(struct cmd_ctx *c)
{
	struct wbuf w;

	cmd_request(&w, CTL_PEER_LS, 0);
	return cmd_run(c, &w, output_sync_peers);
}

int
cmd_peer_rm(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_devid(c->argv[0], dev, &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_PEER_RM, 1);
	wire_put_cstr(&w, dev);
	/* Silent on success, as rm. */
	return cmd_run(c, &w, NULL);
}

static void
nap_ms(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* What sync --wait last reported of one started peer. */
struct sync_watch {
	const char *device;	/* borrows the sync reply */
	int64_t sent;
	int64_t received;
	int64_t bytes;
};

/*
 * Polls peer ls into *ls until every started peer's session of this round
 * is over, printing progress on stderr, or until deadline (clock_mono_ms).
 * Returns 0 with *ls to free, or an exit code after saying why.
 */
static int
sync_wait(struct cmd_ctx *c, struct sync_watch *watch, uint32_t n,
    int64_t round, uint64_t deadline, double timeout, struct reply *ls)
{
	const struct reply_node *peer;
	struct reply_session s;
	struct wbuf w;
	uint64_t now;
	uint32_t i, over;
	int64_t bytes;
	int rc;

	for (;;) {
		reply_free(ls);
		cmd_request(&w, CTL_PEER_LS, 0);
		if ((rc = cmd_call(c, &w, ls)) != 0)
			return rc;
		if (ls->body->type != REPLY_ARRAY) {
			reply_free(ls);
			return cmd_complain(CMD_EXIT_FAIL, "malformed reply "
			    "from samend: peer ls is not a list");
		}
		for (i = over = 0; i < n; i++) {
			/* A peer removed meanwhile has nothing more to do. */
			if ((peer = reply_find(ls->body, "device",
			    watch[i].device)) == NULL) {
				over++;
				continue;
			}
			reply_session(peer, &s);
			if (reply_session_over(&s, round)) {
				over++;
				continue;
			}
			/* An older round's numbers are not this sync's. */
			if (s.round < round)
				continue;
			bytes = s.bytes_sent > INT64_MAX - s.bytes_received ?
			    INT64_MAX : s.bytes_sent + s.bytes_received;
			if (s.sent != watch[i].sent ||
			    s.received != watch[i].received ||
			    bytes != watch[i].bytes) {
				output_sync_progress(stderr, watch[i].device,
				    &s);
				watch[i].sent = s.sent;
				watch[i].received = s.received;
				watch[i].bytes = bytes;
			}
		}
		if (over == n)
			return 0;
		if ((now = clock_mono_ms()) >= deadline) {
			reply_free(ls);
			return cmd_complain(CMD_EXIT_FAIL, "sync timed out after "
			    "%g s", timeout);
		}
		nap_ms(deadline - now < SYNC_POLL_MS ? deadline - now :
		    SYNC_POLL_MS);
	}
}

/* The last line of sync --wait for each peer, or the JSON array. */
static int
sync_report(struct cmd_ctx *c, const struct sync_watch *watch, uint32_t n,
    const struct reply_node *list)
{
	const struct reply_node **items;
	const struct reply_node *peer;
	struct reply_session s;
	uint32_t i, k = 0;
	int failed = 0;

	items = xcalloc(n, sizeof(*items));
	for (i = 0; i < n; i++) {
		if ((peer = reply_find(list, "device", watch[i].device)) ==
		    NULL) {
			failed = 1;
			if (c->json)
				cmd_complain(0, "%s is no longer a peer",
				    watch[i].device);
			else
				output_sync_result(stdout, watch[i].device,
				    NULL);
			continue;
		}
		reply_session(peer, &s);
		/* Held back by the peer: it has them, and shows none yet. */
		if (s.state != REPLY_SESSION_DONE || s.held > 0)
			failed = 1;
		items[k++] = peer;
		if (!c->json)
			output_sync_result(stdout, watch[i].device, &s);
		if (!c->json && s.held > 0)
			output_sync_held_by(stdout, watch[i].device, s.held,
			    s.held_ahead_ms);
	}
	if (c->json)
		output_json_items(stdout, items, k);
	free(items);
	return failed ? CMD_EXIT_FAIL : CMD_EXIT_OK;
}

int
cmd_peer_sync(struct cmd_ctx *c)
{
	const struct reply_node *started;
	struct sync_watch *watch;
	struct reply rp, ls;
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	double timeout = SYNC_TIMEOUT_S;
	uint64_t deadline;
	int64_t round;
	uint32_t i, n;
	int rc;

	if (c->timeout != NULL && !c->wait)
		return cmd_complain(CMD_EXIT_USAGE, "--timeout needs --wait");
	if ((c->timeout != NULL &&
	    (rc = argcheck_timeout(c->timeout, &timeout, &cause)) != 0) ||
	    (c->argc > 0 && (rc = argcheck_devid(c->argv[0], dev,
	    &cause)) != 0))
		return cmd_failed(rc, cause);
	/* The timeout counts from here: starting the sync is part of it. */
	deadline = clock_mono_ms() + (uint64_t)(timeout * 1000);
	cmd_request(&w, CTL_SYNC, 1);
	if (c->argc > 0)
		wire_put_cstr(&w, dev);
	else
		wire_put_nil(&w);
	if ((rc = cmd_call(c, &w, &rp)) != 0)
		return rc;
	if (!c->wait) {
		if (c->json)
			output_json(stdout, rp.body);
		else
			output_sync_started(stdout, rp.body);
		reply_free(&rp);
		return 0;
	}

	started = reply_get(rp.body, "started");
	n = reply_len(started);
	for (i = 0; i < n && started->type == REPLY_ARRAY; i++)
		if (reply_str(&started->v.kids[i]) == NULL)
			break;
	if (reply_get_i64(rp.body, "round", &round) != 0 ||
	    started == NULL || started->type != REPLY_ARRAY || i < n) {
		reply_free(&rp);
		return cmd_complain(CMD_EXIT_FAIL, "malformed reply from "
		    "samend: sync without round or started");
	}
	watch = xcalloc(n, sizeof(*watch));
	for (i = 0; i < n; i++)
		watch[i].device = reply_str(&started->v.kids[i]);
	memset(&ls, 0, sizeof(ls));
	if ((rc = sync_wait(c, watch, n, round, deadline, timeout,
	    &ls)) == 0) {
		rc = sync_report(c, watch, n, ls.body);
		reply_free(&ls);
	}
	free(watch);
	reply_free(&rp);
	return rc;
}
