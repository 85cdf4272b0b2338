/* log: the daemon's logging, in the OpenBSD set (log_warn adds errno's text). */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "clock.h"

static int log_stderr = 1;
static enum log_level log_level = LOG_LEVEL_INFO;

static const char *const names[] = { "error", "warn", "info", "debug" };

void
log_init(int to_stderr, enum log_level level, const char *ident)
{
	log_stderr = to_stderr;
	log_level = level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setlevel(enum log_level level)
{
	log_level = level;
}

enum log_level
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	return names[level];
}

static void
vlog(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[1024];
	uint64_t now;
	time_t secs;
	struct tm tm;
	char when[32];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_stderr) {
		if (errstr)
			syslog(prio[level], "%s: %s", msg, errstr);
		else
			syslog(prio[level], "%s", msg);
		return;
	}
	now = clock_wall_ms();
	secs = (time_t)(now / 1000);
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (errstr)
		fprintf(stderr, "%s.%03uZ %s: %s: %s\n", when,
		    (unsigned)(now % 1000), names[level], msg, errstr);
	else
		fprintf(stderr, "%s.%03uZ %s: %s\n", when,
		    (unsigned)(now % 1000), names[level], msg);
}

#define LOGFN(name, level, witherr)					\
void									\
name(const char *fmt, ...)						\
{									\
	va_list ap;							\
	int saved = errno;						\
									\
	va_start(ap, fmt);						\
	vlog(level, witherr ? strerror(saved) : NULL, fmt, ap);		\
	va_end(ap);							\
	errno = saved;							\
}

LOGFN(log_warn, LOG_LEVEL_WARN, 1)
LOGFN(log_warnx, LOG_LEVEL_WARN, 0)
LOGFN(log_info, LOG_LEVEL_INFO, 0)
LOGFN(log_debug, LOG_LEVEL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
