/* output: every format samen prints: JSON of a reply body, and the human forms. */
#include "output.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "devid.h"
#include "hlc.h"
#include "reply.h"

#define TIME_COLS 24		/* 2026-11-24T23:50:01.123Z */
#define RID_COLS 26
#define KEY_COLS_MAX 24		/* wider field names push their value out */
#define VALUE_COLS 60		/* one value on a one-line form */
#define SUMMARY_COLS 80		/* the field summary of ls */
#define SUMMARY_VALUE_COLS 24

/* Flags of put_text(). */
#define TEXT_BLOCK 0x1		/* keep newlines, continue at the indent */
#define TEXT_CUT 0x2		/* cut at max without the "..." mark */

/*
 * Decodes one UTF-8 sequence at s.  Returns its length (1-4) and *cp, or 0
 * for an invalid, overlong or surrogate sequence.
 */
static size_t
utf8_next(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i;
	uint32_t c;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		c = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
	    (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static int
is_control(uint32_t cp)
{
	/* C0, DEL and C1: C1 holds CSI (0x9b), which some terminals obey. */
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* JSON. */

void
output_json_str(FILE *fp, const char *s, size_t len)
{
	size_t i = 0, k;
	uint32_t cp;

	putc('"', fp);
	while (i < len) {
		k = utf8_next(s + i, len - i, &cp);
		if (k == 0) {
			/* The reader refuses bad UTF-8; this is a guard only. */
			fputs("\\ufffd", fp);
			i++;
			continue;
		}
		switch (cp) {
		case '"': fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\b': fputs("\\b", fp); break;
		case '\f': fputs("\\f", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		default:
			if (is_control(cp))
				fprintf(fp, "\\u%04" PRIx32, cp);
			else
				fwrite(s + i, 1, k, fp);
		}
		i += k;
	}
	putc('"', fp);
}

static void
json_value(FILE *fp, const struct reply_node *n)
{
	uint32_t i;

	if (n == NULL) {
		fputs("null", fp);
		return;
	}
	switch (n->type) {
	case REPLY_NIL:
		fputs("null", fp);
		break;
	case REPLY_BOOL:
		fputs(n->v.b ? "true" : "false", fp);
		break;
	case REPLY_INT:
		fprintf(fp, "%" PRId64, n->v.i);
		break;
	case REPLY_UINT:
		fprintf(fp, "%" PRIu64, n->v.u);
		break;
	case REPLY_STR:
		output_json_str(fp, n->v.str.s, n->v.str.len);
		break;
	case REPLY_ARRAY:
		putc('[', fp);
		for (i = 0; i < n->n; i++) {
			if (i > 0)
				fputs(", ", fp);
			json_value(fp, &n->v.kids[i]);
		}
		putc(']', fp);
		break;
	case REPLY_MAP:
		putc('{', fp);
		for (i = 0; i < n->n; i++) {
			if (i > 0)
				fputs(", ", fp);
			/* The parser admits only string keys. */
			json_value(fp, &n->v.kids[2 * i]);
			fputs(": ", fp);
			json_value(fp, &n->v.kids[2 * i + 1]);
		}
		putc('}', fp);
		break;
	}
}

void
output_json_value(FILE *fp, const struct reply_node *n)
{
	json_value(fp, n);
}

void
output_json(FILE *fp, const struct reply_node *n)
{
	json_value(fp, n);
	putc('\n', fp);
}

/* Text for a terminal. */

static void
spaces(FILE *fp, size_t n)
{
	while (n-- > 0)
		putc(' ', fp);
}

/* Code points in s, counting each invalid byte as one. */
static size_t
text_cols(const char *s, size_t len)
{
	size_t i = 0, k, cols = 0;
	uint32_t cp;

	while (i < len) {
		k = utf8_next(s + i, len - i, &cp);
		i += k ? k : 1;
		cols++;
	}
	return cols;
}

/*
 * Prints s for a terminal and returns the columns used on its last line.
 * Values come from other people's devices, so control characters never reach
 * the terminal: on one line, tab and newlines become a space; in a block,
 * newlines continue at indent; anything else shows as '?'.  max (0 for no
 * limit) cuts the text, with "..." unless TEXT_CUT.  Columns are code points:
 * close enough for alignment without a locale.
 */
static size_t
put_text(FILE *fp, const char *s, size_t len, size_t max, int flags,
    size_t indent)
{
	size_t i = 0, k, cols = 0, limit = 0;
	uint32_t cp;

	if (max > 0 && text_cols(s, len) > max)
		limit = (flags & TEXT_CUT) || max <= 3 ? max : max - 3;
	while (i < len) {
		if (limit > 0 && cols >= limit) {
			if (!(flags & TEXT_CUT) && max > 3) {
				fputs("...", fp);
				cols += 3;
			}
			break;
		}
		k = utf8_next(s + i, len - i, &cp);
		if (k == 0) {
			putc('?', fp);
			i++;
			cols++;
			continue;
		}
		if ((flags & TEXT_BLOCK) && cp == '\n') {
			putc('\n', fp);
			spaces(fp, indent);
			cols = 0;
		} else if ((flags & TEXT_BLOCK) && cp == '\r') {
			/* Dropped: CR LF is one line break. */
		} else if (cp == '\t' || cp == '\n' || cp == '\r') {
			putc(' ', fp);
			cols++;
		} else if (is_control(cp)) {
			putc('?', fp);
			cols++;
		} else {
			fwrite(s + i, 1, k, fp);
			cols++;
		}
		i += k;
	}
	return cols;
}

static size_t
put_str(FILE *fp, const char *s, size_t max, int flags, size_t indent)
{
	return put_text(fp, s, strlen(s), max, flags, indent);
}

/* A string padded (or cut) to exactly width columns. */
static void
put_col(FILE *fp, const char *s, size_t width)
{
	size_t cols = 0;

	if (s != NULL)
		cols = put_str(fp, s, width, TEXT_CUT, 0);
	if (cols < width)
		spaces(fp, width - cols);
}

/*
 * A scalar as a person reads it; an array (a set field) as its elements
 * joined with ", ".  max applies to each string.
 */
static size_t
put_value(FILE *fp, const struct reply_node *n, size_t max, int flags,
    size_t indent)
{
	size_t cols = 0;
	uint32_t i;

	if (n == NULL)
		return 0;
	switch (n->type) {
	case REPLY_NIL:
		fputs("-", fp);
		return 1;
	case REPLY_BOOL:
		fputs(n->v.b ? "yes" : "no", fp);
		return n->v.b ? 3 : 2;
	case REPLY_INT:
		return (size_t)fprintf(fp, "%" PRId64, n->v.i);
	case REPLY_UINT:
		return (size_t)fprintf(fp, "%" PRIu64, n->v.u);
	case REPLY_STR:
		return put_text(fp, n->v.str.s, n->v.str.len, max, flags,
		    indent);
	case REPLY_ARRAY:
		for (i = 0; i < n->n; i++) {
			if (i > 0) {
				fputs(", ", fp);
				cols += 2;
			}
			cols += put_value(fp, &n->v.kids[i], max, flags,
			    indent);
		}
		return cols;
	case REPLY_MAP:
		json_value(fp, n);
		return 0;
	}
	return cols;
}

static const char *
key_at(const struct reply_node *map, uint32_t i)
{
	return reply_str(&map->v.kids[2 * i]);
}

/* Small shared pieces. */

void
output_device(FILE *fp, const char *devid, int json)
{
	if (json) {
		fputs("{\"device\": ", fp);
		output_json_str(fp, devid, strlen(devid));
		fputs("}\n", fp);
	} else
		fprintf(fp, "%s\n", devid);
}

void
output_field(FILE *fp, const struct reply_node *body, const char *key)
{
	const char *s = reply_get_str(body, key);

	if (s == NULL) {
		output_json(fp, body);
		return;
	}
	put_str(fp, s, 0, 0, 0);
	putc('\n', fp);
}

void
output_unlock(FILE *fp, const struct reply_node *body, const char *message)
{
	int unlocked;

	if (reply_get_bool(body, "unlocked", &unlocked) != 0 || !unlocked)
		output_json(fp, body);
	else if (message != NULL && *message != '\0') {
		put_str(fp, message, 0, 0, 0);
		putc('\n', fp);
	} else
		fputs("unlocked\n", fp);
}

void
output_lock(FILE *fp, const struct reply_node *body, const char *message)
{
	int locked;

	if (reply_get_bool(body, "locked", &locked) != 0 || !locked)
		output_json(fp, body);
	else if (message != NULL && *message != '\0') {
		put_str(fp, message, 0, 0, 0);
		putc('\n', fp);
	} else
		fputs("locked\n", fp);
}

/* handover */

static void put_short(FILE *fp, const char *device);
static void put_peers_held(FILE *fp, const struct reply_node *list);

void
output_handover(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *moved = reply_get(body, "moved");
	const struct reply_node *left = reply_get(body, "conflicts");
	const char *from = reply_get_str(body, "from");
	const char *to = reply_get_str(body, "to");
	uint32_t n, i;

	if (moved == NULL || moved->type != REPLY_ARRAY || left == NULL ||
	    left->type != REPLY_ARRAY || from == NULL || to == NULL) {
		output_json(fp, body);
		return;
	}
	n = reply_len(moved);
	fprintf(fp, "%u case%s moved from ", n, n == 1 ? "" : "s");
	put_short(fp, from);
	fputs(" to ", fp);
	put_short(fp, to);
	putc('\n', fp);
	if ((n = reply_len(left)) == 0)
		return;
	fprintf(fp, "%u case%s left as %s (lead or existence in conflict: "
	    "samen conflicts):\n", n, n == 1 ? "" : "s",
	    n == 1 ? "it is" : "they are");
	for (i = 0; i < n; i++) {
		const char *id = reply_str(reply_at(left, i));

		fputs("  ", fp);
		put_str(fp, id != NULL ? id : "?", 0, 0, 0);
		putc('\n', fp);
	}
}

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
output_status_warning(FILE *err, const struct reply_node *body)
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
output_status_version(FILE *err, const struct reply_node *body,
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
	put_str(err, dv != NULL ? dv : "?", 32, 0, 0);
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
		put_col(fp, reply_get_str(p, "device"), DEVID_SHORTLEN);
		if (last == NULL && digest == NULL) {
			fputs("  never synced\n", fp);
			continue;
		}
		fputs("  last sync ", fp);
		put_col(fp, last != NULL ? last : "never", TIME_COLS);
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

	put_value(fp, v, 0, 0, 0);
	if (v->type == REPLY_UINT && v->v.u > 0 &&
	    reply_get_i64(body, "held_by_peers_ahead_ms", &ahead) == 0) {
		hlc_span(span, ahead > 0 ? (uint64_t)ahead : 0);
		fprintf(fp, " (clock %s ahead of theirs)", span);
	}
	putc('\n', fp);
}

void
output_status(FILE *fp, FILE *err, const struct reply_node *body)
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
			key = key_at(body, i);
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
			spaces(fp, width - strlen(label) + 1);
			v = &body->v.kids[2 * i + 1];
			/* Keys of peers and sync; an older daemon omits them. */
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
			put_value(fp, v, 0, 0, 0);
			fprintf(fp, "%s\n", unit);
		}
	}
	output_status_warning(err, body);
}

/* Conflicts, shared by get and conflicts. */

static const struct reply_node *
conflict_for(const struct reply_node *conflicts, const char *field)
{
	const struct reply_node *c, *f;
	uint32_t i;

	for (i = 0; i < reply_len(conflicts); i++) {
		c = reply_at(conflicts, i);
		f = reply_get(c, "field");
		if (field == NULL ? f != NULL && f->type == REPLY_NIL :
		    reply_str(f) != NULL && strcmp(reply_str(f), field) == 0)
			return c;
	}
	return NULL;
}

/*
 * One line per surviving value: time, device, value; "*" marks the value
 * shown (the daemon lists it first).
 */
static void
put_conflict_values(FILE *fp, const struct reply_node *values, size_t indent)
{
	const struct reply_node *v, *val;
	size_t col;
	uint32_t i;
	int deleted;

	col = indent + 2 + TIME_COLS + 2 + DEVID_SHORTLEN + 2;
	for (i = 0; i < reply_len(values); i++) {
		v = reply_at(values, i);
		spaces(fp, indent);
		fputs(i == 0 ? "* " : "  ", fp);
		put_col(fp, reply_get_str(v, "time"), TIME_COLS);
		fputs("  ", fp);
		put_col(fp, reply_get_str(v, "author"), DEVID_SHORTLEN);
		fputs("  ", fp);
		if ((val = reply_get(v, "value")) != NULL)
			put_value(fp, val, 0, TEXT_BLOCK, col);
		else if (reply_get_bool(v, "deleted", &deleted) == 0)
			fputs(deleted ? "deleted" : "exists", fp);
		else
			json_value(fp, v);
		putc('\n', fp);
	}
}

static void
put_conflict_title(FILE *fp, const struct reply_node *c)
{
	const char *field = reply_get_str(c, "field");

	if (field != NULL)
		put_str(fp, field, 0, 0, 0);
	else
		fputs("(existence: deleted and edited)", fp);
}

/* get */

static void
put_label(FILE *fp, const char *label, size_t width)
{
	size_t cols;

	cols = put_str(fp, label, 0, 0, 0);
	spaces(fp, cols < width ? width - cols + 2 : 2);
}

static void
put_marker(FILE *fp, const struct reply_node *c)
{
	if (c != NULL)
		fprintf(fp, "  [CONFLICT: %" PRIu32 " values, see below]",
		    reply_len(reply_get(c, "values")));
}

static size_t
widest_key(const struct reply_node *map, size_t width)
{
	const char *k;
	uint32_t i;

	for (i = 0; i < reply_len(map); i++) {
		if (map->type != REPLY_MAP)
			break;
		k = key_at(map, i);
		if (strlen(k) > width && strlen(k) <= KEY_COLS_MAX)
			width = strlen(k);
	}
	return width;
}

static void
put_notes(FILE *fp, const struct reply_node *notes)
{
	const struct reply_node *note, *text;
	const char *when;
	uint32_t i;

	fputs("\nnotes:\n", fp);
	for (i = 0; i < reply_len(notes); i++) {
		note = reply_at(notes, i);
		if ((when = reply_get_str(note, "created")) == NULL)
			when = reply_get_str(note, "updated");
		text = reply_get(reply_get(note, "fields"), "text");
		fputs("  ", fp);
		put_col(fp, when, TIME_COLS);
		fputs("  ", fp);
		put_value(fp, text, 0, TEXT_BLOCK, 2 + TIME_COLS + 2);
		putc('\n', fp);
	}
}

void
output_record(FILE *fp, const struct reply_node *rec)
{
	static const char *head[] = { "collection", "id", "created",
	    "updated", "circle" };
	const struct reply_node *fields, *sets, *conflicts, *notes, *c, *vals;
	const char *s;
	size_t width = strlen("collection"), i;
	uint32_t j;
	int deleted = 0;

	if (rec == NULL || rec->type != REPLY_MAP) {
		output_json(fp, rec);
		return;
	}
	fields = reply_get(rec, "fields");
	sets = reply_get(rec, "sets");
	conflicts = reply_get(rec, "conflicts");
	notes = reply_get(rec, "notes");
	width = widest_key(fields, width);
	width = widest_key(sets, width);

	for (i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
		if ((s = reply_get_str(rec, head[i])) == NULL)
			continue;
		put_label(fp, head[i], width);
		put_str(fp, s, 0, 0, 0);
		putc('\n', fp);
	}
	reply_get_bool(rec, "deleted", &deleted);
	c = conflict_for(conflicts, NULL);
	if (deleted || c != NULL) {
		put_label(fp, "deleted", width);
		fputs(deleted ? "yes" : "no", fp);
		put_marker(fp, c);
		putc('\n', fp);
	}
	for (j = 0; j < reply_len(fields) && fields->type == REPLY_MAP; j++) {
		s = key_at(fields, j);
		put_label(fp, s, width);
		put_value(fp, &fields->v.kids[2 * j + 1], 0, TEXT_BLOCK,
		    width + 2);
		put_marker(fp, conflict_for(conflicts, s));
		putc('\n', fp);
	}
	for (j = 0; j < reply_len(sets) && sets->type == REPLY_MAP; j++) {
		s = key_at(sets, j);
		put_label(fp, s, width);
		put_value(fp, &sets->v.kids[2 * j + 1], 0, TEXT_BLOCK,
		    width + 2);
		putc('\n', fp);
	}
	for (j = 0; j < reply_len(conflicts); j++) {
		c = reply_at(conflicts, j);
		vals = reply_get(c, "values");
		fputs("\nconflict on ", fp);
		put_conflict_title(fp, c);
		fputs(" (* is shown; samen put resolves it):\n", fp);
		put_conflict_values(fp, vals, 2);
	}
	if (reply_len(notes) > 0)
		put_notes(fp, notes);
}

/* ls, find */

/* "field=value  field=a, b ..." within SUMMARY_COLS. */
static void
put_summary(FILE *fp, const struct reply_node *rec)
{
	const struct reply_node *maps[2];
	const struct reply_node *m;
	size_t cols = 0, k;
	uint32_t i;

	maps[0] = reply_get(rec, "fields");
	maps[1] = reply_get(rec, "sets");
	for (k = 0; k < 2; k++) {
		m = maps[k];
		if (m == NULL || m->type != REPLY_MAP)
			continue;
		for (i = 0; i < m->n; i++) {
			if (cols >= SUMMARY_COLS) {
				fputs("  ...", fp);
				return;
			}
			if (cols > 0) {
				fputs("  ", fp);
				cols += 2;
			}
			cols += put_str(fp, key_at(m, i), 0, 0, 0);
			putc('=', fp);
			cols++;
			cols += put_value(fp, &m->v.kids[2 * i + 1],
			    SUMMARY_VALUE_COLS, 0, 0);
		}
	}
}

static void
put_rec_start(FILE *fp, const struct reply_node *rec, const char *when)
{
	put_col(fp, reply_get_str(rec, "id"), RID_COLS);
	fputs("  ", fp);
	if (when != NULL) {
		put_col(fp, reply_get_str(rec, when), TIME_COLS);
		fputs("  ", fp);
	}
}

void
output_list(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *rec;
	uint32_t i;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		rec = &list->v.kids[i];
		put_rec_start(fp, rec, "updated");
		put_summary(fp, rec);
		if (reply_len(reply_get(rec, "conflicts")) > 0)
			fputs("  [CONFLICT]", fp);
		putc('\n', fp);
	}
}

void
output_find(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *rec, *matched, *val;
	const char *coll, *field;
	uint32_t i, j;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		rec = &list->v.kids[i];
		coll = reply_get_str(rec, "collection");
		matched = reply_get(rec, "matched");
		if (reply_len(matched) == 0) {
			put_str(fp, coll != NULL ? coll : "?", 0, 0, 0);
			fputs("  ", fp);
			put_rec_start(fp, rec, NULL);
			put_summary(fp, rec);
			putc('\n', fp);
			continue;
		}
		for (j = 0; j < reply_len(matched); j++) {
			if ((field = reply_str(reply_at(matched, j))) == NULL)
				continue;
			if ((val = reply_get(reply_get(rec, "fields"),
			    field)) == NULL)
				val = reply_get(reply_get(rec, "sets"), field);
			put_str(fp, coll != NULL ? coll : "?", 0, 0, 0);
			fputs("  ", fp);
			put_rec_start(fp, rec, NULL);
			put_str(fp, field, 0, 0, 0);
			fputs(": ", fp);
			put_value(fp, val, VALUE_COLS, 0, 0);
			putc('\n', fp);
		}
	}
}

/* log */

void
output_log(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *e, *val;
	const char *author, *prev_author = NULL, *op, *field;
	int64_t seq, prev_seq = -1, replaced;
	int has_seq;
	uint32_t i;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		e = &list->v.kids[i];
		author = reply_get_str(e, "author");
		has_seq = reply_get_i64(e, "seq", &seq) == 0;
		/* Entries of one change set follow each other: show it once. */
		if (has_seq && author != NULL && prev_author != NULL &&
		    seq == prev_seq && strcmp(author, prev_author) == 0)
			spaces(fp, TIME_COLS + 2 + DEVID_SHORTLEN + 2);
		else {
			put_col(fp, reply_get_str(e, "time"), TIME_COLS);
			fputs("  ", fp);
			put_col(fp, author, DEVID_SHORTLEN);
			fputs("  ", fp);
		}
		prev_author = author;
		prev_seq = has_seq ? seq : -1;

		op = reply_get_str(e, "op");
		if ((field = reply_get_str(e, "field")) == NULL) {
			put_str(fp, op != NULL ? op : "?", 0, 0, 0);
			/* A purge's reason. */
			val = reply_get(e, "value");
			if (val != NULL && val->type != REPLY_NIL) {
				fputs("  ", fp);
				put_value(fp, val, VALUE_COLS, 0, 0);
			}
		} else {
			put_col(fp, op != NULL ? op : "?", 7);
			fputs("  ", fp);
			put_str(fp, field, 0, 0, 0);
			val = reply_get(e, "value");
			if (val != NULL && val->type != REPLY_NIL) {
				fputs(" = ", fp);
				put_value(fp, val, VALUE_COLS, 0, 0);
			}
		}
		/* More than one replaced value: this write ended a conflict. */
		if (reply_get_i64(e, "replaced", &replaced) == 0 &&
		    replaced > 1)
			fprintf(fp, "  (replaced %" PRId64 ")", replaced);
		putc('\n', fp);
	}
}

/* conflicts */

void
output_conflicts(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *c;
	uint32_t i;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		c = &list->v.kids[i];
		put_str(fp, reply_get_str(c, "collection") != NULL ?
		    reply_get_str(c, "collection") : "?", 0, 0, 0);
		putc(' ', fp);
		put_str(fp, reply_get_str(c, "id") != NULL ?
		    reply_get_str(c, "id") : "?", 0, 0, 0);
		fputs("  ", fp);
		put_conflict_title(fp, c);
		putc('\n', fp);
		put_conflict_values(fp, reply_get(c, "values"), 2);
	}
}

/* Peers and sync. */

void
output_json_items(FILE *fp, const struct reply_node *const *items, size_t n)
{
	size_t i;

	putc('[', fp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", fp);
		json_value(fp, items[i]);
	}
	fputs("]\n", fp);
}

/* The first DEVID_SHORTLEN characters of a device id, "?" for none. */
static void
put_short(FILE *fp, const char *device)
{
	put_str(fp, device != NULL ? device : "?", DEVID_SHORTLEN, TEXT_CUT, 0);
}

void
output_peer_add(FILE *fp, const struct reply_node *body)
{
	const char *device = reply_get_str(body, "device");
	const char *addr = reply_get_str(body, "addr");

	if (device == NULL) {
		output_json(fp, body);
		return;
	}
	fputs("peer ", fp);
	put_str(fp, device, 0, 0, 0);
	fputs(" added (", fp);
	put_str(fp, addr != NULL ? addr : "no address", 0, 0, 0);
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
	put_col(fp, buf, PEER_COUNT_COLS);
}

void
output_peers(FILE *fp, const struct reply_node *list)
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
		if (s != NULL && (cols = text_cols(s, strlen(s))) > width)
			width = cols;
	}
	if (width > PEER_ADDR_COLS_MAX)
		width = PEER_ADDR_COLS_MAX;
	put_col(fp, "DEVICE", DEVID_SHORTLEN);
	fputs("  ", fp);
	put_col(fp, "ADDR", width);
	fputs("  ", fp);
	put_col(fp, "STATE", PEER_STATE_COLS);
	fputs("  ", fp);
	put_col(fp, "LAST SYNC", TIME_COLS);
	fputs("  ", fp);
	put_col(fp, "SENT/RECV/REJ", PEER_COUNT_COLS);
	fputs("  DIGEST\n", fp);
	for (i = 0; i < list->n; i++) {
		p = &list->v.kids[i];
		put_col(fp, reply_get_str(p, "device"), DEVID_SHORTLEN);
		fputs("  ", fp);
		s = reply_get_str(p, "addr");
		put_col(fp, s != NULL ? s : "-", width);
		fputs("  ", fp);
		s = reply_get_str(p, "state");
		put_col(fp, s != NULL ? s : "?", PEER_STATE_COLS);
		fputs("  ", fp);
		s = reply_get_str(p, "last_sync");
		put_col(fp, s != NULL ? s : "never", TIME_COLS);
		fputs("  ", fp);
		put_counts(fp, p);
		fputs("  ", fp);
		s = reply_get_str(p, "digest");
		put_str(fp, s != NULL ? s : "-", DIGEST_COLS, TEXT_CUT, 0);
		putc('\n', fp);
	}
	put_peers_held(fp, list);
}

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
	put_short(fp, device);
	fprintf(fp, " %" PRId64 " sent, %" PRId64 " received, ", s->sent,
	    s->received);
	/* Both counts come from the daemon: keep their sum from wrapping. */
	put_bytes(fp, s->bytes_sent > INT64_MAX - s->bytes_received ?
	    INT64_MAX : s->bytes_sent + s->bytes_received);
	putc('\n', fp);
}

/*
 * What a peer holds back of ours (docs/sync.md, "A clock ahead"):
 * "held back by PEER: N change set(s), clock 2d 0h ahead of the peer".
 */
void
output_held_by(FILE *fp, const char *device, int64_t n, int64_t ahead_ms)
{
	char span[32];

	hlc_span(span, ahead_ms > 0 ? (uint64_t)ahead_ms : 0);
	fputs("held back by ", fp);
	put_short(fp, device);
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
			output_held_by(fp, reply_get_str(p, "device"), n,
			    ahead);
		}
		if (reply_get_i64(p, "held_from_peer", &n) == 0 && n > 0) {
			fprintf(fp, "holding back %" PRId64 " change set%s "
			    "from ", n, n == 1 ? "" : "s");
			put_short(fp, reply_get_str(p, "device"));
			fputs(": dated too far ahead of our clock\n", fp);
		}
	}
}

void
output_sync_result(FILE *fp, const char *device,
    const struct reply_session *s)
{
	put_short(fp, device);
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
		put_str(fp, s->error != NULL ? s->error : "no reason given",
		    0, 0, 0);
		putc('\n', fp);
		return;
	default:
		/* A state of a newer daemon, or none: say what was sent. */
		fputs(" ended: ", fp);
		put_str(fp, s->state_name[0] != '\0' ? s->state_name :
		    "unknown state", 0, 0, 0);
		putc('\n', fp);
		return;
	}
}

/* Circles. */

void
output_circle_new(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");

	if (name == NULL) {
		output_json(fp, body);
		return;
	}
	fputs("circle ", fp);
	put_str(fp, name, 0, 0, 0);
	fputs(" created\n", fp);
}

void
output_circle_add(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");
	const char *device = reply_get_str(body, "device");
	const char *role = reply_get_str(body, "role");

	if (name == NULL || device == NULL) {
		output_json(fp, body);
		return;
	}
	put_str(fp, device, 0, 0, 0);
	fputs(" added to circle ", fp);
	put_str(fp, name, 0, 0, 0);
	if (role != NULL) {
		fputs(" as ", fp);
		put_str(fp, role, 0, 0, 0);
	}
	putc('\n', fp);
}

void
output_circle_use(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");

	if (name == NULL) {
		output_json(fp, body);
		return;
	}
	fputs("new records go to circle ", fp);
	put_str(fp, name, 0, 0, 0);
	putc('\n', fp);
}

void
output_circle_role(FILE *fp, const struct reply_node *body)
{
	const char *name = reply_get_str(body, "name");
	const char *device = reply_get_str(body, "device");
	const char *role = reply_get_str(body, "role");

	if (name == NULL || device == NULL || role == NULL) {
		output_json(fp, body);
		return;
	}
	put_str(fp, device, 0, 0, 0);
	fputs(" is now ", fp);
	put_str(fp, role, 0, 0, 0);
	fputs(" of circle ", fp);
	put_str(fp, name, 0, 0, 0);
	putc('\n', fp);
}

void
output_circle_rm(FILE *fp, const struct reply_node *body)
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
	put_str(fp, device, 0, 0, 0);
	fputs(" removed from circle ", fp);
	put_str(fp, name, 0, 0, 0);
	fprintf(fp, ": new epoch %08" PRIx32 ", what it writes after seq %"
	    PRId64 " is held back\n", (uint32_t)epoch, cut);
}

void
output_circle_accept(FILE *fp, const struct reply_node *body)
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
	put_str(fp, device, 0, 0, 0);
	fputs(" wrote in circle ", fp);
	put_str(fp, name, 0, 0, 0);
	fprintf(fp, " up to seq %" PRId64 "\n", cut);
}

void
output_quarantine(FILE *fp, const struct reply_node *list)
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
		put_short(fp, reply_get_str(h, "author"));
		if (reply_get_i64(h, "seq", &seq) == 0)
			fprintf(fp, "  seq %" PRId64, seq);
		if ((s = reply_get_str(h, "time")) != NULL) {
			fputs("  ", fp);
			put_str(fp, s, 0, 0, 0);
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
			put_str(fp, (s = reply_get_str(r, "collection")) ? s :
			    "?", 0, 0, 0);
			putc(' ', fp);
			put_str(fp, (s = reply_get_str(r, "id")) ? s : "?", 0,
			    0, 0);
		}
		putc('\n', fp);
	}
}

void
output_revoke(FILE *fp, const struct reply_node *body)
{
	const char *device = reply_get_str(body, "device");
	int64_t n;

	if (device == NULL || reply_get_i64(body, "circles", &n) != 0) {
		output_json(fp, body);
		return;
	}
	put_str(fp, device, 0, 0, 0);
	fprintf(fp, " revoked in %" PRId64 " circle%s\n", n, n == 1 ? "" :
	    "s");
}

#define ROLE_COLS 6		/* "member" */
#define STATE_COLS 7		/* "current" */

void
output_circles(FILE *fp, const struct reply_node *list)
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
		put_str(fp, s != NULL ? s : "?", 0, 0, 0);
		if ((s = reply_get_str(c, "kind")) != NULL) {
			fputs("  ", fp);
			put_str(fp, s, 0, 0, 0);
		}
		if (reply_get_i64(c, "epoch", &n) == 0) {
			/* Derived ids: hex reads better than a number. */
			fprintf(fp, "  epoch %08" PRIx32, (uint32_t)n);
			if (reply_get_i64(c, "epochs", &n) == 0 && n > 1)
				fprintf(fp, " (of %" PRId64 ")", n);
		}
		if ((s = reply_get_str(c, "role")) != NULL) {
			fputs("  ", fp);
			put_str(fp, s, 0, 0, 0);
		}
		if ((s = reply_get_str(c, "state")) != NULL &&
		    strcmp(s, "current") != 0) {
			fputs(" (", fp);
			put_str(fp, s, 0, 0, 0);
			putc(')', fp);
		}
		if (reply_get_bool(c, "default", &def) == 0 && def)
			fputs("  (default)", fp);
		if (reply_get_i64(c, "quarantined", &n) == 0 && n > 0)
			fprintf(fp, "  %" PRId64 " held back", n);
		if (reply_get_i64(c, "purges", &n) == 0 && n > 0)
			fprintf(fp, "  %" PRId64 " purge%s", n, n == 1 ? "" : "s");
		putc('\n', fp);
		members = reply_get(c, "retention");
		for (j = 0; j < reply_len(members) &&
		    members->type == REPLY_ARRAY; j++) {
			m = &members->v.kids[j];
			if ((s = reply_get_str(m, "collection")) == NULL)
				s = "?";
			fputs("  keeps ", fp);
			put_str(fp, s, 0, 0, 0);
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
			put_col(fp, reply_get_str(m, "device"), DEVID_SHORTLEN);
			fputs("  ", fp);
			put_col(fp, role, ROLE_COLS);
			fputs("  ", fp);
			put_col(fp, state, STATE_COLS);
			if (by != NULL) {
				fputs("  added by ", fp);
				put_short(fp, by);
			}
			if (reply_get_i64(m, "cut", &cut) == 0)
				fprintf(fp, "  cut at seq %" PRId64, cut);
			putc('\n', fp);
		}
	}
}

/* metrics */

void
output_metrics(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *text = reply_get(body, "text");

	if (text == NULL || text->type != REPLY_STR) {
		output_json(fp, body);
		return;
	}
	put_text(fp, text->v.str.s, text->v.str.len, 0, TEXT_BLOCK, 0);
}

/* Erasure. */

/* A string of a reply that may be missing: "?" then. */
static void
put_opt(FILE *fp, const char *s)
{
	put_str(fp, s != NULL ? s : "?", 0, 0, 0);
}

void
output_purge(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *recs = reply_get(body, "records"), *r;
	const char *name = reply_get_str(body, "name");
	int local;

	if (name == NULL || recs == NULL || recs->type != REPLY_ARRAY ||
	    recs->n == 0 || reply_get_bool(body, "local", &local) != 0) {
		output_json(fp, body);
		return;
	}
	r = &recs->v.kids[0];
	fputs("purged ", fp);
	put_opt(fp, reply_get_str(r, "collection"));
	putc(' ', fp);
	put_opt(fp, reply_get_str(r, "id"));
	if (recs->n > 1)
		fprintf(fp, " and %" PRIu32 " record%s linking to it", recs->n - 1,
		    recs->n == 2 ? "" : "s");
	if (local)
		fputs(" from the private circle: erased on this device\n", fp);
	else {
		fputs(" in circle ", fp);
		put_str(fp, name, 0, 0, 0);
		fputs(": every device and relay that hears of it erases them\n",
		    fp);
	}
}

void
output_retention(FILE *fp, const struct reply_node *body)
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
		put_str(fp, name, 0, 0, 0);
		fputs(" keeps ", fp);
		put_opt(fp, reply_get_str(body, "collection"));
		if (days == 0)
			fputs(" for ever (no retention)\n", fp);
		else
			fprintf(fp, " for %" PRId64 " days after its last "
			    "change\n", days);
		return;
	}
	for (i = 0; i < reply_len(due) && due->type == REPLY_ARRAY; i++) {
		d = &due->v.kids[i];
		put_opt(fp, reply_get_str(d, "collection"));
		fputs("  ", fp);
		put_col(fp, reply_get_str(d, "id"), RID_COLS);
		fputs("  last changed ", fp);
		put_opt(fp, reply_get_str(d, "updated"));
		putc('\n', fp);
	}
}

/* audit */

void
output_audit(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *ev = reply_get(body, "events"), *e, *recs;
	const char *str;
	int truncated = 0;
	uint32_t i;

	if (ev == NULL || ev->type != REPLY_ARRAY) {
		output_json(fp, body);
		return;
	}
	for (i = 0; i < ev->n; i++) {
		e = &ev->v.kids[i];
		put_col(fp, reply_get_str(e, "time"), TIME_COLS);
		fputs("  ", fp);
		put_short(fp, reply_get_str(e, "device"));
		fputs("  ", fp);
		put_col(fp, reply_get_str(e, "action"), 5);
		fputs("  ", fp);
		put_col(fp, reply_get_str(e, "what"), 9);
		recs = reply_get(e, "records");
		if (reply_len(recs) > 0 && recs->type == REPLY_ARRAY) {
			const struct reply_node *r = &recs->v.kids[0];

			fputs("  ", fp);
			put_str(fp, (str = reply_get_str(r, "collection")) ?
			    str : "?", 0, 0, 0);
			putc(' ', fp);
			put_str(fp, (str = reply_get_str(r, "id")) ? str : "?",
			    0, 0, 0);
			if (recs->n > 1)
				fprintf(fp, " (+%u more)", recs->n - 1);
		} else
			fputs("  (nothing found)", fp);	/* a search */
		putc('\n', fp);
	}
	if (reply_get_bool(body, "truncated", &truncated) == 0 && truncated)
		fputs("samen: only the oldest events are shown: narrow with "
		    "--since or --device\n", stderr);
}
