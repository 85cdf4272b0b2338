/* conf: the daemon's configuration, parsed and validated from one table. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "util.h"

enum conf_type { CONF_INT, CONF_LOGLEVEL, CONF_STR };

static const struct conf_entry {
	const char *name;
	enum conf_type type;
	size_t offset;
	long min;
	long max;
	long def;
	int reloadable;
	const char *help;	/* one line: samend --check-config */
	/*
	 * The whole story, in sentences, for samen.conf(5) and the example
	 * file (man/confdoc.c); the range, the default and whether a reload
	 * takes it are added from the other fields.
	 */
	const char *doc;
} table[] = {
	{ "log_level", CONF_LOGLEVEL, offsetof(struct conf, log_level),
	  LOG_LEVEL_ERROR, LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, 1,
	  "error, warn, info or debug; -v on the command line adds one step",
	  "How much samend logs: error, warn, info or debug. "
	  "Each -v on the command line adds one step." },
	{ "batch_max", CONF_INT, offsetof(struct conf, batch_max),
	  1, 65536, 256, 1,
	  "control requests taken into one transaction (group commit)",
	  "Control requests taken into one transaction (group commit): "
	  "writes that arrive together share one fsync." },
	{ "wal_autocheckpoint", CONF_INT, offsetof(struct conf, wal_autocheckpoint),
	  100, 1000000, 16000, 0,
	  "WAL pages after which the WAL starts over (samend copies them "
	  "into the database on its thread pool: no write waits for it)",
	  "WAL pages (4 KiB) after which the WAL starts over. "
	  "samend copies them into the database on a thread of its own (no "
	  "write waits for it), in small steps from 500 pages on (an eighth "
	  "of this, if less), and all of it a second after the last write. "
	  "Starting over holds the writes in flight for a millisecond or two, "
	  "so it is rare: a stream of writes starts the WAL over near this "
	  "size, a faster one (a sync) at most at twice it. "
	  "samend writes the WAL to twice this at start (at most 64 MiB), so "
	  "that syncs overwrite blocks instead of growing the file. "
	  "Larger: the WAL starts over less often, for a larger WAL file." },
	{ "listen", CONF_STR, offsetof(struct conf, listen), 0, 0, 0, 0,
	  "where peers connect: tcp://ADDR:PORT, empty for nowhere "
	  "(samend --listen overrides)",
	  "Where peers connect: tcp://ADDR:PORT (for example "
	  "tcp://0.0.0.0:7400); empty: this device only connects out. "
	  "samend --listen overrides it." },
	{ "peers", CONF_STR, offsetof(struct conf, peers), 0, 0, 0, 0,
	  "static peers, comma-separated DEVICE_ID@tcp://HOST:PORT",
	  "Static peers, comma-separated DEVICE_ID@tcp://HOST:PORT. "
	  "Peers added with \"samen peer add\" are kept in the database "
	  "instead." },
	{ "sync_interval", CONF_INT, offsetof(struct conf, sync_interval),
	  0, 86400, 60, 1,
	  "seconds between syncs with each peer; 0: only on connect and "
	  "'samen sync'",
	  "Seconds between syncs with each peer that has an address; 0: sync "
	  "only on connect and on \"samen sync\"." },
	{ "beacon", CONF_INT, offsetof(struct conf, beacon), 0, 1, 0, 0,
	  "1: announce this device on the local network by UDP broadcast, "
	  "and listen for others",
	  "1: announce this device (its id and listen port, nothing else) by "
	  "UDP broadcast on the local network, and listen for other devices' "
	  "beacons. "
	  "A beacon from an unknown device is only logged." },
	{ "beacon_port", CONF_INT, offsetof(struct conf, beacon_port),
	  1, 65535, 7401, 0,
	  "UDP port of the beacon",
	  "UDP port of the beacon." },
	{ "beacon_addr", CONF_STR, offsetof(struct conf, beacon_addr),
	  0, 0, 0, 0,
	  "where beacons are broadcast (empty: 255.255.255.255)",
	  "Where beacons are broadcast; empty: 255.255.255.255 (the local "
	  "network). "
	  "127.255.255.255 keeps them on this host (the demo)." },
	{ "max_clock_skew", CONF_INT, offsetof(struct conf, max_clock_skew),
	  1, 86400, 600, 0,
	  "seconds a peer's change set may be dated ahead of our clock; "
	  "later ones are held back",
	  "Seconds a change set from a peer may be dated ahead of this "
	  "device's clock. "
	  "One dated later is stored but held back: not shown until this "
	  "device's clock gets there, logged as clock skew, and the peer "
	  "is told. "
	  "This device's own clock, found further ahead than this (it was "
	  "wrong, and was set right), takes the wall clock again for the "
	  "next write." },
	{ "metrics_file", CONF_STR, offsetof(struct conf, metrics_file),
	  0, 0, 0, 0,
	  "where the metrics are written for node_exporter (empty: nowhere)",
	  "Where samend writes its metrics (the text \"samen metrics\" "
	  "prints) every metrics_interval seconds, for node_exporter's "
	  "textfile collector: name it NAME.prom in the collector's "
	  "directory. "
	  "Empty: no file. "
	  "A relative path is taken from the data directory. "
	  "The file is replaced atomically, is readable by every user (it "
	  "holds counts and device ids, never records or names), and is "
	  "removed when samend stops. "
	  "Under the systemd unit its directory must be writable: add it "
	  "with ReadWritePaths= (systemctl --user edit samend)." },
	{ "metrics_interval", CONF_INT, offsetof(struct conf, metrics_interval),
	  1, 3600, 15, 0,
	  "seconds between two writes of metrics_file",
	  "Seconds between two writes of metrics_file." },
	{ "lock_after_idle", CONF_INT, offsetof(struct conf, lock_after_idle),
	  0, 86400, 0, 1,
	  "seconds without a control request that uses the keys before "
	  "samend locks itself; 0: never",
	  "Seconds without a control request that uses the keys (reads, "
	  "writes, circles, sync; not status, metrics or the peer table) before "
	  "samend locks itself, as \"samen lock\" does: it drops its keys "
	  "and the records it holds in memory, and stops syncing until "
	  "\"samen unlock\". "
	  "0: never. "
	  "Keys without a passphrase (samen init --no-passphrase) never "
	  "lock, and samend says so in its log." },
	{ "audit_retention", CONF_INT, offsetof(struct conf, audit_retention),
	  1826, 36525, 1826, 1,
	  "days the read audit's events are kept (at least five years)",
	  "Days the read audit's events (who read which record, when; "
	  "NEN 7513) are kept: at least 1826, five years. "
	  "Older ones are erased at start and then daily, from this "
	  "device's audit change sets and from those it carries for "
	  "others (a relay's too): their headers stay, the events go. "
	  "A purge of a record does not erase the events that name it." },
};

#define NENTRIES (sizeof(table) / sizeof(table[0]))

static int *
field(struct conf *c, const struct conf_entry *e)
{
	return (int *)(void *)((char *)c + e->offset);
}

static const int *
cfield(const struct conf *c, const struct conf_entry *e)
{
	return (const int *)(const void *)((const char *)c + e->offset);
}

static char *
sfield(struct conf *c, const struct conf_entry *e)
{
	return (char *)c + e->offset;
}

static const char *
csfield(const struct conf *c, const struct conf_entry *e)
{
	return (const char *)c + e->offset;
}

static int
same(const struct conf *a, const struct conf *b, const struct conf_entry *e)
{
	if (e->type == CONF_STR)
		return strcmp(csfield(a, e), csfield(b, e)) == 0;
	return *cfield(a, e) == *cfield(b, e);
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NENTRIES; i++)
		if (table[i].type != CONF_STR)
			*field(c, &table[i]) = (int)table[i].def;
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int
parse_value(const struct conf_entry *e, const char *v, long *out,
    const char **why)
{
	char *end;
	long n;

	if (e->type == CONF_LOGLEVEL) {
		n = log_level_parse(v);
		if (n < 0) {
			*why = "expected error, warn, info or debug";
			return -1;
		}
		*out = n;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0') {
		*why = "expected a whole number";
		return -1;
	}
	if (n < e->min || n > e->max) {
		*why = "out of range";
		return -1;
	}
	*out = n;
	return 0;
}

/* Reads the lines of f into *c; path names it in the messages. */
static int
parse(struct conf *c, FILE *f, const char *path, char **cause)
{
	/* Room for the longest value and its name, as conf_print writes it:
	 * what --check-config prints must load. */
	char line[CONF_STRLEN + 64];
	unsigned lineno = 0;

	while (fgets(line, sizeof(line), f) != NULL) {
		char *s, *eq, *name, *value;
		const struct conf_entry *e = NULL;
		const char *why;
		long v;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			*cause = xasprintf("%s:%u: line too long", path, lineno);
			goto bad;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (strcmp(s, "[samend]") == 0)
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			*cause = xasprintf("%s:%u: expected name = value", path,
			    lineno);
			goto bad;
		}
		*eq = '\0';
		name = trim(s);
		value = trim(eq + 1);
		for (size_t i = 0; i < NENTRIES; i++)
			if (strcmp(name, table[i].name) == 0)
				e = &table[i];
		if (e == NULL) {
			*cause = xasprintf("%s:%u: unknown option '%s'", path,
			    lineno, name);
			goto bad;
		}
		if (e->type == CONF_STR) {
			if (strlen(value) >= CONF_STRLEN) {
				*cause = xasprintf("%s:%u: %s: too long", path,
				    lineno, name);
				goto bad;
			}
			strcpy(sfield(c, e), value);
			continue;
		}
		if (parse_value(e, value, &v, &why) != 0) {
			if (e->type == CONF_INT)
				*cause = xasprintf("%s:%u: %s: %s (%ld to %ld)",
				    path, lineno, name, why, e->min, e->max);
			else
				*cause = xasprintf("%s:%u: %s: %s", path,
				    lineno, name, why);
			goto bad;
		}
		*field(c, e) = (int)v;
	}
	if (ferror(f)) {
		*cause = xasprintf("%s: read error", path);
		goto bad;
	}
	return 0;
bad:
	return SAMEN_EINVAL;
}

int
conf_load(struct conf *c, const char *path, int must_exist, char **cause)
{
	FILE *f;
	int rc;

	conf_defaults(c);
	*cause = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -errno;
	}
	rc = parse(c, f, path, cause);
	fclose(f);
	return rc;
}

int
conf_parse(struct conf *c, const char *text, size_t len, const char *name,
    char **cause)
{
	FILE *f;
	int rc;

	conf_defaults(c);
	*cause = NULL;
	if (len == 0)
		return 0;	/* fmemopen wants at least one byte */
	if ((f = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL) {
		*cause = xasprintf("%s: %s", name, strerror(errno));
		return -errno;
	}
	rc = parse(c, f, name, cause);
	fclose(f);
	return rc;
}

void
conf_print(FILE *f, const struct conf *c)
{
	for (size_t i = 0; i < NENTRIES; i++) {
		const struct conf_entry *e = &table[i];
		fprintf(f, "# %s%s\n", e->help,
		    e->reloadable ? "" : " (restart to change)");
		if (e->type == CONF_STR)
			fprintf(f, "%s = %s\n", e->name, csfield(c, e));
		else if (e->type == CONF_LOGLEVEL)
			fprintf(f, "%s = %s\n", e->name,
			    log_level_name(*cfield(c, e)));
		else
			fprintf(f, "%s = %d\n", e->name, *cfield(c, e));
	}
}

void
conf_apply_reload(struct conf *cur, const struct conf *next, char **ignored)
{
	*ignored = NULL;
	for (size_t i = 0; i < NENTRIES; i++) {
		const struct conf_entry *e = &table[i];
		char *s;

		if (same(cur, next, e))
			continue;
		if (e->reloadable && e->type != CONF_STR) {
			*field(cur, e) = *cfield(next, e);
			continue;
		}
		if (*ignored == NULL)
			*ignored = xstrdup(e->name);
		else {
			s = xasprintf("%s, %s", *ignored, e->name);
			free(*ignored);
			*ignored = s;
		}
	}
}

size_t
conf_noptions(void)
{
	return NENTRIES;
}

void
conf_option(size_t i, struct conf_option *o)
{
	const struct conf_entry *e = &table[i];

	memset(o, 0, sizeof(*o));
	o->name = e->name;
	o->help = e->help;
	o->doc = e->doc;
	o->reloadable = e->reloadable;
	o->min = e->min;
	o->max = e->max;
	switch (e->type) {
	case CONF_INT:
		o->type = "number";
		snprintf(o->def, sizeof(o->def), "%ld", e->def);
		break;
	case CONF_LOGLEVEL:
		o->type = "level";
		snprintf(o->def, sizeof(o->def), "%s",
		    log_level_name((enum log_level)e->def));
		break;
	case CONF_STR:
		o->type = "string";
		break;
	}
}
