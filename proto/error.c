/* error: samen's own error codes, next to -errno, and their messages. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const struct {
	const char *name;
	const char *text;
} errors[] = {
	{ "ETRUNC", "input is truncated" },
	{ "ETYPE", "value has the wrong type" },
	{ "ENONCANON", "encoding is not canonical" },
	{ "ETOOBIG", "length or count over the limit" },
	{ "ETRAILING", "trailing bytes after the message" },
	{ "EDEPTH", "nesting too deep" },
	{ "EUTF8", "string is not valid UTF-8" },
	{ "EVERSION", "unsupported version" },
	{ "ESIG", "signature does not verify" },
	{ "EHASH", "payload does not match its hash" },
	{ "EDECRYPT", "decryption failed" },
	{ "ECHAIN", "change set does not continue its author's chain" },
	{ "EFORK", "fork: two change sets with one sequence number" },
	{ "EDRIFT", "timestamp too far in the future (clock skew)" },
	{ "ENOTFOUND", "not found" },
	{ "ELOCKED", "the daemon is locked" },
	{ "EPASSPHRASE", "wrong passphrase" },
	{ "EEXIST", "already exists" },
	{ "EINVAL", "invalid argument" },
	{ "EDELETED", "record was deleted" },
	{ "EPROTO", "malformed or unexpected message" },
	{ "EKEYFILE", "key file is damaged or of an unsupported kind" },
	{ "EWEAKKDF", "key-derivation parameters are below the floor" },
	{ "ESTORE", "storage error" },
	{ "EVALUE", "value breaks the schema" },
	{ "ERETRY", "not done: try again the careful way" },
	{ "EREVOKED", "this device was revoked: its data and keys are erased" },
};

_Static_assert(sizeof(errors) / sizeof(errors[0]) == SAMEN_ELAST - SAMEN_EBASE,
    "one message per error code");

const char *
samen_strerror(int code)
{
	if (code >= SAMEN_EBASE && code < SAMEN_ELAST)
		return errors[code - SAMEN_EBASE].text;
	if (code < 0 && code > -4096)
		return strerror(-code);
	return code == 0 ? "success" : "unknown error";
}

const char *
samen_errname(int code)
{
	if (code >= SAMEN_EBASE && code < SAMEN_ELAST)
		return errors[code - SAMEN_EBASE].name;
	return code == 0 ? "OK" : "ESYSTEM";
}

int
samen_fail(char **cause, int code, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	*cause = xstrdup(buf);
	return code;
}
