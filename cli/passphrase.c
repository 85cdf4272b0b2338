/* passphrase: where samen gets the passphrase: a file, the environment or the terminal. */
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

void
passphrase_wipe(struct passphrase *p)
{
	sodium_memzero(p, sizeof(*p));
}

/* Checks a passphrase once it is in p->buf[0..len); NUL-terminates it. */
static int
check(struct passphrase *p, const char *source, char **cause)
{
	if (p->len > PASSPHRASE_MAX) {
		*cause = xasprintf("passphrase from %s is longer than %d bytes",
		    source, PASSPHRASE_MAX);
		return -EINVAL;
	}
	p->buf[p->len] = '\0';
	if (memchr(p->buf, '\0', p->len) != NULL) {
		*cause = xasprintf("passphrase from %s holds a NUL byte",
		    source);
		return -EINVAL;
	}
	if (p->len == 0) {
		*cause = xasprintf("empty passphrase from %s", source);
		return -EINVAL;
	}
	return 0;
}

static int
os_error(const char *what, char **cause)
{
	int err = errno;

	*cause = xasprintf("%s: %s", what, strerror(err));
	return -err;
}

/*
 * The first line of path.  read(2) into our own buffer rather than stdio,
 * whose buffers would keep a copy we cannot wipe.
 */
static int
from_file(struct passphrase *p, const char *path, char **cause)
{
	size_t n = 0;
	ssize_t r;
	char *nl = NULL;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return os_error(path, cause);
	while (n < sizeof(p->buf) - 1) {
		r = read(fd, p->buf + n, sizeof(p->buf) - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			rc = os_error(path, cause);
			close(fd);
			return rc;
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
	return check(p, path, cause);
}

static int
from_env(struct passphrase *p, const char *s, char **cause)
{
	p->len = strlen(s);
	if (p->len > PASSPHRASE_MAX) {
		*cause = xasprintf("passphrase from SAMEN_PASSPHRASE is longer "
		    "than %d bytes", PASSPHRASE_MAX);
		return -EINVAL;
	}
	memcpy(p->buf, s, p->len);
	return check(p, "SAMEN_PASSPHRASE", cause);
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
tty_ask(int fd, const char *prompt, struct passphrase *p, char **cause)
{
	struct sigaction sa, old[sizeof(tty_signals) / sizeof(tty_signals[0])];
	struct termios t;
	size_t i, n = 0;
	ssize_t r;
	char ch;
	int rc = 0, eof = 0;

	if (write(fd, prompt, strlen(prompt)) == -1 ||
	    tcgetattr(fd, &tty_saved) == -1)
		return os_error("/dev/tty", cause);
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
		rc = os_error("/dev/tty", cause);
	/* Byte by byte, so that nothing past the line is read. */
	while (rc == 0) {
		r = read(fd, &ch, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			rc = os_error("/dev/tty", cause);
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
	if (eof && write(fd, "\n", 1) == -1 && rc == 0)
		rc = os_error("/dev/tty", cause);
	if (rc != 0)
		return rc;
	p->len = n;
	if (p->len > 0 && p->buf[p->len - 1] == '\r')
		p->len--;
	return check(p, "the terminal", cause);
}

int
passphrase_get(struct passphrase *p, const char *file, const char *dir,
    int confirm, char **cause)
{
	struct passphrase again;
	const char *env;
	char *prompt;
	int fd, rc;

	memset(p, 0, sizeof(*p));
	if (file != NULL)
		return from_file(p, file, cause);
	if ((env = getenv("SAMEN_PASSPHRASE")) != NULL)
		return from_env(p, env, cause);
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		*cause = xasprintf("no terminal to ask for the passphrase: use "
		    "--passphrase-file FILE or set SAMEN_PASSPHRASE%s",
		    confirm ? ", or --no-passphrase" : "");
		return -EINVAL;
	}
	prompt = xasprintf("%s for %s: ", confirm ? "New passphrase" :
	    "Passphrase", dir);
	rc = tty_ask(fd, prompt, p, cause);
	free(prompt);
	if (rc == 0 && confirm) {
		memset(&again, 0, sizeof(again));
		rc = tty_ask(fd, "Repeat the passphrase: ", &again, cause);
		if (rc == 0 && (again.len != p->len ||
		    sodium_memcmp(again.buf, p->buf, p->len) != 0)) {
			*cause = xstrdup("the passphrases do not match");
			rc = SAMEN_EPASSPHRASE;
		}
		passphrase_wipe(&again);
	}
	close(fd);
	return rc;
}
