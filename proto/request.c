/* request: control requests decoded from their bytes into one typed struct per type. */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hlc.h"
#include "util.h"


int
request_frame(struct wire_reader *r, uint32_t *type, char **cause)
{
	uint32_t version;

	if (wire_get_array_n(r, 3) || wire_get_u32(r, &version) ||
	    wire_get_u32(r, type))
		return samen_fail(cause, SAMEN_EPROTO, "malformed request");
	if (version != SAMEN_PROTOCOL_VERSION)
		return samen_fail(cause, SAMEN_EVERSION, "protocol version %u is not "
		    "supported: this samend speaks %d", version,
		    SAMEN_PROTOCOL_VERSION);
	return 0;
}

/* Pieces. */

static int
get_cstr(struct wire_reader *r, char *out, size_t cap)
{
	const char *s;
	size_t n;

	if (wire_get_str(r, &s, &n, cap - 1))
		return r->err;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
get_collection(struct wire_reader *r, char out[OPS_MAX_COLLECTION + 1],
    char **cause)
{
	if (get_cstr(r, out, OPS_MAX_COLLECTION + 1))
		return samen_fail(cause, SAMEN_EPROTO, "malformed collection");
	if (!ops_collection_valid(out, strlen(out)))
		return samen_fail(cause, SAMEN_EINVAL, "invalid collection name '%s'",
		    out);
	return 0;
}

static int
get_rid(struct wire_reader *r, uint8_t rid[RID_LEN], char **cause)
{
	char text[RID_TEXTLEN + 1];

	if (get_cstr(r, text, sizeof(text)) ||
	    rid_decode(rid, text, strlen(text)) != 0)
		return samen_fail(cause, SAMEN_EINVAL, "invalid record id");
	return 0;
}

static int
get_device(struct wire_reader *r, uint8_t dev[DEVID_KEYLEN], char **cause)
{
	char text[DEVID_TEXTLEN + 2];

	if (get_cstr(r, text, sizeof(text)) ||
	    devid_decode(dev, text, strlen(text)) != 0)
		return samen_fail(cause, SAMEN_EINVAL, "invalid device id (a typo? "
		    "'samen id' on that device prints it)");
	return 0;
}

static int
get_name(struct wire_reader *r, char out[OPS_MAX_FIELD + 1], char **cause)
{
	if (get_cstr(r, out, OPS_MAX_FIELD + 1) ||
	    !ops_field_valid(out, strlen(out)))
		return samen_fail(cause, SAMEN_EINVAL, "invalid circle name: 1-64 of "
		    "A-Z a-z 0-9 _ -");
	return 0;
}

/* [] */
static int
decode_none(struct wire_reader *r, const char *what, char **cause)
{
	if (wire_get_array_n(r, 0) || wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed %s request", what);
	return 0;
}

/* [collection, rid] */
static int
decode_record(struct wire_reader *r, struct request_record *q,
    const char *what, char **cause)
{
	int rc;

	if (wire_get_array_n(r, 2))
		return samen_fail(cause, SAMEN_EPROTO, "malformed %s request", what);
	if ((rc = get_collection(r, q->collection, cause)) != 0 ||
	    (rc = get_rid(r, q->rid, cause)) != 0)
		return rc;
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed %s request", what);
	return 0;
}

/* Records. */

int
request_decode_status(struct wire_reader *r, union request *q, char **cause)
{
	(void)q;
	return decode_none(r, "status", cause);
}

int
request_decode_conflicts(struct wire_reader *r, union request *q,
    char **cause)
{
	(void)q;
	return decode_none(r, "conflicts", cause);
}

int
request_decode_rebuild(struct wire_reader *r, union request *q,
    char **cause)
{
	(void)q;
	return decode_none(r, "rebuild", cause);
}

int
request_decode_get(struct wire_reader *r, union request *q, char **cause)
{
	return decode_record(r, &q->record, "get", cause);
}

int
request_decode_rm(struct wire_reader *r, union request *q, char **cause)
{
	return decode_record(r, &q->record, "rm", cause);
}

int
request_decode_log(struct wire_reader *r, union request *q, char **cause)
{
	return decode_record(r, &q->record, "log", cause);
}

/* [how, field, value] */
static int
decode_assign(struct wire_reader *r, struct request_assign *as, uint32_t i,
    char **cause)
{
	struct request_assign *a = &as[i];
	size_t max;

	if (wire_get_array_n(r, 3) || wire_get_u8(r, &a->how) ||
	    wire_get_str(r, &a->field, &a->field_len, OPS_MAX_FIELD + 1) ||
	    wire_get_str(r, &a->value, &a->value_len, OPS_MAX_VALUE + 1))
		return samen_fail(cause, SAMEN_EPROTO, "malformed assignment");
	if (!ops_field_valid(a->field, a->field_len))
		return samen_fail(cause, SAMEN_EINVAL, "invalid field name '%.*s'",
		    (int)a->field_len, a->field);
	max = a->how == CTL_ASSIGN_SET ? OPS_MAX_VALUE : OPS_MAX_ELEMENT;
	if (a->value_len > max)
		return samen_fail(cause, SAMEN_EINVAL, "value of '%.*s' is over %zu "
		    "bytes", (int)a->field_len, a->field, max);
	/* A register takes one value per write; a set takes many. */
	for (uint32_t j = 0; j < i && a->how == CTL_ASSIGN_SET; j++)
		if (as[j].how == CTL_ASSIGN_SET &&
		    as[j].field_len == a->field_len &&
		    memcmp(as[j].field, a->field, a->field_len) == 0)
			return samen_fail(cause, SAMEN_EINVAL, "field '%.*s' is "
			    "assigned twice", (int)a->field_len, a->field);
	if (a->how != CTL_ASSIGN_SET && a->how != CTL_ASSIGN_ADD &&
	    a->how != CTL_ASSIGN_REM)
		return samen_fail(cause, SAMEN_EPROTO, "unknown assignment kind %u",
		    a->how);
	return 0;
}

int
request_decode_put(struct wire_reader *r, union request *q, char **cause)
{
	struct request_put *p = &q->put;
	uint32_t nargs;
	int rc;

	if (wire_get_array(r, &nargs, 4) || (nargs != 3 && nargs != 4))
		return samen_fail(cause, SAMEN_EPROTO, "malformed put request");
	if ((rc = get_collection(r, p->collection, cause)) != 0)
		return rc;
	p->creating = wire_peek(r) == WIRE_NIL;
	if (p->creating)
		wire_get_nil(r);
	else if ((rc = get_rid(r, p->rid, cause)) != 0)
		return rc;
	if (wire_get_array(r, &p->nassigns, CTL_MAX_ASSIGNS))
		return samen_fail(cause, SAMEN_EINVAL, "too many assignments "
		    "(at most %d)", CTL_MAX_ASSIGNS);
	if (p->nassigns == 0)
		return samen_fail(cause, SAMEN_EINVAL, "nothing to write: give at "
		    "least one field=value");
	for (uint32_t i = 0; i < p->nassigns; i++)
		if ((rc = decode_assign(r, p->assigns, i, cause)) != 0)
			return rc;
	p->circle[0] = '\0';
	if (nargs == 4 && wire_peek(r) == WIRE_NIL)
		wire_get_nil(r);
	else if (nargs == 4 && get_cstr(r, p->circle, sizeof(p->circle)))
		return samen_fail(cause, SAMEN_EINVAL, "invalid circle name");
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed put request");
	return 0;
}

int
request_decode_ls(struct wire_reader *r, union request *q, char **cause)
{
	struct request_ls *l = &q->ls;
	int rc;

	if (wire_get_array_n(r, 2))
		return samen_fail(cause, SAMEN_EPROTO, "malformed ls request");
	if ((rc = get_collection(r, l->collection, cause)) != 0)
		return rc;
	if (wire_get_array(r, &l->nwhere, REQUEST_MAX_WHERE))
		return samen_fail(cause, SAMEN_EINVAL, "at most %d --where",
		    REQUEST_MAX_WHERE);
	for (uint32_t i = 0; i < l->nwhere; i++) {
		struct request_where *w = &l->where[i];
		const char *s;
		size_t len;

		if (wire_get_array_n(r, 2) ||
		    wire_get_str(r, &s, &len, OPS_MAX_FIELD) ||
		    wire_get_str(r, &w->value, &w->len, OPS_MAX_VALUE))
			return samen_fail(cause, SAMEN_EPROTO, "malformed --where");
		memcpy(w->field, s, len);
		w->field[len] = '\0';
	}
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed ls request");
	return 0;
}

int
request_decode_find(struct wire_reader *r, union request *q, char **cause)
{
	struct request_find *f = &q->find;

	if (wire_get_array_n(r, 1) ||
	    wire_get_str(r, &f->text, &f->len, OPS_MAX_VALUE) || wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed find request");
	if (f->len == 0)
		return samen_fail(cause, SAMEN_EINVAL, "nothing to find: give a text");
	return 0;
}

int
request_decode_note(struct wire_reader *r, union request *q, char **cause)
{
	struct request_note *n = &q->note;
	int rc;

	if (wire_get_array_n(r, 2))
		return samen_fail(cause, SAMEN_EPROTO, "malformed note request");
	if ((rc = get_rid(r, n->case_rid, cause)) != 0)
		return rc;
	if (wire_get_str(r, &n->text, &n->len, OPS_MAX_VALUE + 1) ||
	    wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed note request");
	if (n->len == 0)
		return samen_fail(cause, SAMEN_EINVAL, "the note is empty");
	if (n->len > OPS_MAX_VALUE)
		return samen_fail(cause, SAMEN_EINVAL, "the note is over %d bytes",
		    OPS_MAX_VALUE);
	return 0;
}

/* The daemon. */

int
request_decode_unlock(struct wire_reader *r, union request *q, char **cause)
{
	struct request_unlock *u = &q->unlock;

	if (wire_get_array_n(r, 1) ||
	    wire_get_str(r, &u->pass, &u->len, 4096) || wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed unlock request");
	return 0;
}

/* Peers and sync. */

int
request_decode_peer_add(struct wire_reader *r, union request *q,
    char **cause)
{
	struct request_peer_add *p = &q->peer_add;
	int rc;

	if (wire_get_array_n(r, 2))
		return samen_fail(cause, SAMEN_EPROTO, "malformed peer request");
	if ((rc = get_device(r, p->device, cause)) != 0)
		return rc;
	p->addr[0] = '\0';
	p->has_addr = wire_peek(r) != WIRE_NIL;
	if (!p->has_addr)
		wire_get_nil(r);
	else if (get_cstr(r, p->addr, sizeof(p->addr)) ||
	    strncmp(p->addr, "tcp://", 6) != 0 ||
	    strrchr(p->addr, ':') == p->addr + 3)
		return samen_fail(cause, SAMEN_EINVAL, "address must be "
		    "tcp://HOST:PORT");
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed peer request");
	return 0;
}

int
request_decode_peer_ls(struct wire_reader *r, union request *q,
    char **cause)
{
	(void)q;
	return decode_none(r, "peer", cause);
}

int
request_decode_peer_rm(struct wire_reader *r, union request *q,
    char **cause)
{
	struct request_device *d = &q->device;
	int rc;

	if (wire_get_array_n(r, 1))
		return samen_fail(cause, SAMEN_EPROTO, "malformed peer request");
	d->has_device = 1;
	if ((rc = get_device(r, d->device, cause)) != 0)
		return rc;
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed peer request");
	return 0;
}

int
request_decode_sync(struct wire_reader *r, union request *q, char **cause)
{
	struct request_device *d = &q->device;
	int rc;

	if (wire_get_array_n(r, 1))
		return samen_fail(cause, SAMEN_EPROTO, "malformed sync request");
	d->has_device = wire_peek(r) != WIRE_NIL;
	if (!d->has_device)
		wire_get_nil(r);
	else if ((rc = get_device(r, d->device, cause)) != 0)
		return rc;
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed sync request");
	return 0;
}

/* Circles. */

static int
get_role(struct wire_reader *r, enum roster_role *role, char **cause)
{
	static const char *const names[] = {
		[ROSTER_RELAY] = "relay",
		[ROSTER_MEMBER] = "member",
		[ROSTER_ADMIN] = "admin",
	};
	char s[16];

	if (get_cstr(r, s, sizeof(s)) == 0)
		for (int i = ROSTER_RELAY; i <= ROSTER_ADMIN; i++)
			if (strcmp(s, names[i]) == 0) {
				*role = (enum roster_role)i;
				return 0;
			}
	return samen_fail(cause, SAMEN_EINVAL, "invalid role: admin, member or "
	    "relay");
}

/*
 * [name] or [name, device] and then nargs - 2 more, read by the caller;
 * nargs 0: 2 or 4 of them, which *nargs then says.
 */
static int
decode_circle_n(struct wire_reader *r, struct request_circle *c,
    uint32_t *nargs, char **cause)
{
	uint32_t n;
	int rc;

	memset(c, 0, sizeof(*c));
	c->role = ROSTER_MEMBER;
	if (*nargs == 0 ? wire_get_array(r, &n, 4) || (n != 2 && n != 4) :
	    wire_get_array_n(r, (n = *nargs)))
		return samen_fail(cause, SAMEN_EPROTO, "malformed circle request");
	*nargs = n;
	if ((rc = get_name(r, c->name, cause)) != 0 ||
	    (n > 1 && (rc = get_device(r, c->device, cause)) != 0))
		return rc;
	return 0;
}

static int
circle_end(struct wire_reader *r, char **cause)
{
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed circle request");
	return 0;
}

static int
decode_circle(struct wire_reader *r, struct request_circle *c, int device,
    char **cause)
{
	uint32_t nargs = device ? 2 : 1;
	int rc;

	if ((rc = decode_circle_n(r, c, &nargs, cause)) != 0)
		return rc;
	return circle_end(r, cause);
}

int
request_decode_circle_new(struct wire_reader *r, union request *q,
    char **cause)
{
	return decode_circle(r, &q->circle, 0, cause);
}

int
request_decode_circle_add(struct wire_reader *r, union request *q,
    char **cause)
{
	struct request_circle *c = &q->circle;
	uint32_t nargs = 0;
	int rc;

	if ((rc = decode_circle_n(r, c, &nargs, cause)) != 0)
		return rc;
	if (nargs == 4) {
		if (wire_peek(r) == WIRE_NIL)
			wire_get_nil(r);
		else if ((rc = get_role(r, &c->role, cause)) != 0)
			return rc;
		if (wire_get_bool(r, &c->no_history))
			return samen_fail(cause, SAMEN_EPROTO, "malformed circle "
			    "request");
	}
	return circle_end(r, cause);
}

int
request_decode_circle_role(struct wire_reader *r, union request *q,
    char **cause)
{
	uint32_t nargs = 3;
	int rc;

	if ((rc = decode_circle_n(r, &q->circle, &nargs, cause)) != 0 ||
	    (rc = get_role(r, &q->circle.role, cause)) != 0)
		return rc;
	return circle_end(r, cause);
}

int
request_decode_circle_rm(struct wire_reader *r, union request *q,
    char **cause)
{
	return decode_circle(r, &q->circle, 1, cause);
}

int
request_decode_circle_quarantine(struct wire_reader *r, union request *q,
    char **cause)
{
	return decode_circle(r, &q->circle, 0, cause);
}

int
request_decode_circle_accept(struct wire_reader *r, union request *q,
    char **cause)
{
	struct request_circle *c = &q->circle;
	uint32_t nargs = 3;
	int rc;

	if ((rc = decode_circle_n(r, c, &nargs, cause)) != 0)
		return rc;
	if (wire_peek(r) == WIRE_NIL)
		wire_get_nil(r);
	else if (wire_get_u64(r, &c->seq) || c->seq == 0 ||
	    c->seq > INT64_MAX)
		return samen_fail(cause, SAMEN_EINVAL, "invalid seq: a number from 1 "
		    "up");
	else
		c->has_seq = 1;
	return circle_end(r, cause);
}

/* Devices. */

int
request_decode_device_revoke(struct wire_reader *r, union request *q,
    char **cause)
{
	struct request_revoke *v = &q->revoke;
	int rc;

	memset(v, 0, sizeof(*v));
	if (wire_get_array_n(r, 2))
		return samen_fail(cause, SAMEN_EPROTO, "malformed revoke request");
	if ((rc = get_device(r, v->device, cause)) != 0)
		return rc;
	if (wire_peek(r) == WIRE_NIL)
		wire_get_nil(r);
	else if (wire_get_str(r, &v->reason, &v->reason_len,
	    REQUEST_MAX_REASON))
		return samen_fail(cause, SAMEN_EINVAL, "invalid reason: at most %d "
		    "bytes of UTF-8", REQUEST_MAX_REASON);
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed revoke request");
	return 0;
}

int
request_decode_circle_ls(struct wire_reader *r, union request *q,
    char **cause)
{
	(void)q;
	return decode_none(r, "circle", cause);
}

int
request_decode_circle_use(struct wire_reader *r, union request *q,
    char **cause)
{
	return decode_circle(r, &q->circle, 0, cause);
}

int
request_decode_metrics(struct wire_reader *r, union request *q,
    char **cause)
{
	(void)q;
	return decode_none(r, "metrics", cause);
}

/* The trust lifecycle. */

int
request_decode_lock(struct wire_reader *r, union request *q, char **cause)
{
	(void)q;
	return decode_none(r, "lock", cause);
}

int
request_decode_handover(struct wire_reader *r, union request *q,
    char **cause)
{
	struct request_handover *h = &q->handover;
	int rc;

	if (wire_get_array_n(r, 3))
		return samen_fail(cause, SAMEN_EPROTO, "malformed handover "
		    "request");
	if ((rc = get_device(r, h->from, cause)) != 0 ||
	    (rc = get_device(r, h->to, cause)) != 0)
		return rc;
	h->circle[0] = '\0';
	if (wire_peek(r) == WIRE_NIL)
		wire_get_nil(r);
	else if ((rc = get_name(r, h->circle, cause)) != 0)
		return rc;
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed handover "
		    "request");
	if (memcmp(h->from, h->to, DEVID_KEYLEN) == 0)
		return samen_fail(cause, SAMEN_EINVAL, "a handover needs two "
		    "different devices");
	return 0;
}

/* Export and import. */

void
request_cursor_format(char out[CTL_EXPORT_CURSOR],
    const uint8_t rid[RID_LEN], int64_t rkey)
{
	char text[RID_TEXTLEN + 1];

	rid_encode(text, rid);
	snprintf(out, CTL_EXPORT_CURSOR, "%s.%lld", text, (long long)rkey);
}

int
request_cursor_parse(const char *s, size_t len, uint8_t rid[RID_LEN],
    int64_t *rkey)
{
	uint64_t v = 0;
	size_t i;

	if (len < RID_TEXTLEN + 2 || len > RID_TEXTLEN + 1 + 19 ||
	    s[RID_TEXTLEN] != '.' || rid_decode(rid, s, RID_TEXTLEN) != 0)
		return -1;
	for (i = RID_TEXTLEN + 1; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	/* 19 digits fit in a uint64; an rkey is an int64. */
	if (v > INT64_MAX)
		return -1;
	*rkey = (int64_t)v;
	return 0;
}

/* str | nil into out ("" for nil); 0 or -1. */
static int
get_opt_cstr(struct wire_reader *r, char *out, size_t cap)
{
	out[0] = '\0';
	if (wire_peek(r) == WIRE_NIL)
		return wire_get_nil(r) ? -1 : 0;
	return get_cstr(r, out, cap) ? -1 : 0;
}

int
request_decode_export(struct wire_reader *r, union request *q, char **cause)
{
	struct request_export *e = &q->export;
	const char *s;
	size_t len;
	int rc;

	if (wire_get_array_n(r, 6))
		return samen_fail(cause, SAMEN_EPROTO, "malformed export request");
	if (get_opt_cstr(r, e->collection, sizeof(e->collection)))
		return samen_fail(cause, SAMEN_EPROTO, "malformed collection");
	if (*e->collection != '\0' &&
	    !ops_collection_valid(e->collection, strlen(e->collection)))
		return samen_fail(cause, SAMEN_EINVAL, "invalid collection name "
		    "'%s'", e->collection);
	if (get_opt_cstr(r, e->circle, sizeof(e->circle)) ||
	    (*e->circle != '\0' &&
	    !ops_field_valid(e->circle, strlen(e->circle))))
		return samen_fail(cause, SAMEN_EINVAL, "invalid circle name: "
		    "1-64 of A-Z a-z 0-9 _ -");
	e->has_subject = wire_peek(r) != WIRE_NIL;
	if (!e->has_subject)
		wire_get_nil(r);
	else if ((rc = get_rid(r, e->subject, cause)) != 0)
		return rc;
	if (e->has_subject && (*e->collection != '\0' || *e->circle != '\0'))
		return samen_fail(cause, SAMEN_EINVAL, "an export of a subject "
		    "takes no collection and no circle");
	e->has_after = wire_peek(r) != WIRE_NIL;
	if (!e->has_after)
		wire_get_nil(r);
	else if (wire_get_str(r, &s, &len, CTL_EXPORT_CURSOR - 1) ||
	    request_cursor_parse(s, len, e->after_rid, &e->after_rkey) != 0)
		return samen_fail(cause, SAMEN_EINVAL, "invalid export cursor");
	if (wire_get_u32(r, &e->limit) || wire_get_bool(r, &e->history) ||
	    wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed export request");
	if (e->limit == 0 || e->limit > CTL_EXPORT_MAX_LIMIT)
		return samen_fail(cause, SAMEN_EINVAL, "an export page holds 1 to "
		    "%d records", CTL_EXPORT_MAX_LIMIT);
	return 0;
}

int
request_decode_audit(struct wire_reader *r, union request *q, char **cause)
{
	struct request_audit *a = &q->audit;
	int rc;

	memset(a, 0, sizeof(*a));
	if (wire_get_array_n(r, 4))
		return samen_fail(cause, SAMEN_EPROTO, "malformed audit request");
	a->has_record = wire_peek(r) != WIRE_NIL;
	if (!a->has_record) {
		if (wire_get_nil(r) || wire_get_nil(r))
			return samen_fail(cause, SAMEN_EINVAL, "an audit names "
			    "a record by its collection and its id, or none");
	} else if ((rc = get_collection(r, a->collection, cause)) != 0 ||
	    (rc = get_rid(r, a->rid, cause)) != 0)
		return rc;
	a->has_device = wire_peek(r) != WIRE_NIL;
	if (!a->has_device)
		wire_get_nil(r);
	else if ((rc = get_device(r, a->device, cause)) != 0)
		return rc;
	if (wire_peek(r) == WIRE_NIL)
		wire_get_nil(r);
	else if (wire_get_u64(r, &a->since_ms) == 0 &&
	    a->since_ms > HLC_MS(UINT64_MAX))
		return samen_fail(cause, SAMEN_EINVAL, "--since is out of "
		    "range");
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed audit request");
	return 0;
}

int
request_import_row(struct wire_reader *r, struct request_assign *as,
    uint32_t *n, char **cause)
{
	int rc;

	if (wire_get_array(r, n, CTL_MAX_ASSIGNS))
		return samen_fail(cause, SAMEN_EINVAL, "an import row holds at "
		    "most %d values", CTL_MAX_ASSIGNS);
	if (*n == 0)
		return samen_fail(cause, SAMEN_EINVAL, "an import row is empty");
	for (uint32_t i = 0; i < *n; i++) {
		if ((rc = decode_assign(r, as, i, cause)) != 0)
			return rc;
		/* A new record: there is nothing to remove. */
		if (as[i].how == CTL_ASSIGN_REM)
			return samen_fail(cause, SAMEN_EINVAL, "an import row "
			    "only sets fields and adds elements");
	}
	return 0;
}

int
request_decode_import(struct wire_reader *r, union request *q, char **cause)
{
	struct request_import *m = &q->import;
	struct request_assign *as;
	struct wire_reader rows;
	uint32_t n;
	int rc = 0;

	if (wire_get_array_n(r, 4))
		return samen_fail(cause, SAMEN_EPROTO, "malformed import request");
	if ((rc = get_collection(r, m->collection, cause)) != 0)
		return rc;
	if (get_opt_cstr(r, m->circle, sizeof(m->circle)) ||
	    (*m->circle != '\0' &&
	    !ops_field_valid(m->circle, strlen(m->circle))))
		return samen_fail(cause, SAMEN_EINVAL, "invalid circle name: "
		    "1-64 of A-Z a-z 0-9 _ -");
	if (wire_get_bool(r, &m->dry_run))
		return samen_fail(cause, SAMEN_EPROTO, "malformed import request");
	if (wire_get_array(r, &m->nrows, CTL_IMPORT_MAX_ROWS))
		return samen_fail(cause, SAMEN_EINVAL, "an import request holds "
		    "at most %d rows", CTL_IMPORT_MAX_ROWS);
	if (m->nrows == 0)
		return samen_fail(cause, SAMEN_EINVAL, "nothing to import");
	/* Every row is checked here; the act reads them again from rows. */
	m->rows = *r;
	rows = *r;
	as = xreallocarray(NULL, CTL_MAX_ASSIGNS, sizeof(*as));
	for (uint32_t i = 0; i < m->nrows && rc == 0; i++) {
		char *why = NULL;

		if ((rc = request_import_row(&rows, as, &n, &why)) != 0) {
			samen_fail(cause, rc, "row %u: %s", i + 1, why);
			free(why);
		}
	}
	free(as);
	if (rc != 0)
		return rc;
	if (wire_end(&rows))
		return samen_fail(cause, SAMEN_EPROTO, "malformed import request");
	*r = rows;
	return 0;
}

/* Erasure. */

int
request_decode_purge(struct wire_reader *r, union request *q, char **cause)
{
	struct request_purge *p = &q->purge;
	int cascade, rc;

	memset(p, 0, sizeof(*p));
	if (wire_get_array_n(r, 4))
		return samen_fail(cause, SAMEN_EPROTO, "malformed purge request");
	if ((rc = get_collection(r, p->collection, cause)) != 0 ||
	    (rc = get_rid(r, p->rid, cause)) != 0)
		return rc;
	if (wire_get_bool(r, &cascade))
		return samen_fail(cause, SAMEN_EPROTO, "malformed purge request");
	p->cascade = cascade;
	if (wire_get_str(r, &p->reason, &p->reason_len, REQUEST_MAX_REASON))
		return samen_fail(cause, SAMEN_EINVAL, "invalid reason: at most %d "
		    "bytes of UTF-8", REQUEST_MAX_REASON);
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed purge request");
	if (p->reason_len == 0)
		return samen_fail(cause, SAMEN_EINVAL, "a purge needs a reason "
		    "(--reason TEXT): who asked, and why");
	return 0;
}

int
request_decode_circle_retention(struct wire_reader *r, union request *q,
    char **cause)
{
	struct request_retention *t = &q->retention;
	uint64_t days;
	uint32_t n;
	int rc;

	memset(t, 0, sizeof(*t));
	if (wire_get_array(r, &n, 3) || (n != 1 && n != 3))
		return samen_fail(cause, SAMEN_EPROTO, "malformed retention "
		    "request");
	if ((rc = get_name(r, t->name, cause)) != 0)
		return rc;
	t->due = n == 1;
	if (n == 3) {
		if ((rc = get_collection(r, t->collection, cause)) != 0)
			return rc;
		if (wire_get_u64(r, &days) || days > REQUEST_MAX_KEEP_DAYS)
			return samen_fail(cause, SAMEN_EINVAL, "invalid retention: "
			    "0 (none) to %d days", REQUEST_MAX_KEEP_DAYS);
		t->days = (uint32_t)days;
	}
	if (wire_end(r))
		return samen_fail(cause, SAMEN_EPROTO, "malformed retention "
		    "request");
	return 0;
}

request_decode_fn *
request_decoder(uint32_t type)
{
	switch (type) {
	case CTL_STATUS: return request_decode_status;
	case CTL_UNLOCK: return request_decode_unlock;
	case CTL_PUT: return request_decode_put;
	case CTL_GET: return request_decode_get;
	case CTL_LS: return request_decode_ls;
	case CTL_FIND: return request_decode_find;
	case CTL_RM: return request_decode_rm;
	case CTL_LOG: return request_decode_log;
	case CTL_CONFLICTS: return request_decode_conflicts;
	case CTL_NOTE: return request_decode_note;
	case CTL_REBUILD: return request_decode_rebuild;
	case CTL_PEER_ADD: return request_decode_peer_add;
	case CTL_PEER_LS: return request_decode_peer_ls;
	case CTL_PEER_RM: return request_decode_peer_rm;
	case CTL_SYNC: return request_decode_sync;
	case CTL_CIRCLE_NEW: return request_decode_circle_new;
	case CTL_CIRCLE_ADD: return request_decode_circle_add;
	case CTL_CIRCLE_LS: return request_decode_circle_ls;
	case CTL_CIRCLE_USE: return request_decode_circle_use;
	case CTL_METRICS: return request_decode_metrics;
	case CTL_CIRCLE_ROLE: return request_decode_circle_role;
	case CTL_CIRCLE_RM: return request_decode_circle_rm;
	case CTL_CIRCLE_QUARANTINE: return request_decode_circle_quarantine;
	case CTL_CIRCLE_ACCEPT: return request_decode_circle_accept;
	case CTL_DEVICE_REVOKE: return request_decode_device_revoke;
	case CTL_LOCK: return request_decode_lock;
	case CTL_HANDOVER: return request_decode_handover;
	case CTL_EXPORT: return request_decode_export;
	case CTL_IMPORT: return request_decode_import;
	case CTL_PURGE: return request_decode_purge;
	case CTL_CIRCLE_RETENTION: return request_decode_circle_retention;
	case CTL_AUDIT: return request_decode_audit;
	}
	return NULL;
}
