/* output_sync: the human forms of the state of replication: status, peer add and ls, sync. */
#include "output_sync.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "devid.h"
#include "hlc.h"
#include "output.h"

/* status */

static const struct {
	const char *key;
	const char *label;
	const char *unit;
} status_labels[] = {
	{ "device", "device", "" },
	{ "data_dir", "data dir", "" },
	{ "version", "version", "" },
	{ "protocol", "protocol", "" },
	{ "schema", "schema", "" },
	{ "pid", "pid", "" },
	{ "uptime_s", "uptime", " s" },
	{ "locked", "locked", "" },
	{ "passphrase", "passphrase", "" },
	{ "revoked", "revoked", "" },
	{ "records", "records", "" },
	{ "changesets", "change sets", "" },
	{ "audit_changesets", "audit change sets", "" },
	{ "pending", "pending", "" },
	{ "held", "held (dated ahead)", "" },
	{ "bad", "bad", "" },
	{ "flagged", "flagged", "" },
	{ "purged_dropped", "purged chunks dropped", "" },
	{ "purges_refused", "purges refused", "" },
	{ "replica_digest", "replica digest", "" },
	{ "shared_digest", "shared digest", "" },
	{ "handshake_failed", "handshakes failed", "" },
	{ "dropped", "dropped messages", "" },
	{ "held_by_peers", "held back by peers", "" },
	{ "listen", "listen", "" },
	{ "zap_refused", "zap refusals", "" },
	{ "rejected", "rejected", "" },
	{ "peers", "peers", "" },
};

void
output_sync_status_warning(FILE *err, const struct reply_node *body)
{
	int passphrase, revoked;

	if (reply_get_bool(body, "revoked", &revoked) == 0 && revoked)
		fputs("samen: warning: this device was revoked: its data and "
		    "keys are erased\n", err);
	else if (reply_get_bool(body, "passphrase", &passphrase) == 0 &&
	    !passphrase)
		fputs("samen: warning: this device's keys are stored without "
		    "a passphrase\n", err);
}

/* A number of the body as text for the version line: "?" if absent. */
static const char *
version_field(char buf[24], const struct reply_node *body, const char *key,
    int64_t *v)
{
	if (reply_get_i64(body, key, v) != 0) {
		*v = -1;
		return "?";
	}
	snprintf(buf, 24, "%" PRId64, *v);
	return buf;
}

int
output_sync_status_version(FILE *err, const struct reply_node *body,
    const char *version, int protocol, int schema)
{
	const char *dv = reply_get_str(body, "version");
	char pbuf[24], sbuf[24];
	const char *dp, *ds;
	int64_t p, sc;

	dp = version_field(pbuf, body, "protocol", &p);
	ds = version_field(sbuf, body, "schema", &sc);
	if ((dv == NULL || strcmp(dv, version) == 0) &&
	    (p < 0 || p == protocol) && (sc < 0 || sc == schema))
		return 0;
	/* Most often a package upgrade with the old samend still running. */
	fprintf(err, "samen: warning: this samen is %s (protocol %d, schema "
	    "%d), the running samend ", version, protocol, schema);
	output_str(err, dv != NULL ? dv : "?", 32, 0, 0);
	fprintf(err, " (protocol %s, schema %s); after an upgrade, restart "
	    "samend\n", dp, ds);
	return 1;
}

/*
 * Under "peers: N", one line per peer: when this device last synced with
 * it, and whether the peer's digest then equalled our digest now.
 */
static void
put_status_peers(FILE *fp, const struct reply_node *peers,
    const char *ours)
{
	const struct reply_node *p;
	const char *last, *digest;
	uint32_t i;

	for (i = 0; i < peers->n; i++) {
		p = &peers->v.kids[i];
		last = reply_get_str(p, "last_sync");
		digest = reply_get_str(p, "digest");
		fputs("  ", fp);
		output_col(fp, reply_get_str(p, "device"), DEVID_SHORTLEN);
		if (last == NULL && digest == NULL) {
			fputs("  never synced\n", fp);
			continue;
		}
		fputs("  last sync ", fp);
		output_col(fp, last != NULL ? last : "never", OUTPUT_TIME_COLS);
		if (digest == NULL)
			fputs("  digest unknown\n", fp);
		else if (ours != NULL && strcmp(digest, ours) == 0)
			fputs("  digest = ours\n", fp);
		else
			fputs("  digest differs\n", fp);
	}
}

/* "held back by peers: N (clock 2d 0h ahead of theirs)" or "0". */
static void
put_status_held(FILE *fp, const struct reply_node *v,
    const struct reply_node *body)
{
	int64_t ahead;
	char span[32];

	output_value(fp, v, 0, 0, 0);
	if (v->type == REPLY_UINT && v->v.u > 0 &&
	    reply_get_i64(body, "held_by_peers_ahead_ms", &ahead) == 0) {
		hlc_span(span, ahead > 0 ? (uint64_t)ahead : 0);
		fprintf(fp, " (clock %s ahead of theirs)", span);
	}
	putc('\n', fp);
}

void
output_sync_status(FILE *fp, FILE *err, const struct reply_node *body)
{
	const struct reply_node *v;
	const char *key, *label, *unit;
	size_t width = 0, j;
	uint32_t i, pass;

	if (body == NULL || body->type != REPLY_MAP) {
		output_json(fp, body);
		return;
	}
	/* Two passes: the first finds the width of the labels. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < body->n; i++) {
			key = output_key_at(body, i);
			/* Said with held_by_peers (put_status_held). */
			if (strcmp(key, "held_by_peers_ahead_ms") == 0)
				continue;
			label = key;
			unit = "";
			for (j = 0; j < sizeof(status_labels) /
			    sizeof(status_labels[0]); j++) {
				if (strcmp(key, status_labels[j].key) == 0) {
					label = status_labels[j].label;
					unit = status_labels[j].unit;
					break;
				}
			}
			if (pass == 0) {
				if (strlen(label) > width)
					width = strlen(label);
				continue;
			}
			/* Unknown keys come from a newer daemon: show them. */
			for (j = 0; label[j] != '\0'; j++)
				putc(label[j] == '_' ? ' ' : label[j], fp);
			putc(':', fp);
			output_spaces(fp, width - strlen(label) + 1);
			v = &body->v.kids[2 * i + 1];
			/* Keys of peers and sync; an older daemon omits
			 * them. */
			if (strcmp(key, "listen") == 0 &&
			    v->type == REPLY_NIL) {
				fputs("off\n", fp);
				continue;
			}
			if (strcmp(key, "peers") == 0 &&
			    v->type == REPLY_ARRAY) {
				fprintf(fp, "%" PRIu32 "\n", v->n);
				/* Peers report their shared digest (an
				 * older daemon: the replica digest). */
				put_status_peers(fp, v,
				    reply_get_str(body, "shared_digest") ?
				    reply_get_str(body, "shared_digest") :
				    reply_get_str(body, "replica_digest"));
				continue;
			}
			if (strcmp(key, "held_by_peers") == 0) {
				put_status_held(fp, v, body);
				continue;
			}
			output_value(fp, v, 0, 0, 0);
			fprintf(fp, "%s\n", unit);
		}
	}
	output_sync_status_warning(err, body);
}

/* peer add, peer ls */

void
output_sync_peer_add(FILE *fp, const struct reply_node *body)
{
	const char *device = reply_get_str(body, "device");
	const char *addr = reply_get_str(body, "addr");

	if (device == NULL) {
		output_json(fp, body);
		return;
	}
	fputs("peer ", fp);
	output_str(fp, device, 0, 0, 0);
	fputs(" added (", fp);
	output_str(fp, addr != NULL ? addr : "no address", 0, 0, 0);
	fputs(")\n", fp);
}

#define PEER_ADDR_COLS_MAX 48	/* wider addresses are cut */
#define PEER_STATE_COLS 10	/* "connecting" */
#define PEER_COUNT_COLS 13	/* "SENT/RECV/REJ" */
#define DIGEST_COLS 12		/* hex characters of a digest shown */

static void
put_counts(FILE *fp, const struct reply_node *p)
{
	static const char *keys[] = { "sent", "received", "rejected" };
	char buf[3 * 21 + 3];
	size_t i, off = 0;
	int64_t v;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (reply_get_i64(p, keys[i], &v) != 0)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			    "%s?", i > 0 ? "/" : "");
		else
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			    "%s%" PRId64, i > 0 ? "/" : "", v);
	}
	output_col(fp, buf, PEER_COUNT_COLS);
}

static void put_peers_held(FILE *fp, const struct reply_node *list);

void
output_sync_peers(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *p;
	const char *s;
	size_t width = strlen("ADDR"), cols;
	uint32_t i;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	if (list->n == 0)
		return;
	for (i = 0; i < list->n; i++) {
		s = reply_get_str(&list->v.kids[i], "addr");
		if (s != NULL && (cols = output_cols(s, strlen(s))) > width)
			width = cols;
	}
	if (width > PEER_ADDR_COLS_MAX)
		width = PEER_ADDR_COLS_MAX;
	output_col(fp, "DEVICE", DEVID_SHORTLEN);
	fputs("  ", fp);
	output_col(fp, "ADDR", width);
	fputs("  ", fp);
	output_col(fp, "STATE", PEER_STATE_COLS);
	fputs("  ", fp);
	output_col(fp, "LAST SYNC", OUTPUT_TIME_COLS);
	fputs("  ", fp);
	output_col(fp, "SENT/RECV/REJ", PEER_COUNT_COLS);
	fputs("  DIGEST\n", fp);
	for (i = 0; i < list->n; i++) {
		p = &list->v.kids[i];
		output_col(fp, reply_get_str(p, "device"), DEVID_SHORTLEN);
		fputs("  ", fp);
		s = reply_get_str(p, "addr");
		output_col(fp, s != NULL ? s : "-", width);
		fputs("  ", fp);
		s = reply_get_str(p, "state");
		output_col(fp, s != NULL ? s : "?", PEER_STATE_COLS);
		fputs("  ", fp);
		s = reply_get_str(p, "last_sync");
		output_col(fp, s != NULL ? s : "never", OUTPUT_TIME_COLS);
		fputs("  ", fp);
		put_counts(fp, p);
		fputs("  ", fp);
		s = reply_get_str(p, "digest");
		output_str(fp, s != NULL ? s : "-", DIGEST_COLS, OUTPUT_CUT, 0);
		putc('\n', fp);
	}
	put_peers_held(fp, list);
}

/* sync */

void
output_sync_started(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *started = reply_get(body, "started");

	if (started == NULL || started->type != REPLY_ARRAY) {
		output_json(fp, body);
		return;
	}
	fprintf(fp, "sync started with %" PRIu32 " peer(s)\n", started->n);
}

/* 812 B, 1.2 KiB, 3.4 MiB, 5.6 GiB. */
static void
put_bytes(FILE *fp, int64_t n)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB" };
	double d = (double)n;
	size_t u = 0;

	if (n < 1024) {
		fprintf(fp, "%" PRId64 " B", n);
		return;
	}
	d /= 1024;
	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	fprintf(fp, "%.1f %s", d, units[u]);
}

void
output_sync_progress(FILE *fp, const char *device,
    const struct reply_session *s)
{
	fputs("sync: ", fp);
	output_short(fp, device);
	fprintf(fp, " %" PRId64 " sent, %" PRId64 " received, ", s->sent,
	    s->received);
	/* Both counts come from the daemon: keep their sum from wrapping. */
	put_bytes(fp, s->bytes_sent > INT64_MAX - s->bytes_received ?
	    INT64_MAX : s->bytes_sent + s->bytes_received);
	putc('\n', fp);
}

void
output_sync_result(FILE *fp, const char *device,
    const struct reply_session *s)
{
	output_short(fp, device);
	if (s == NULL) {
		fputs(" failed: no longer a peer\n", fp);
		return;
	}
	switch (s->state) {
	case REPLY_SESSION_DONE:
		/* "In sync" only when nothing had to travel, so that a
		 * session that did exchange change sets shows how many. */
		if (s->in_sync && s->sent == 0 && s->received == 0 &&
		    s->rejected == 0) {
			fputs(" in sync\n", fp);
			return;
		}
		fprintf(fp, " done: %" PRId64 " sent, %" PRId64 " received",
		    s->sent, s->received);
		if (s->rejected > 0)
			fprintf(fp, ", %" PRId64 " rejected", s->rejected);
		putc('\n', fp);
		return;
	case REPLY_SESSION_FAILED:
		fputs(" failed: ", fp);
		output_str(fp, s->error != NULL ? s->error : "no reason given",
		    0, 0, 0);
		putc('\n', fp);
		return;
	default:
		/* A state of a newer daemon, or none: say what was sent. */
		fputs(" ended: ", fp);
		output_str(fp, s->state_name[0] != '\0' ? s->state_name :
		    "unknown state", 0, 0, 0);
		putc('\n', fp);
		return;
	}
}

/*
 * What a peer holds back of ours (docs/sync.md, "A clock ahead"):
 * "held back by PEER: N change set(s), clock 2d 0h ahead of the peer".
 */
void
output_sync_held_by(FILE *fp, const char *device, int64_t n,
    int64_t ahead_ms)
{
	char span[32];

	hlc_span(span, ahead_ms > 0 ? (uint64_t)ahead_ms : 0);
	fputs("held back by ", fp);
	output_short(fp, device);
	fprintf(fp, ": %" PRId64 " change set%s, clock %s ahead of the peer\n",
	    n, n == 1 ? "" : "s", span);
}

/* Under peer ls's table: what each peer holds back of ours, and we of its. */
static void
put_peers_held(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *p, *by;
	int64_t n, ahead;
	uint32_t i;

	for (i = 0; i < list->n; i++) {
		p = &list->v.kids[i];
		by = reply_get(p, "held_by_peer");
		if (by != NULL && by->type == REPLY_MAP &&
		    reply_get_i64(by, "count", &n) == 0 && n > 0) {
			if (reply_get_i64(by, "ahead_ms", &ahead) != 0)
				ahead = 0;
			output_sync_held_by(fp, reply_get_str(p, "device"), n,
			    ahead);
		}
		if (reply_get_i64(p, "held_from_peer", &n) == 0 && n > 0) {
			fprintf(fp, "holding back %" PRId64 " change set%s "
			    "from ", n, n == 1 ? "" : "s");
			output_short(fp, reply_get_str(p, "device"));
			fputs(": dated too far ahead of our clock\n", fp);
		}
	}
}
