/* cmd: samen's commands: check the arguments, send one request, print the reply. */
#include "cmd.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "devid.h"
#include "error.h"
#include "keywrap.h"
#include "ops.h"
#include "output.h"
#include "protocol.h"
#include "reply.h"
#include "rid.h"
#include "util.h"
#include "wire.h"

#define PASS_MAX 1024		/* bytes of a passphrase */
#define KEYS_FILE "keys"
#define KEYS_MAX 65536		/* a key file is a few hundred bytes */
#define USAGE_COLS 26		/* where the summaries of samen --help start */
#define CIRCLE_NAME_MAX 64	/* bytes of a circle name (docs/api.md) */
#define ADDR_HOST_MAX 253	/* a DNS name; an IPv6 address is shorter */
#define SYNC_TIMEOUT_S 60	/* sync --wait without --timeout */
#define SYNC_TIMEOUT_MAX 1e6	/* seconds: twelve days is patience enough */
#define SYNC_POLL_MS 200	/* between two peer ls while waiting */

/* Errors. */

static int __attribute__((format(printf, 2, 3)))
complain(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("samen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

#define usage_error(...) complain(CMD_EXIT_USAGE, __VA_ARGS__)
#define failure(...) complain(CMD_EXIT_FAIL, __VA_ARGS__)

/* Arguments: everything the daemon would refuse is refused here first. */

static int
check_collection(const char *s)
{
	if (!ops_collection_valid(s, strlen(s)))
		return usage_error("invalid collection name \"%s\": 1-%d of "
		    "a-z 0-9 _ -, starting with a letter", s,
		    OPS_MAX_COLLECTION);
	return 0;
}

static int
check_field(const char *s, size_t n)
{
	if (!ops_field_valid(s, n))
		return usage_error("invalid field name \"%.*s\": 1-%d of "
		    "A-Z a-z 0-9 _ -, starting with a letter or digit",
		    (int)n, s, OPS_MAX_FIELD);
	return 0;
}

/* what names the value in the message ("value of status", "text"). */
static int
check_text(const char *what, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return usage_error("%s is too long: %zu bytes, at most %zu",
		    what, n, max);
	if (!utf8_valid(s, n))
		return usage_error("%s is not valid UTF-8", what);
	return 0;
}

/* Checks a record id and writes its canonical text (upper case) to out. */
static int
check_rid(const char *s, char out[RID_TEXTLEN + 1])
{
	uint8_t rid[RID_LEN];

	if (rid_decode(rid, s, strlen(s)) != 0)
		return usage_error("invalid id \"%s\": expected the "
		    "%d-character id samen printed", s, RID_TEXTLEN);
	rid_encode(out, rid);
	return 0;
}

/*
 * Checks a device id and writes its canonical text (lower case) to out.
 * A mistyped id is caught here, before the daemon is asked, and the message
 * says what is wrong with it: length, a character base32 does not have, or
 * the checksum.
 */
static int
check_devid(const char *s, char out[DEVID_TEXTLEN + 1])
{
	uint8_t key[DEVID_KEYLEN];
	size_t n = strlen(s), i;
	unsigned char ch;

	if (n != DEVID_TEXTLEN)
		return usage_error("invalid device id \"%s\": %zu characters, "
		    "expected %d (samen id prints it)", s, n, DEVID_TEXTLEN);
	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '2' && ch <= '7'))
			continue;
		if (ch < 0x21 || ch > 0x7e)
			return usage_error("invalid device id \"%s\": character "
			    "%zu is not one of a-z 2-7", s, i + 1);
		return usage_error("invalid device id \"%s\": '%c' (character "
		    "%zu) is not one of a-z 2-7", s, ch, i + 1);
	}
	if (devid_decode(key, s, n) != 0)
		return usage_error("invalid device id \"%s\": checksum "
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

/*
 * tcp://HOST:PORT, the only transport peers use.  HOST is a name or an IPv4
 * address, or an IPv6 address in brackets (ZeroMQ's form); PORT 1-65535 in
 * decimal.  Names are not resolved here: the daemon connects later, and
 * again when the address stops answering.
 */
static int
check_addr(const char *s)
{
	const char *host, *colon, *p;
	size_t hlen, i;
	unsigned long port = 0;

	if (strncmp(s, "tcp://", 6) != 0)
		return usage_error("invalid address \"%s\": expected "
		    "tcp://HOST:PORT", s);
	host = s + 6;
	if ((colon = strrchr(host, ':')) == NULL)
		return usage_error("invalid address \"%s\": no :PORT", s);
	hlen = (size_t)(colon - host);
	if (hlen == 0)
		return usage_error("invalid address \"%s\": no HOST", s);
	if (host[0] == '[') {
		if (hlen < 2 || host[hlen - 1] != ']')
			return usage_error("invalid address \"%s\": no ] "
			    "after the IPv6 address", s);
		for (i = 1; i < hlen - 1; i++)
			if (strchr("0123456789abcdefABCDEF:.", host[i]) ==
			    NULL)
				break;
		if (i < hlen - 1 || memchr(host, ':', hlen) == NULL)
			return usage_error("invalid address \"%s\": not an "
			    "IPv6 address in the [brackets]", s);
	} else {
		if (hlen > ADDR_HOST_MAX)
			return usage_error("invalid address \"%s\": HOST is "
			    "longer than %d bytes", s, ADDR_HOST_MAX);
		for (i = 0; i < hlen; i++) {
			if (host[i] == ':')
				return usage_error("invalid address \"%s\": "
				    "an IPv6 address goes in [brackets]", s);
			if (!is_host_char(host[i]))
				return usage_error("invalid address \"%s\": "
				    "HOST may hold only A-Z a-z 0-9 . - _", s);
		}
	}
	for (p = colon + 1; *p >= '0' && *p <= '9' && p - colon <= 5; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (p == colon + 1 || *p != '\0' || port < 1 || port > 65535)
		return usage_error("invalid address \"%s\": PORT must be a "
		    "number from 1 to 65535", s);
	return 0;
}

static int
check_circle(const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			break;
	if (n == 0 || n > CIRCLE_NAME_MAX || i < n)
		return usage_error("invalid circle name \"%s\": 1-%d of "
		    "A-Z a-z 0-9 _ -", s, CIRCLE_NAME_MAX);
	return 0;
}

/* Splits FIELD=VALUE (where) at the first '='. */
static int
split_pair(const char *arg, const char **field, size_t *flen,
    const char **value)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL)
		return usage_error("expected FIELD=VALUE: \"%s\"", arg);
	*field = arg;
	*flen = (size_t)(eq - arg);
	*value = eq + 1;
	return 0;
}

/* Requests. */

static void
req_start(struct wbuf *w, enum ctl_type type, uint32_t nargs)
{
	wire_init(w);
	wire_put_array(w, 3);
	wire_put_u64(w, SAMEN_PROTOCOL_VERSION);
	wire_put_u64(w, type);
	wire_put_array(w, nargs);
}

static int
exit_for_client(int rc)
{
	switch (rc) {
	case -ENAMETOOLONG:
	case -EINVAL:
		return CMD_EXIT_USAGE;
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -ECONNRESET:	/* it stopped with our request: not running */
		return CMD_EXIT_DOWN;
	default:
		return CMD_EXIT_FAIL;
	}
}

/*
 * Sends the request in w (and frees w), parses the reply into *rp.  Returns
 * 0 with *rp to free, or the exit code after printing why.
 */
static int
call(struct cmd_ctx *c, struct wbuf *w, struct reply *rp)
{
	uint8_t *rep;
	size_t replen;
	char *cause = NULL;
	int rc, code;

	if (wire_len(w) > CTL_MAX_REQUEST) {
		rc = usage_error("request too large: %zu bytes, at most %u",
		    wire_len(w), CTL_MAX_REQUEST);
		wire_free(w);
		return rc;
	}
	rc = client_call(c->dir, wire_data(w), wire_len(w), &rep, &replen,
	    &cause);
	/* The request may hold a passphrase. */
	if (wire_len(w) > 0)
		sodium_memzero(w->sb.data, wire_len(w));
	wire_free(w);
	if (rc != 0) {
		complain(0, "%s", cause);
		free(cause);
		return exit_for_client(rc);
	}
	rc = reply_parse(rp, rep, replen);
	free(rep);
	if (rc != 0)
		return failure("malformed reply from samend: %s",
		    samen_strerror(rc));
	if (rp->code != 0) {
		code = rp->code;
		complain(0, "%s", rp->message[0] != '\0' ? rp->message :
		    samen_strerror(code));
		reply_free(rp);
		return code == SAMEN_ELOCKED ? CMD_EXIT_LOCKED : CMD_EXIT_FAIL;
	}
	return 0;
}

/* Sends w and prints the body with human() or as JSON. */
static int
run(struct cmd_ctx *c, struct wbuf *w,
    void (*human)(FILE *, const struct reply_node *))
{
	struct reply rp;
	int rc;

	if ((rc = call(c, w, &rp)) != 0)
		return rc;
	if (c->json)
		output_json(stdout, rp.body);
	else if (human != NULL)
		human(stdout, rp.body);
	reply_free(&rp);
	return 0;
}

/* Requests of the shape [collection, rid]. */
static int
run_record(struct cmd_ctx *c, enum ctl_type type,
    void (*human)(FILE *, const struct reply_node *))
{
	struct wbuf w;
	char rid[RID_TEXTLEN + 1];
	int rc;

	if ((rc = check_collection(c->argv[0])) != 0 ||
	    (rc = check_rid(c->argv[1], rid)) != 0)
		return rc;
	req_start(&w, type, 2);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, rid);
	return run(c, &w, human);
}

/* Files. */

static char *
dir_file(const struct cmd_ctx *c, const char *name)
{
	return xasprintf("%s/%s", c->dir, name);
}

/* Reads DIR/keys into *buf (free with free()).  Returns 0 or an exit code. */
static int
read_keys(const struct cmd_ctx *c, uint8_t **buf, size_t *len, int quiet)
{
	char *path = dir_file(c, KEYS_FILE);
	uint8_t *p;
	size_t n = 0;
	ssize_t r;
	int fd, err;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err = errno;
		if (!quiet && err == ENOENT)
			failure("no device identity in %s: run samen init",
			    c->dir);
		else if (!quiet)
			failure("%s: %s", path, strerror(err));
		free(path);
		return CMD_EXIT_FAIL;
	}
	p = xmalloc(KEYS_MAX + 1);
	while (n <= KEYS_MAX && (r = read(fd, p + n, KEYS_MAX + 1 - n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			err = errno;
			close(fd);
			free(p);
			if (!quiet)
				failure("%s: %s", path, strerror(err));
			free(path);
			return CMD_EXIT_FAIL;
		}
		n += (size_t)r;
	}
	close(fd);
	if (n > KEYS_MAX) {
		free(p);
		if (!quiet)
			failure("%s: %s", path, samen_strerror(SAMEN_EKEYFILE));
		free(path);
		return CMD_EXIT_FAIL;
	}
	free(path);
	*buf = p;
	*len = n;
	return 0;
}

/*
 * Writes DIR/name so that a crash leaves the old state or the new one:
 * a temporary file, fsync, rename, fsync of the directory.
 */
static int
write_atomic(const struct cmd_ctx *c, const char *name, const uint8_t *p,
    size_t n, mode_t mode)
{
	char *path = dir_file(c, name);
	char *tmp = xasprintf("%s.tmp", path);
	const char *what = tmp;
	size_t off = 0;
	ssize_t r;
	int fd, dfd, err = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd == -1) {
		err = errno;
		goto out;
	}
	/* A stale temporary file keeps its old mode through O_TRUNC. */
	if (fchmod(fd, mode) == -1)
		err = errno;
	while (err == 0 && off < n) {
		if ((r = write(fd, p + off, n - off)) == -1) {
			if (errno != EINTR)
				err = errno;
			continue;
		}
		off += (size_t)r;
	}
	if (err == 0 && fsync(fd) == -1)
		err = errno;
	if (close(fd) == -1 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) == -1)
		err = errno;
	if (err != 0) {
		unlink(tmp);
		goto out;
	}
	/* The rename itself is durable only once the directory is synced. */
	what = c->dir;
	if ((dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1)
		err = errno;
	if (dfd != -1)
		close(dfd);
out:
	if (err != 0)
		failure("%s: %s", what, strerror(err));
	free(tmp);
	free(path);
	return err != 0 ? CMD_EXIT_FAIL : 0;
}

static int
dir_is_empty(const char *path)
{
	DIR *d;
	struct dirent *de;
	int empty = 1;

	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

/*
 * mkdir -p: parents get the usual 0777 less umask, the data directory
 * itself 0700 (other users of the machine must not reach the control
 * socket).  An existing empty directory is made 0700 as well; a directory
 * already in use keeps the mode its owner gave it.
 */
static int
make_data_dir(const char *dir)
{
	char *p = xstrdup(dir), *s;
	struct stat sb;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) == -1 && errno != EEXIST) {
			failure("%s: %s", p, strerror(errno));
			free(p);
			return CMD_EXIT_FAIL;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(dir, 0700) == 0) {
		/* The umask may have taken bits we want. */
		if (chmod(dir, 0700) == -1)
			return failure("%s: %s", dir, strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return failure("%s: %s", dir, strerror(errno));
	if (stat(dir, &sb) == -1)
		return failure("%s: %s", dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return failure("%s: not a directory", dir);
	if ((sb.st_mode & 07777) != 0700 && dir_is_empty(dir) &&
	    chmod(dir, 0700) == -1)
		return failure("%s: %s", dir, strerror(errno));
	return 0;
}

/* Passphrases. */

struct pass {
	char buf[PASS_MAX + 2];
	size_t len;
};

static void
pass_wipe(struct pass *p)
{
	sodium_memzero(p, sizeof(*p));
}

/* Checks a passphrase once it is in p->buf[0..len); NUL-terminates it. */
static int
pass_check(struct pass *p, const char *source)
{
	if (p->len > PASS_MAX)
		return usage_error("passphrase from %s is longer than %d bytes",
		    source, PASS_MAX);
	p->buf[p->len] = '\0';
	if (memchr(p->buf, '\0', p->len) != NULL)
		return usage_error("passphrase from %s holds a NUL byte",
		    source);
	if (p->len == 0)
		return usage_error("empty passphrase from %s", source);
	return 0;
}

/*
 * The first line of path.  read(2) into our own buffer rather than stdio,
 * whose buffers would keep a copy we cannot wipe.
 */
static int
pass_from_file(struct pass *p, const char *path)
{
	size_t n = 0;
	ssize_t r;
	char *nl = NULL;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return failure("%s: %s", path, strerror(errno));
	while (n < sizeof(p->buf) - 1) {
		r = read(fd, p->buf + n, sizeof(p->buf) - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			close(fd);
			return failure("%s: %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if ((nl = memchr(p->buf, '\n', n)) != NULL)
			break;
	}
	close(fd);
	p->len = nl != NULL ? (size_t)(nl - p->buf) : n;
	/* The rest of the file may be secret too. */
	sodium_memzero(p->buf + p->len, sizeof(p->buf) - p->len);
	if (p->len > 0 && p->buf[p->len - 1] == '\r')
		p->buf[--p->len] = '\0';
	return pass_check(p, path);
}

static int
pass_from_env(struct pass *p, const char *s)
{
	p->len = strlen(s);
	if (p->len > PASS_MAX)
		return usage_error("passphrase from SAMEN_PASSPHRASE is longer "
		    "than %d bytes", PASS_MAX);
	memcpy(p->buf, s, p->len);
	return pass_check(p, "SAMEN_PASSPHRASE");
}

/*
 * The terminal's settings while echo is off.  A signal in the middle of the
 * prompt must not leave the terminal without echo: the handler puts the
 * settings back and dies of the signal as it would have.
 */
static int tty_fd = -1;
static struct termios tty_saved;
static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void
tty_signal(int sig)
{
	if (tty_fd != -1)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
tty_ask(int fd, const char *prompt, struct pass *p)
{
	struct sigaction sa, old[sizeof(tty_signals) / sizeof(tty_signals[0])];
	struct termios t;
	size_t i, n = 0;
	ssize_t r;
	char ch;
	int rc = 0, eof = 0;

	if (write(fd, prompt, strlen(prompt)) == -1 ||
	    tcgetattr(fd, &tty_saved) == -1)
		return failure("/dev/tty: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_signal;
	sigemptyset(&sa.sa_mask);
	tty_fd = fd;
	for (i = 0; i < sizeof(tty_signals) / sizeof(tty_signals[0]); i++)
		sigaction(tty_signals[i], &sa, &old[i]);
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)ECHO;
	t.c_lflag |= ECHONL;
	if (tcsetattr(fd, TCSAFLUSH, &t) == -1)
		rc = failure("/dev/tty: %s", strerror(errno));
	/* Byte by byte, so that nothing past the line is read. */
	while (rc == 0) {
		r = read(fd, &ch, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			rc = failure("/dev/tty: %s", strerror(errno));
			break;
		}
		if (r == 0) {
			eof = 1;
			break;
		}
		if (ch == '\n')
			break;
		if (n < sizeof(p->buf) - 1)
			p->buf[n++] = ch;
	}
	ch = 0;
	tcsetattr(fd, TCSAFLUSH, &tty_saved);
	tty_fd = -1;
	for (i = 0; i < sizeof(tty_signals) / sizeof(tty_signals[0]); i++)
		sigaction(tty_signals[i], &old[i], NULL);
	if (eof && write(fd, "\n", 1) == -1)
		rc = failure("/dev/tty: %s", strerror(errno));
	if (rc != 0)
		return rc;
	p->len = n;
	if (p->len > 0 && p->buf[p->len - 1] == '\r')
		p->len--;
	return pass_check(p, "the terminal");
}

/*
 * The passphrase from --passphrase-file, else $SAMEN_PASSPHRASE, else the
 * terminal: asked twice when creating (confirm), once when unlocking.
 */
static int
pass_get(const struct cmd_ctx *c, struct pass *p, int confirm)
{
	struct pass again;
	const char *env;
	char *prompt;
	int fd, rc;

	memset(p, 0, sizeof(*p));
	if (c->passphrase_file != NULL)
		return pass_from_file(p, c->passphrase_file);
	if ((env = getenv("SAMEN_PASSPHRASE")) != NULL)
		return pass_from_env(p, env);
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		return usage_error("no terminal to ask for the passphrase: use "
		    "--passphrase-file FILE or set SAMEN_PASSPHRASE%s",
		    confirm ? ", or --no-passphrase" : "");
	prompt = xasprintf("%s for %s: ", confirm ? "New passphrase" :
	    "Passphrase", c->dir);
	rc = tty_ask(fd, prompt, p);
	free(prompt);
	if (rc == 0 && confirm) {
		memset(&again, 0, sizeof(again));
		rc = tty_ask(fd, "Repeat the passphrase: ", &again);
		if (rc == 0 && (again.len != p->len ||
		    sodium_memcmp(again.buf, p->buf, p->len) != 0))
			rc = failure("the passphrases do not match");
		pass_wipe(&again);
	}
	close(fd);
	return rc;
}

/* Commands without the daemon. */

int
cmd_init(struct cmd_ctx *c)
{
	struct keywrap_secrets sec;
	struct pass pass;
	struct stat sb;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t salt[16], nonce[24];
	uint8_t *file = NULL;
	size_t filelen;
	char devid[DEVID_TEXTLEN + 1];
	char *path, *cause = NULL;
	int rc;

	if (c->no_passphrase && c->passphrase_file != NULL)
		return usage_error("--no-passphrase and --passphrase-file "
		    "exclude each other");
	/* A data directory without room for the socket is of no use. */
	if (client_check_path(c->dir, &cause) != 0) {
		rc = usage_error("%s", cause);
		free(cause);
		return rc;
	}
	path = dir_file(c, KEYS_FILE);
	if (lstat(path, &sb) == 0) {
		rc = failure("%s already holds a device identity (%s); not "
		    "overwriting it", c->dir, path);
		free(path);
		return rc;
	}
	if (errno != ENOENT && errno != ENOTDIR) {
		rc = failure("%s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	free(path);

	memset(&pass, 0, sizeof(pass));
	if (!c->no_passphrase && (rc = pass_get(c, &pass, 1)) != 0) {
		pass_wipe(&pass);
		return rc;
	}
	if ((rc = make_data_dir(c->dir)) != 0) {
		pass_wipe(&pass);
		return rc;
	}

	crypto_sign_keypair(pk, sec.sign_sk);
	randombytes_buf(sec.storage_key, sizeof(sec.storage_key));
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	rc = keywrap_seal(&file, &filelen, &sec,
	    c->no_passphrase ? NULL : pass.buf, pass.len, salt, nonce);
	sodium_memzero(&sec, sizeof(sec));
	pass_wipe(&pass);
	if (rc != 0)
		return failure("cannot wrap the keys: %s", samen_strerror(rc));
	rc = write_atomic(c, KEYS_FILE, file, filelen, 0600);
	free(file);
	if (rc != 0)
		return rc;
	devid_encode(devid, pk);
	output_device(stdout, devid, c->json);
	return 0;
}

int
cmd_id(struct cmd_ctx *c)
{
	struct keywrap_info info;
	uint8_t *file;
	size_t len;
	char devid[DEVID_TEXTLEN + 1];
	int rc;

	if ((rc = read_keys(c, &file, &len, 0)) != 0)
		return rc;
	rc = keywrap_info(&info, file, len);
	free(file);
	if (rc != 0)
		return failure("%s/%s: %s", c->dir, KEYS_FILE,
		    samen_strerror(rc));
	devid_encode(devid, info.public_key);
	output_device(stdout, devid, c->json);
	return 0;
}

/* Commands that ask the daemon. */

int
cmd_unlock(struct cmd_ctx *c)
{
	struct keywrap_info info;
	struct pass pass;
	struct wbuf w;
	struct reply rp;
	uint8_t *file;
	size_t len;
	char *cause = NULL;
	int rc, nopass = 0;

	/*
	 * Keys stored without a passphrase need none: don't ask for one.
	 * Whatever goes wrong reading the file, the daemon will say better.
	 */
	if (c->passphrase_file == NULL &&
	    read_keys(c, &file, &len, 1) == 0) {
		nopass = keywrap_info(&info, file, len) == 0 &&
		    info.kdf == KEYWRAP_KDF_NONE;
		free(file);
	}
	/* Nobody should type a passphrase for a daemon that isn't there. */
	if ((rc = client_probe(c->dir, &cause)) != 0) {
		complain(0, "%s", cause);
		free(cause);
		return exit_for_client(rc);
	}
	memset(&pass, 0, sizeof(pass));
	if (!nopass && (rc = pass_get(c, &pass, 0)) != 0) {
		pass_wipe(&pass);
		return rc;
	}
	req_start(&w, CTL_UNLOCK, 1);
	wire_put_str(&w, pass.buf, pass.len);
	pass_wipe(&pass);
	if ((rc = call(c, &w, &rp)) != 0)
		return rc;
	if (c->json)
		output_json(stdout, rp.body);
	else
		output_unlock(stdout, rp.body, rp.message);
	reply_free(&rp);
	return 0;
}

static void
print_status(FILE *fp, const struct reply_node *body)
{
	output_status(fp, stderr, body);
}

int
cmd_status(struct cmd_ctx *c)
{
	struct wbuf w;
	struct reply rp;
	int rc;

	req_start(&w, CTL_STATUS, 0);
	if ((rc = call(c, &w, &rp)) != 0)
		return rc;
	if (c->json) {
		output_json(stdout, rp.body);
		output_status_warning(stderr, rp.body);
	} else
		print_status(stdout, rp.body);
	reply_free(&rp);
	return 0;
}

static void
print_id(FILE *fp, const struct reply_node *body)
{
	output_field(fp, body, "id");
}

/* FIELD=VALUE, FIELD+=ELEMENT, FIELD-=ELEMENT. */
struct assign {
	int how;
	const char *field;
	size_t flen;
	const char *value;
};

static int
parse_assign(const char *arg, struct assign *a)
{
	char what[OPS_MAX_FIELD + 32];
	size_t max;
	int rc;

	if (split_pair(arg, &a->field, &a->flen, &a->value) != 0)
		return CMD_EXIT_USAGE;
	a->how = CTL_ASSIGN_SET;
	max = OPS_MAX_VALUE;
	/* The character before '=' decides, so a field never ends in + or -. */
	if (a->flen > 0 && (arg[a->flen - 1] == '+' ||
	    arg[a->flen - 1] == '-')) {
		a->how = arg[a->flen - 1] == '+' ? CTL_ASSIGN_ADD :
		    CTL_ASSIGN_REM;
		a->flen--;
		max = OPS_MAX_ELEMENT;
	}
	if ((rc = check_field(a->field, a->flen)) != 0)
		return rc;
	snprintf(what, sizeof(what), "%s of %.*s",
	    a->how == CTL_ASSIGN_SET ? "value" : "element", (int)a->flen,
	    a->field);
	return check_text(what, a->value, max);
}

int
cmd_put(struct cmd_ctx *c)
{
	struct assign *as;
	struct wbuf w;
	char rid[RID_TEXTLEN + 1];
	int i, j, first = 1, n, rc;

	if ((rc = check_collection(c->argv[0])) != 0)
		return rc;
	if (c->circle != NULL && (rc = check_circle(c->circle)) != 0)
		return rc;
	/* An id has no '='; an assignment always has one. */
	if (c->argc > 1 && strchr(c->argv[1], '=') == NULL) {
		uint8_t bin[RID_LEN];

		if (rid_decode(bin, c->argv[1], strlen(c->argv[1])) != 0)
			return usage_error("\"%s\" is neither an id nor a "
			    "FIELD=VALUE", c->argv[1]);
		rid_encode(rid, bin);
		first = 2;
	}
	n = c->argc - first;
	if (n == 0)
		return usage_error("put needs at least one FIELD=VALUE");
	if (n > CTL_MAX_ASSIGNS)
		return usage_error("too many assignments: %d, at most %d", n,
		    CTL_MAX_ASSIGNS);
	as = xcalloc((size_t)n, sizeof(*as));
	for (i = 0; i < n; i++) {
		if ((rc = parse_assign(c->argv[first + i], &as[i])) != 0)
			goto out;
		/* One change set holds one value per field (ops.h). */
		for (j = 0; j < i; j++) {
			if (as[i].how == CTL_ASSIGN_SET &&
			    as[j].how == CTL_ASSIGN_SET &&
			    as[i].flen == as[j].flen &&
			    memcmp(as[i].field, as[j].field, as[i].flen) == 0) {
				rc = usage_error("field %.*s is set twice",
				    (int)as[i].flen, as[i].field);
				goto out;
			}
		}
	}
	/*
	 * The circle is a fourth argument, sent only when given: without it
	 * the request stays the three-argument form every daemon knows.
	 */
	req_start(&w, CTL_PUT, c->circle != NULL ? 4 : 3);
	wire_put_cstr(&w, c->argv[0]);
	if (first == 2)
		wire_put_cstr(&w, rid);
	else
		wire_put_nil(&w);
	wire_put_array(&w, (uint32_t)n);
	for (i = 0; i < n; i++) {
		wire_put_array(&w, 3);
		wire_put_u64(&w, (uint64_t)as[i].how);
		wire_put_str(&w, as[i].field, as[i].flen);
		wire_put_cstr(&w, as[i].value);
	}
	if (c->circle != NULL)
		wire_put_cstr(&w, c->circle);
	rc = run(c, &w, print_id);
out:
	free(as);
	return rc;
}

int
cmd_get(struct cmd_ctx *c)
{
	return run_record(c, CTL_GET, output_record);
}

int
cmd_rm(struct cmd_ctx *c)
{
	/* Silent on success, as rm(1). */
	return run_record(c, CTL_RM, NULL);
}

int
cmd_log(struct cmd_ctx *c)
{
	return run_record(c, CTL_LOG, output_log);
}

int
cmd_ls(struct cmd_ctx *c)
{
	struct wbuf w;
	const char *field = NULL, *value = NULL;
	char what[OPS_MAX_FIELD + 32];
	size_t flen = 0;
	int i, rc;

	if ((rc = check_collection(c->argv[0])) != 0)
		return rc;
	for (i = 0; i < c->nwhere; i++) {
		if ((rc = split_pair(c->where[i], &field, &flen, &value)) ||
		    (rc = check_field(field, flen)))
			return rc;
		snprintf(what, sizeof(what), "value of %.*s", (int)flen,
		    field);
		if ((rc = check_text(what, value, OPS_MAX_VALUE)) != 0)
			return rc;
	}
	req_start(&w, CTL_LS, 2);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_array(&w, (uint32_t)c->nwhere);
	for (i = 0; i < c->nwhere; i++) {
		split_pair(c->where[i], &field, &flen, &value);
		wire_put_array(&w, 2);
		wire_put_str(&w, field, flen);
		wire_put_cstr(&w, value);
	}
	return run(c, &w, output_list);
}

int
cmd_find(struct cmd_ctx *c)
{
	struct wbuf w;
	int rc;

	if (c->argv[0][0] == '\0')
		return usage_error("find needs a non-empty TEXT");
	if ((rc = check_text("search text", c->argv[0], OPS_MAX_VALUE)) != 0)
		return rc;
	req_start(&w, CTL_FIND, 1);
	wire_put_cstr(&w, c->argv[0]);
	return run(c, &w, output_find);
}

int
cmd_note(struct cmd_ctx *c)
{
	struct wbuf w;
	char rid[RID_TEXTLEN + 1];
	int rc;

	if ((rc = check_rid(c->argv[0], rid)) != 0)
		return rc;
	if (c->argv[1][0] == '\0')
		return usage_error("empty note");
	if ((rc = check_text("note text", c->argv[1], OPS_MAX_VALUE)) != 0)
		return rc;
	req_start(&w, CTL_NOTE, 2);
	wire_put_cstr(&w, rid);
	wire_put_cstr(&w, c->argv[1]);
	return run(c, &w, print_id);
}

int
cmd_conflicts(struct cmd_ctx *c)
{
	struct wbuf w;

	req_start(&w, CTL_CONFLICTS, 0);
	return run(c, &w, output_conflicts);
}

static void
print_digest(FILE *fp, const struct reply_node *body)
{
	output_field(fp, body, "replica_digest");
}

int
cmd_rebuild(struct cmd_ctx *c)
{
	struct wbuf w;

	req_start(&w, CTL_REBUILD, 0);
	return run(c, &w, print_digest);
}

/* Peers. */

int
cmd_peer_add(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	int rc;

	if ((rc = check_devid(c->argv[0], dev)) != 0)
		return rc;
	if (c->argc > 1 && (rc = check_addr(c->argv[1])) != 0)
		return rc;
	req_start(&w, CTL_PEER_ADD, 2);
	wire_put_cstr(&w, dev);
	if (c->argc > 1)
		wire_put_cstr(&w, c->argv[1]);
	else
		wire_put_nil(&w);
	return run(c, &w, output_peer_add);
}

int
cmd_peer_ls(struct cmd_ctx *c)
{
	struct wbuf w;

	req_start(&w, CTL_PEER_LS, 0);
	return run(c, &w, output_peers);
}

int
cmd_peer_rm(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	int rc;

	if ((rc = check_devid(c->argv[0], dev)) != 0)
		return rc;
	req_start(&w, CTL_PEER_RM, 1);
	wire_put_cstr(&w, dev);
	/* Silent on success, as rm. */
	return run(c, &w, NULL);
}

/* Sync. */

static int
parse_timeout(const char *s, double *secs)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	/* The comparison also refuses NaN. */
	if (end == s || *end != '\0' || errno != 0 ||
	    !(d > 0 && d <= SYNC_TIMEOUT_MAX))
		return usage_error("--timeout: \"%s\" is not a number of "
		    "seconds (more than 0, at most %.0f)", s,
		    SYNC_TIMEOUT_MAX);
	*secs = d;
	return 0;
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
nap(double secs)
{
	struct timespec ts;

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* What sync --wait last reported of one started peer. */
struct sync_watch {
	const char *device;	/* borrows the sync reply */
	int64_t sent;
	int64_t received;
	int64_t bytes;
};

/*
 * Polls peer ls into *ls until every started peer's session of this round
 * is over (docs/api.md), printing progress on stderr.  Returns 0 with *ls
 * to free, or an exit code after saying why.
 */
static int
sync_wait(struct cmd_ctx *c, struct sync_watch *watch, uint32_t n,
    int64_t round, double timeout, const struct timespec *t0,
    struct reply *ls)
{
	const struct reply_node *peer;
	struct reply_session s;
	struct wbuf w;
	double left;
	uint32_t i, over;
	int64_t bytes;
	int rc;

	for (;;) {
		reply_free(ls);
		req_start(&w, CTL_PEER_LS, 0);
		if ((rc = call(c, &w, ls)) != 0)
			return rc;
		if (ls->body->type != REPLY_ARRAY) {
			reply_free(ls);
			return failure("malformed reply from samend: peer ls "
			    "is not a list");
		}
		for (i = over = 0; i < n; i++) {
			/* A peer removed meanwhile has nothing more to do. */
			if ((peer = reply_find(ls->body, "device",
			    watch[i].device)) == NULL) {
				over++;
				continue;
			}
			reply_session(peer, &s);
			if (reply_session_over(&s, round)) {
				over++;
				continue;
			}
			/* An older round's numbers are not this sync's. */
			if (s.round < round)
				continue;
			bytes = s.bytes_sent > INT64_MAX - s.bytes_received ?
			    INT64_MAX : s.bytes_sent + s.bytes_received;
			if (s.sent != watch[i].sent ||
			    s.received != watch[i].received ||
			    bytes != watch[i].bytes) {
				output_sync_progress(stderr, watch[i].device,
				    &s);
				watch[i].sent = s.sent;
				watch[i].received = s.received;
				watch[i].bytes = bytes;
			}
		}
		if (over == n)
			return 0;
		if ((left = timeout - seconds_since(t0)) <= 0) {
			reply_free(ls);
			return failure("sync timed out after %g s", timeout);
		}
		nap(left < SYNC_POLL_MS / 1000.0 ? left :
		    SYNC_POLL_MS / 1000.0);
	}
}

/* The last line of sync --wait for each peer, or the JSON array. */
static int
sync_report(struct cmd_ctx *c, const struct sync_watch *watch, uint32_t n,
    const struct reply_node *list)
{
	const struct reply_node **items;
	const struct reply_node *peer;
	struct reply_session s;
	uint32_t i, k = 0;
	int failed = 0;

	items = xcalloc(n, sizeof(*items));
	for (i = 0; i < n; i++) {
		if ((peer = reply_find(list, "device", watch[i].device)) ==
		    NULL) {
			failed = 1;
			if (c->json)
				complain(0, "%s is no longer a peer",
				    watch[i].device);
			else
				output_sync_result(stdout, watch[i].device,
				    NULL);
			continue;
		}
		reply_session(peer, &s);
		if (s.state != REPLY_SESSION_DONE)
			failed = 1;
		items[k++] = peer;
		if (!c->json)
			output_sync_result(stdout, watch[i].device, &s);
	}
	if (c->json)
		output_json_items(stdout, items, k);
	free(items);
	return failed ? CMD_EXIT_FAIL : CMD_EXIT_OK;
}

int
cmd_sync(struct cmd_ctx *c)
{
	const struct reply_node *started;
	struct sync_watch *watch;
	struct timespec t0;
	struct reply rp, ls;
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	double timeout = SYNC_TIMEOUT_S;
	int64_t round;
	uint32_t i, n;
	int rc;

	if (c->timeout != NULL && !c->wait)
		return usage_error("--timeout needs --wait");
	if (c->timeout != NULL && (rc = parse_timeout(c->timeout,
	    &timeout)) != 0)
		return rc;
	if (c->argc > 0 && (rc = check_devid(c->argv[0], dev)) != 0)
		return rc;
	/* The timeout counts from here: starting the sync is part of it. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	req_start(&w, CTL_SYNC, 1);
	if (c->argc > 0)
		wire_put_cstr(&w, dev);
	else
		wire_put_nil(&w);
	if ((rc = call(c, &w, &rp)) != 0)
		return rc;
	if (!c->wait) {
		if (c->json)
			output_json(stdout, rp.body);
		else
			output_sync_started(stdout, rp.body);
		reply_free(&rp);
		return 0;
	}

	started = reply_get(rp.body, "started");
	n = reply_len(started);
	for (i = 0; i < n && started->type == REPLY_ARRAY; i++)
		if (reply_str(&started->v.kids[i]) == NULL)
			break;
	if (reply_get_i64(rp.body, "round", &round) != 0 ||
	    started == NULL || started->type != REPLY_ARRAY || i < n) {
		reply_free(&rp);
		return failure("malformed reply from samend: sync without "
		    "round or started");
	}
	watch = xcalloc(n, sizeof(*watch));
	for (i = 0; i < n; i++)
		watch[i].device = reply_str(&started->v.kids[i]);
	memset(&ls, 0, sizeof(ls));
	if ((rc = sync_wait(c, watch, n, round, timeout, &t0, &ls)) == 0) {
		rc = sync_report(c, watch, n, ls.body);
		reply_free(&ls);
	}
	free(watch);
	reply_free(&rp);
	return rc;
}

/* Circles. */

int
cmd_circle_new(struct cmd_ctx *c)
{
	struct wbuf w;
	int rc;

	if ((rc = check_circle(c->argv[0])) != 0)
		return rc;
	req_start(&w, CTL_CIRCLE_NEW, 1);
	wire_put_cstr(&w, c->argv[0]);
	return run(c, &w, output_circle_new);
}

int
cmd_circle_add(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	int rc;

	if ((rc = check_circle(c->argv[0])) != 0 ||
	    (rc = check_devid(c->argv[1], dev)) != 0)
		return rc;
	req_start(&w, CTL_CIRCLE_ADD, 2);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, dev);
	return run(c, &w, output_circle_add);
}

int
cmd_circle_ls(struct cmd_ctx *c)
{
	struct wbuf w;

	req_start(&w, CTL_CIRCLE_LS, 0);
	return run(c, &w, output_circles);
}

int
cmd_circle_use(struct cmd_ctx *c)
{
	struct wbuf w;
	int rc;

	if ((rc = check_circle(c->argv[0])) != 0)
		return rc;
	req_start(&w, CTL_CIRCLE_USE, 1);
	wire_put_cstr(&w, c->argv[0]);
	return run(c, &w, output_circle_use);
}

/* Help. */

const struct cmd_entry *
cmd_find_entry(const struct cmd_entry *table, const char *name)
{
	const struct cmd_entry *e;

	for (e = table; e->name != NULL; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

const char *
cmd_name(char buf[CMD_NAME_MAX], const struct cmd_entry *group,
    const struct cmd_entry *e)
{
	if (group != NULL)
		snprintf(buf, CMD_NAME_MAX, "%s %s", group->name, e->name);
	else
		snprintf(buf, CMD_NAME_MAX, "%s", e->name);
	return buf;
}

/* "  name args", then the summary at USAGE_COLS or on a line of its own. */
static void
usage_line(FILE *fp, const struct cmd_entry *group, const struct cmd_entry *e)
{
	char name[CMD_NAME_MAX];
	size_t n;

	n = (size_t)fprintf(fp, "  %s%s%s", cmd_name(name, group, e),
	    e->args[0] != '\0' ? " " : "", e->args);
	if (n + 2 > USAGE_COLS)
		fprintf(fp, "\n%*s", USAGE_COLS, "");
	else
		fprintf(fp, "%*s", (int)(USAGE_COLS - n), "");
	fprintf(fp, "%s\n", e->summary);
}

void
cmd_usage(FILE *fp, const struct cmd_entry *table)
{
	const struct cmd_entry *e, *sub;

	fputs("usage: samen [-d DIR] [--json] COMMAND [ARGS...]\n"
	    "       samen --version | --help | COMMAND --help\n\n"
	    "options (before or after the command):\n"
	    "  -d, --dir DIR  data directory (else $SAMEN_HOME, "
	    "$XDG_DATA_HOME/samen,\n"
	    "                 ~/.local/share/samen)\n"
	    "  --json         print the reply as JSON\n"
	    "  -h, --help     this help, or the command's\n"
	    "  --version      print the version\n\n"
	    "commands:\n", fp);
	/* Long usages put their summary on a line of its own. */
	for (e = table; e->name != NULL; e++) {
		if (e->sub == NULL) {
			usage_line(fp, NULL, e);
			continue;
		}
		for (sub = e->sub; sub->name != NULL; sub++)
			usage_line(fp, e, sub);
	}
	fputs("\nexit: 0 ok, 1 refused or failed, 2 usage, 3 samend not "
	    "running, 4 locked\n", fp);
}

void
cmd_usage_entry(FILE *fp, const struct cmd_entry *group,
    const struct cmd_entry *e)
{
	const struct cmd_entry *sub;
	char name[CMD_NAME_MAX];

	fprintf(fp, "usage: samen [-d DIR] [--json] %s%s%s\n\n%s\n",
	    cmd_name(name, group, e), e->args[0] != '\0' ? " " : "", e->args,
	    e->summary);
	if (e->help != NULL)
		fprintf(fp, "\n%s", e->help);
	if (e->sub == NULL)
		return;
	fputs("\nsubcommands:\n", fp);
	for (sub = e->sub; sub->name != NULL; sub++)
		usage_line(fp, e, sub);
	fprintf(fp, "\nsamen %s SUBCOMMAND --help shows the help of one.\n",
	    e->name);
}

int
cmd_group_error(const struct cmd_entry *group, const char *word)
{
	const struct cmd_entry *sub;

	fputs("samen: ", stderr);
	if (word != NULL)
		fprintf(stderr, "unknown subcommand \"%s %s\"", group->name,
		    word);
	else
		fprintf(stderr, "%s needs a subcommand", group->name);
	fputs(": one of", stderr);
	for (sub = group->sub; sub->name != NULL; sub++)
		fprintf(stderr, "%s %s", sub == group->sub ? "" : ",",
		    sub->name);
	fprintf(stderr, " (samen %s --help)\n", group->name);
	return CMD_EXIT_USAGE;
}

int
cmd_help(struct cmd_ctx *c)
{
	const struct cmd_entry *e, *sub;

	if (c->argc == 0) {
		cmd_usage(stdout, c->table);
		return 0;
	}
	if ((e = cmd_find_entry(c->table, c->argv[0])) == NULL)
		return usage_error("unknown command \"%s\" (samen help lists "
		    "them)", c->argv[0]);
	if (c->argc == 1) {
		cmd_usage_entry(stdout, NULL, e);
		return 0;
	}
	if (e->sub == NULL)
		return usage_error("%s has no subcommands (samen help %s)",
		    e->name, e->name);
	if ((sub = cmd_find_entry(e->sub, c->argv[1])) == NULL)
		return cmd_group_error(e, c->argv[1]);
	cmd_usage_entry(stdout, e, sub);
	return 0;
}
