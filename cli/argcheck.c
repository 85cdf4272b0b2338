/* argcheck: samen's checks of its arguments, so that what samend would refuse never leaves. */
#include "argcheck.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "protocol.h"
#include "util.h"

/* Sets *cause and says the argument is refused. */
static int __attribute__((format(printf, 2, 3)))
refuse(char **cause, const char *fmt, ...)
{
	char small[256];
	va_list ap, again;
	int n;

	/* Measure into a real buffer: gcc flags vsnprintf(NULL, 0, ...). */
	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0)
		die_oom(0);
	if ((size_t)n < sizeof(small))
		*cause = xstrdup(small);
	else {
		*cause = xmalloc((size_t)n + 1);
		vsnprintf(*cause, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	va_end(ap);
	return -EINVAL;
}

int
argcheck_collection(const char *s, char **cause)
{
	if (!ops_collection_valid(s, strlen(s)))
		return refuse(cause, "invalid collection name \"%s\": 1-%d of "
		    "a-z 0-9 _ -, starting with a letter", s,
		    OPS_MAX_COLLECTION);
	return 0;
}

int
argcheck_field(const char *s, size_t n, char **cause)
{
	if (!ops_field_valid(s, n))
		return refuse(cause, "invalid field name \"%.*s\": 1-%d of "
		    "A-Z a-z 0-9 _ -, starting with a letter or digit",
		    (int)n, s, OPS_MAX_FIELD);
	return 0;
}

int
argcheck_text(const char *what, const char *s, size_t max, char **cause)
{
	size_t n = strlen(s);

	if (n > max)
		return refuse(cause, "%s is too long: %zu bytes, at most %zu",
		    what, n, max);
	if (!utf8_valid(s, n))
		return refuse(cause, "%s is not valid UTF-8", what);
	return 0;
}

int
argcheck_rid(const char *s, char out[RID_TEXTLEN + 1], char **cause)
{
	uint8_t rid[RID_LEN];

	if (rid_decode(rid, s, strlen(s)) != 0)
		return refuse(cause, "invalid id \"%s\": expected the "
		    "%d-character id samen printed", s, RID_TEXTLEN);
	rid_encode(out, rid);
	return 0;
}

int
argcheck_devid(const char *s, char out[DEVID_TEXTLEN + 1], char **cause)
{
	uint8_t key[DEVID_KEYLEN];
	size_t n = strlen(s), i;
	unsigned char ch;

	if (n != DEVID_TEXTLEN)
		return refuse(cause, "invalid device id \"%s\": %zu "
		    "characters, expected %d (samen id prints it)", s, n,
		    DEVID_TEXTLEN);
	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '2' && ch <= '7'))
			continue;
		if (ch < 0x21 || ch > 0x7e)
			return refuse(cause, "invalid device id \"%s\": "
			    "character %zu is not one of a-z 2-7", s, i + 1);
		return refuse(cause, "invalid device id \"%s\": '%c' "
		    "(character %zu) is not one of a-z 2-7", s, ch, i + 1);
	}
	if (devid_decode(key, s, n) != 0)
		return refuse(cause, "invalid device id \"%s\": checksum "
		    "mismatch, probably a typo", s);
	devid_encode(out, key);
	return 0;
}

static int
is_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
}

int
argcheck_addr(const char *s, char **cause)
{
	const char *host, *colon, *p;
	size_t hlen, i;
	unsigned long port = 0;

	if (strncmp(s, "tcp://", 6) != 0)
		return refuse(cause, "invalid address \"%s\": expected "
		    "tcp://HOST:PORT", s);
	host = s + 6;
	if ((colon = strrchr(host, ':')) == NULL)
		return refuse(cause, "invalid address \"%s\": no :PORT", s);
	hlen = (size_t)(colon - host);
	if (hlen == 0)
		return refuse(cause, "invalid address \"%s\": no HOST", s);
	if (host[0] == '[') {
		if (hlen < 2 || host[hlen - 1] != ']')
			return refuse(cause, "invalid address \"%s\": no ] "
			    "after the IPv6 address", s);
		for (i = 1; i < hlen - 1; i++)
			if (strchr("0123456789abcdefABCDEF:.", host[i]) ==
			    NULL)
				break;
		if (i < hlen - 1 || memchr(host, ':', hlen) == NULL)
			return refuse(cause, "invalid address \"%s\": not an "
			    "IPv6 address in the [brackets]", s);
	} else {
		if (hlen > ARGCHECK_HOST_MAX)
			return refuse(cause, "invalid address \"%s\": HOST is "
			    "longer than %d bytes", s, ARGCHECK_HOST_MAX);
		for (i = 0; i < hlen; i++) {
			if (host[i] == ':')
				return refuse(cause, "invalid address \"%s\": "
				    "an IPv6 address goes in [brackets]", s);
			if (!is_host_char(host[i]))
				return refuse(cause, "invalid address \"%s\": "
				    "HOST may hold only A-Z a-z 0-9 . - _", s);
		}
	}
	for (p = colon + 1; *p >= '0' && *p <= '9' && p - colon <= 5; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (p == colon + 1 || *p != '\0' || port < 1 || port > 65535)
		return refuse(cause, "invalid address \"%s\": PORT must be a "
		    "number from 1 to 65535", s);
	return 0;
}

int
argcheck_circle(const char *s, char **cause)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			break;
	if (n == 0 || n > ARGCHECK_CIRCLE_MAX || i < n)
		return refuse(cause, "invalid circle name \"%s\": 1-%d of "
		    "A-Z a-z 0-9 _ -", s, ARGCHECK_CIRCLE_MAX);
	return 0;
}

int
argcheck_pair(const char *arg, const char **field, size_t *flen,
    const char **value, char **cause)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL)
		return refuse(cause, "expected FIELD=VALUE: \"%s\"", arg);
	*field = arg;
	*flen = (size_t)(eq - arg);
	*value = eq + 1;
	return 0;
}

int
argcheck_where(const char *arg, const char **field, size_t *flen,
    const char **value, char **cause)
{
	char what[OPS_MAX_FIELD + 32];
	int rc;

	if ((rc = argcheck_pair(arg, field, flen, value, cause)) != 0 ||
	    (rc = argcheck_field(*field, *flen, cause)) != 0)
		return rc;
	snprintf(what, sizeof(what), "value of %.*s", (int)*flen, *field);
	return argcheck_text(what, *value, OPS_MAX_VALUE, cause);
}

int
argcheck_assign(const char *arg, struct argcheck_assign *a, char **cause)
{
	char what[OPS_MAX_FIELD + 32];
	size_t max;
	int rc;

	if ((rc = argcheck_pair(arg, &a->field, &a->flen, &a->value,
	    cause)) != 0)
		return rc;
	a->how = CTL_ASSIGN_SET;
	max = OPS_MAX_VALUE;
	if (a->flen > 0 && (arg[a->flen - 1] == '+' ||
	    arg[a->flen - 1] == '-')) {
		a->how = arg[a->flen - 1] == '+' ? CTL_ASSIGN_ADD :
		    CTL_ASSIGN_REM;
		a->flen--;
		max = OPS_MAX_ELEMENT;
	}
	if ((rc = argcheck_field(a->field, a->flen, cause)) != 0)
		return rc;
	snprintf(what, sizeof(what), "%s of %.*s",
	    a->how == CTL_ASSIGN_SET ? "value" : "element", (int)a->flen,
	    a->field);
	return argcheck_text(what, a->value, max, cause);
}

int
argcheck_timeout(const char *s, double *secs, char **cause)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	/* The comparison also refuses NaN. */
	if (end == s || *end != '\0' || errno != 0 ||
	    !(d > 0 && d <= ARGCHECK_TIMEOUT_MAX))
		return refuse(cause, "--timeout: \"%s\" is not a number of "
		    "seconds (more than 0, at most %.0f)", s,
		    ARGCHECK_TIMEOUT_MAX);
	*secs = d;
	return 0;
}

int
argcheck_role(const char *s, char **cause)
{
	if (strcmp(s, "admin") != 0 && strcmp(s, "member") != 0 &&
	    strcmp(s, "relay") != 0)
		return refuse(cause, "invalid role \"%s\": admin, member or "
		    "relay", s);
	return 0;
}

int
argcheck_seq(const char *s, uint64_t *seq, char **cause)
{
	uint64_t v = 0;
	size_t i, n = strlen(s);

	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			break;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (n == 0 || i < n || v == 0)
		return refuse(cause, "invalid seq \"%s\": a number from 1 up "
		    "(samen circle quarantine lists them)", s);
	*seq = v;
	return 0;
}

int
argcheck_duration(const char *s, uint32_t *days, char **cause)
{
	uint64_t v = 0, unit;
	size_t i, n = strlen(s);

	if (strcmp(s, "none") == 0) {
		*days = 0;
		return 0;
	}
	for (i = 0; i < n && i < 6 && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	unit = i + 1 != n ? 0 : s[i] == 'd' ? 1 : s[i] == 'm' ? 30 :
	    s[i] == 'y' ? 365 : 0;
	if (i == 0 || unit == 0 || v == 0 || v * unit > ARGCHECK_KEEP_MAX)
		return refuse(cause, "invalid retention \"%s\": a number and "
		    "d, m (30 days) or y (365 days), up to %d days, such as "
		    "30d, 18m or 7y; or none", s, ARGCHECK_KEEP_MAX);
	*days = (uint32_t)(v * unit);
	return 0;
}

/* n digits of s at *i as a number into *v; 0, or -1. */
static int
digits(const char *s, size_t *i, int n, int *v)
{
	*v = 0;
	for (int k = 0; k < n; k++, (*i)++) {
		if (s[*i] < '0' || s[*i] > '9')
			return -1;
		*v = *v * 10 + (s[*i] - '0');
	}
	return 0;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
argcheck_since(const char *s, uint64_t *ms, char **cause)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, mo, d, h = 0, mi = 0, sec = 0, milli = 0;
	size_t i = 0;

	if (digits(s, &i, 4, &y) != 0 || s[i++] != '-' ||
	    digits(s, &i, 2, &mo) != 0 || s[i++] != '-' ||
	    digits(s, &i, 2, &d) != 0)
		goto bad;
	if (s[i] == 'T' || s[i] == ' ') {
		i++;
		if (digits(s, &i, 2, &h) != 0 || s[i++] != ':' ||
		    digits(s, &i, 2, &mi) != 0)
			goto bad;
		if (s[i] == ':') {
			i++;
			if (digits(s, &i, 2, &sec) != 0)
				goto bad;
			if (s[i] == '.') {
				i++;
				if (digits(s, &i, 3, &milli) != 0)
					goto bad;
			}
		}
	}
	if (s[i] == 'Z')
		i++;
	if (s[i] != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] || (mo == 2 && d == 29 && (y % 4 != 0 ||
	    (y % 100 == 0 && y % 400 != 0))) || h > 23 || mi > 59 || sec > 59)
		goto bad;
	*ms = (uint64_t)(((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) *
	    60 + sec) * 1000 + (uint64_t)milli;
	return 0;
bad:
	return refuse(cause, "invalid time \"%s\": a UTC date from 1970 "
	    "on, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]", s);
}
