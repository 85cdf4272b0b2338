/* log: the daemon's logging, in the OpenBSD set (log_warn adds errno's text). */
#ifndef SAMEN_LOG_H
#define SAMEN_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/*
 * to_stderr: 1 logs to stderr with a level tag, 0 to syslog (daemonised).
 * Never pass record contents, passphrases or keys to these.
 */
void log_init(int to_stderr, enum log_level level, const char *ident);
void log_setlevel(enum log_level level);
enum log_level log_getlevel(void);
/* Parses "error", "warn", "info", "debug"; -1 if none. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
