/* error: samen's own error codes, next to -errno, and their messages. */
#ifndef SAMEN_ERROR_H
#define SAMEN_ERROR_H

/*
 * Functions return 0 or a negative code: -errno, or one of these.  Ours start
 * far below any errno so that the two never collide.  Codes are only ever
 * appended: they travel in control replies (see protocol.h).
 */
enum samen_error {
	SAMEN_EBASE = -10000,
	SAMEN_ETRUNC = SAMEN_EBASE,	/* input ends inside a value */
	SAMEN_ETYPE,			/* value of the wrong msgpack type */
	SAMEN_ENONCANON,		/* not the canonical (shortest) encoding */
	SAMEN_ETOOBIG,			/* length or count over the schema's cap */
	SAMEN_ETRAILING,		/* bytes after the last value */
	SAMEN_EDEPTH,			/* nesting deeper than allowed */
	SAMEN_EUTF8,			/* string is not valid UTF-8 */
	SAMEN_EVERSION,			/* unknown format or protocol version */
	SAMEN_ESIG,			/* signature does not verify */
	SAMEN_EHASH,			/* payload does not match its hash */
	SAMEN_EDECRYPT,			/* authenticated decryption failed */
	SAMEN_ECHAIN,			/* seq/prev do not continue the chain */
	SAMEN_EFORK,			/* second header for (author, circle, seq) */
	SAMEN_EDRIFT,			/* timestamp too far in the future */
	SAMEN_ENOTFOUND,		/* no such record or object */
	SAMEN_ELOCKED,			/* daemon is locked: unlock first */
	SAMEN_EPASSPHRASE,		/* wrong passphrase */
	SAMEN_EEXIST,			/* already exists */
	SAMEN_EINVAL,			/* invalid argument */
	SAMEN_EDELETED,			/* record was deleted */
	SAMEN_EPROTO,			/* malformed or unexpected message */
	SAMEN_EKEYFILE,			/* key file damaged or unsupported */
	SAMEN_EWEAKKDF,			/* key-derivation parameters below floor */
	SAMEN_ESTORE,			/* the store failed (SQLite) */
	SAMEN_EVALUE,			/* a value breaks the schema's rules */
	SAMEN_ERETRY,			/* not done this way: do it the careful way */
	SAMEN_EREVOKED,			/* this device was revoked: all erased */
	SAMEN_ELAST			/* not an error: one past the last */
};

/* Returns a static string; never NULL.  Handles -errno too. */
const char *samen_strerror(int code);
/* Returns a short stable name ("ENOTFOUND"), for JSON and counters. */
const char *samen_errname(int code);
/*
 * Sets *cause to the reason a person will read (printf; free with free())
 * and returns code: `return samen_fail(cause, SAMEN_EINVAL, "...")`.
 */
int samen_fail(char **cause, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
