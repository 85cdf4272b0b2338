/* argcheck: samen's checks of its arguments, so that what samend would refuse never leaves. */
#ifndef SAMEN_ARGCHECK_H
#define SAMEN_ARGCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "devid.h"
#include "rid.h"

/*
 * Each check returns 0, or -EINVAL and *cause: one line saying what is
 * wrong and what would be right, for a person (free with free()).  The
 * strings are borrowed.  A check that passes writes nothing to *cause.
 */

#define ARGCHECK_CIRCLE_MAX 64	/* bytes of a circle name (docs/api.md) */
#define ARGCHECK_HOST_MAX 253	/* a DNS name; an IPv6 address is shorter */
#define ARGCHECK_TIMEOUT_MAX 1e6	/* seconds: twelve days is patience */

/* COLLECTION: 1-32 of a-z 0-9 _ -, starting with a letter. */
int argcheck_collection(const char *s, char **cause);
/* FIELD, s[0..n): 1-64 of A-Z a-z 0-9 _ -, starting with one of A-Z a-z 0-9. */
int argcheck_field(const char *s, size_t n, char **cause);
/* A value: at most max bytes of UTF-8; what names it in the message. */
int argcheck_text(const char *what, const char *s, size_t max, char **cause);
/* A record id; writes its canonical text (upper case) to out. */
int argcheck_rid(const char *s, char out[RID_TEXTLEN + 1], char **cause);
/*
 * A device id; writes its canonical text (lower case) to out.  The message
 * says what is wrong: the length, a character base32 does not have, or the
 * checksum.
 */
int argcheck_devid(const char *s, char out[DEVID_TEXTLEN + 1], char **cause);
/*
 * tcp://HOST:PORT, the only transport peers use.  HOST is a name or an IPv4
 * address, or an IPv6 address in brackets (ZeroMQ's form); PORT 1-65535 in
 * decimal.  Names are not resolved: the daemon connects later, and again
 * when the address stops answering.
 */
int argcheck_addr(const char *s, char **cause);
/* NAME of a circle: 1-64 of A-Z a-z 0-9 _ -. */
int argcheck_circle(const char *s, char **cause);
/*
 * FIELD=VALUE split at the first '=': *field and *value point into arg,
 * the field *flen bytes long.  Checks neither part.
 */
int argcheck_pair(const char *arg, const char **field, size_t *flen,
    const char **value, char **cause);
/* --where FIELD=VALUE: the pair, the field's name and the value. */
int argcheck_where(const char *arg, const char **field, size_t *flen,
    const char **value, char **cause);

/* FIELD=VALUE, FIELD+=ELEMENT, FIELD-=ELEMENT of samen put. */
struct argcheck_assign {
	int how;		/* CTL_ASSIGN_* */
	const char *field;	/* points into the argument */
	size_t flen;
	const char *value;	/* the rest of the argument */
};

/*
 * One assignment of samen put into a (pointing into arg), checked: the
 * character before '=' says which kind, so a field never ends in + or -.
 */
int argcheck_assign(const char *arg, struct argcheck_assign *a, char **cause);
/* --timeout SECONDS: more than 0, at most ARGCHECK_TIMEOUT_MAX. */
int argcheck_timeout(const char *s, double *secs, char **cause);
/* A role in a circle: admin, member or relay. */
int argcheck_role(const char *s, char **cause);
/* SEQ of a chain: a decimal number from 1 to 2^63 - 1. */
int argcheck_seq(const char *s, uint64_t *seq, char **cause);
/*
 * A retention period: a number and a unit, d (days), m (months of 30
 * days) or y (years of 365 days), at most ARGCHECK_KEEP_MAX days in all;
 * or "none" (0: no retention).  Into *days.
 */
#define ARGCHECK_KEEP_MAX 36500
int argcheck_duration(const char *s, uint32_t *days, char **cause);
/*
 * --since TIME: a UTC date and time as samen prints them, from the day
 * on: YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z], from 1970.  *ms: milliseconds
 * since 1970 (UTC).
 */
int argcheck_since(const char *s, uint64_t *ms, char **cause);

#endif
