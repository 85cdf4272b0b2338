/* request: control requests decoded from their bytes into one typed struct per type. */
#ifndef SAMEN_REQUEST_H
#define SAMEN_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "devid.h"
#include "ops.h"
#include "protocol.h"
#include "rid.h"
#include "roster.h"
#include "wire.h"

/*
 * Every check on the shape of a request is made here, before the daemon
 * acts on it: lengths, UTF-8 (the reader's), names, ids, counts.  What
 * depends on the daemon's state (is it unlocked, does the record exist)
 * is the daemon's.  A decoder either fills its struct and returns 0, or
 * returns SAMEN_EPROTO (malformed) or SAMEN_EINVAL (a value a person gave
 * is wrong) and sets *cause to the reason the CLI shows (free with
 * free()).  Strings in the structs point into the request's bytes
 * (borrowed: they must outlive the struct), unless they are arrays.
 */

/* [collection, rid]: get, rm, log. */
struct request_record {
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
};

struct request_assign {
	uint8_t how;		/* enum ctl_assign */
	const char *field;	/* a valid field name, not NUL-terminated */
	size_t field_len;
	const char *value;	/* at most OPS_MAX_VALUE, or OPS_MAX_ELEMENT
				 * for a set's element */
	size_t value_len;
};

/* put: [collection, rid | nil, assigns] or the same + [circle | nil]. */
struct request_put {
	char collection[OPS_MAX_COLLECTION + 1];
	int creating;		/* rid was nil: a new record */
	uint8_t rid[RID_LEN];	/* unless creating */
	char circle[OPS_MAX_FIELD + 1];	/* "" if not given */
	/* 1 to CTL_MAX_ASSIGNS, no SET of one field twice. */
	struct request_assign assigns[CTL_MAX_ASSIGNS];
	uint32_t nassigns;
};

#define REQUEST_MAX_WHERE 16

struct request_where {
	char field[OPS_MAX_FIELD + 1];	/* not checked: it matches or not */
	const char *value;
	size_t len;
};

/* ls: [collection, where]. */
struct request_ls {
	char collection[OPS_MAX_COLLECTION + 1];
	struct request_where where[REQUEST_MAX_WHERE];
	uint32_t nwhere;
};

/* find: [text], not empty. */
struct request_find {
	const char *text;
	size_t len;
};

/* note: [case rid, text], text 1 to OPS_MAX_VALUE bytes. */
struct request_note {
	uint8_t case_rid[RID_LEN];
	const char *text;
	size_t len;
};

/* unlock: [passphrase]; the passphrase stays in the request's bytes. */
struct request_unlock {
	const char *pass;
	size_t len;
};

/* peer add: [device, addr | nil], addr "tcp://HOST:PORT". */
struct request_peer_add {
	uint8_t device[DEVID_KEYLEN];
	int has_addr;
	char addr[256];
};

/* peer rm: [device]; sync: [device | nil]. */
struct request_device {
	int has_device;		/* always 1 for peer rm */
	uint8_t device[DEVID_KEYLEN];
};

/*
 * circle new, use, quarantine: [name]; rm: [name, device]; add: [name,
 * device] or [name, device, role | nil, no_history bool]; role: [name,
 * device, role]; accept: [name, device, seq | nil].  A role is "admin",
 * "member" or "relay".
 */
struct request_circle {
	char name[OPS_MAX_FIELD + 1];	/* a valid field name */
	uint8_t device[DEVID_KEYLEN];	/* all but new, use, quarantine */
	enum roster_role role;		/* add (ROSTER_MEMBER if nil), role */
	int no_history;			/* add */
	int has_seq;			/* accept */
	uint64_t seq;			/* accept: 1 or more */
};

/* The longest reason a revocation takes, in bytes. */
#define REQUEST_MAX_REASON 1024

/* device revoke: [device, reason | nil]; the reason may be empty. */
struct request_revoke {
	uint8_t device[DEVID_KEYLEN];
	const char *reason;		/* NULL if nil */
	size_t reason_len;
};

/*
 * handover: [from device, to device, circle name | nil]; from and to
 * differ.
 */
struct request_handover {
	uint8_t from[DEVID_KEYLEN];
	uint8_t to[DEVID_KEYLEN];
	char circle[OPS_MAX_FIELD + 1];	/* "" if not given */
};

/*
 * export: [collection | nil, circle | nil, subject | nil, after | nil,
 * limit, history].  A subject export names neither collection nor circle.
 */
struct request_export {
	char collection[OPS_MAX_COLLECTION + 1];	/* "": every one */
	char circle[OPS_MAX_FIELD + 1];	/* "": every circle */
	int has_subject;
	uint8_t subject[RID_LEN];	/* the case's id */
	int has_after;		/* the cursor: the last record sent */
	uint8_t after_rid[RID_LEN];
	int64_t after_rkey;
	uint32_t limit;		/* 1 to CTL_EXPORT_MAX_LIMIT */
	int history;
};

/*
 * The cursor of export ("after", "next"): the record's id and its handle in
 * the daemon, "RID.RKEY", at most CTL_EXPORT_CURSOR bytes with the NUL.
 * Clients pass it back as they got it.  request_cursor_parse: 0 or -1.
 */
void request_cursor_format(char out[CTL_EXPORT_CURSOR],
    const uint8_t rid[RID_LEN], int64_t rkey);
int request_cursor_parse(const char *s, size_t len, uint8_t rid[RID_LEN],
    int64_t *rkey);

/*
 * import: [collection, circle | nil, dry_run, rows].  The decoder checks
 * every row; rows is left at the first, for request_import_row.
 */
struct request_import {
	char collection[OPS_MAX_COLLECTION + 1];
	char circle[OPS_MAX_FIELD + 1];	/* "" if not given */
	int dry_run;
	uint32_t nrows;		/* 1 to CTL_IMPORT_MAX_ROWS */
	struct wire_reader rows;
};

/*
 * The next row of an import: its 1 to CTL_MAX_ASSIGNS assigns (SET or ADD,
 * no SET of one field twice) into as[0..*n), which point into the request.
 * as holds CTL_MAX_ASSIGNS.  Returns 0 or SAMEN_EPROTO / SAMEN_EINVAL with
 * *cause; a row that request_decode_import accepted always reads.
 */
int request_import_row(struct wire_reader *r, struct request_assign *as,
    uint32_t *n, char **cause);

/*
 * purge: [collection, rid, cascade bool, reason]; the reason is 1 to
 * REQUEST_MAX_REASON bytes: a purge without one is refused.
 */
struct request_purge {
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
	int cascade;
	const char *reason;
	size_t reason_len;
};

/* The longest retention period, in days: a hundred years of 365. */
#define REQUEST_MAX_KEEP_DAYS 36500

/*
 * circle retention: [name, collection, days] sets the period of a
 * collection (days 1 to REQUEST_MAX_KEEP_DAYS, or 0: none); [name] asks
 * what is due (due 1).
 */
struct request_retention {
	char name[OPS_MAX_FIELD + 1];
	int due;
	char collection[OPS_MAX_COLLECTION + 1];
	uint32_t days;
};

/*
 * audit: [collection | nil, rid | nil, device | nil, since | nil]:
 * collection and rid together or neither; since in milliseconds of the
 * wall clock (UTC), 0 to 2^48 - 1 (an hlc's range).
 */
struct request_audit {
	int has_record;
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
	int has_device;
	uint8_t device[DEVID_KEYLEN];
	uint64_t since_ms;	/* 0: all */
};

/* The args of one request; which member is set depends on its type. */
union request {
	struct request_record record;
	struct request_put put;
	struct request_ls ls;
	struct request_find find;
	struct request_note note;
	struct request_unlock unlock;
	struct request_peer_add peer_add;
	struct request_device device;
	struct request_circle circle;
	struct request_revoke revoke;
	struct request_handover handover;
	struct request_export export;
	struct request_import import;
	struct request_purge purge;
	struct request_retention retention;
	struct request_audit audit;
};

/*
 * The outer frame [version, type, args]: checks the version and leaves r
 * at args.  SAMEN_EPROTO for a malformed frame, SAMEN_EVERSION for another
 * protocol version, with *cause.  type is not checked: it may be unknown.
 */
int request_frame(struct wire_reader *r, uint32_t *type, char **cause);

/*
 * The decoders, one per type: each reads the args array and requires r to
 * end after it (wire_end).  q is written only as far as the type needs
 * (put does not clear its CTL_MAX_ASSIGNS assigns).
 */
typedef int request_decode_fn(struct wire_reader *r, union request *q,
    char **cause);
request_decode_fn request_decode_status;
request_decode_fn request_decode_unlock;
request_decode_fn request_decode_put;
request_decode_fn request_decode_get;
request_decode_fn request_decode_ls;
request_decode_fn request_decode_find;
request_decode_fn request_decode_rm;
request_decode_fn request_decode_log;
request_decode_fn request_decode_conflicts;
request_decode_fn request_decode_note;
request_decode_fn request_decode_rebuild;
request_decode_fn request_decode_peer_add;
request_decode_fn request_decode_peer_ls;
request_decode_fn request_decode_peer_rm;
request_decode_fn request_decode_sync;
request_decode_fn request_decode_circle_new;
request_decode_fn request_decode_circle_add;
request_decode_fn request_decode_circle_ls;
request_decode_fn request_decode_circle_use;
request_decode_fn request_decode_metrics;
request_decode_fn request_decode_circle_role;
request_decode_fn request_decode_circle_rm;
request_decode_fn request_decode_circle_quarantine;
request_decode_fn request_decode_circle_accept;
request_decode_fn request_decode_device_revoke;
request_decode_fn request_decode_lock;
request_decode_fn request_decode_handover;
request_decode_fn request_decode_export;
request_decode_fn request_decode_import;
request_decode_fn request_decode_purge;
request_decode_fn request_decode_circle_retention;
request_decode_fn request_decode_audit;

/*
 * The decoder of type (enum ctl_type), or NULL for a type this version
 * does not know: for callers that take the type from data (tests, fuzz).
 */
request_decode_fn *request_decoder(uint32_t type);

#endif
