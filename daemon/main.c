/* main: samend, the daemon: its whole life from arguments to shutdown, in order. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>
#include <zmq.h>

#include "api.h"
#include "conf.h"
#include "ctl.h"
#include "durable.h"
#include "error.h"
#include "index.h"
#include "beacon.h"
#include "log.h"
#include "peer.h"
#include "protocol.h"
#include "store.h"
#include "testhook.h"
#include "trim.h"
#include "util.h"
#include "vault.h"
#include "version.h"

#define LOCK_FILE "samend.lock"
#define PID_FILE "samend.pid"
#define DB_FILE "samen.db"
#define CONF_FILE "samen.conf"
/* The most of the WAL written ahead at start (durable_prefill). */
#define WAL_PREFILL_MAX (64ull << 20)

struct samend {
	char *dir;
	char *conf_path;
	int conf_given;
	int verbose;
	struct conf conf;
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sighup;
	void *zctx;
	struct vault *vault;
	struct store *store;
	struct durable *durable;	/* syncs the lazy commits */
	struct index *index;
	struct ctl *ctl;
	struct api *api;
	struct peers *peers;
	struct beacon *beacon;
	char *listen;		/* --listen, overriding the config */
	int stopping;
	/* Checkpoints on the thread pool (ckpt_check_cb). */
	struct store_ckpt *ckpt;
	uv_check_t ckpt_check;
	uv_timer_t ckpt_idle;
	uv_work_t ckpt_work;
	int ckpt_busy;
	int ckpt_rc;
	uint64_t ckpt_frames;	/* the WAL's frames when the last began */
	uint64_t ckpt_commits;	/* the store's commits then */
	uint64_t ckpt_copied;	/* the WAL's frames copied when it ended */
	uint64_t ckpt_idle_from;	/* the commits when ckpt_idle was set */
	int ckpt_test_fail;	/* $SAMEND_TEST_CKPT_SYNC_FAIL, for tests */
	int lock_fd;
	int ready_fd;		/* --daemonize: tells the parent we are up */
	int pidfile_written;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: samend [-d DIR] [-c FILE] [--listen tcp://ADDR:PORT] "
	    "[--daemonize] [-v]...\n"
	    "              [--check-config]\n"
	    "\n"
	    "samend keeps this device's encrypted replica and serves the "
	    "samen CLI.\n"
	    "\n"
	    "  -d, --dir DIR      data directory (else $SAMEN_HOME, else\n"
	    "                     $XDG_DATA_HOME/samen, else "
	    "~/.local/share/samen)\n"
	    "  -c, --config FILE  configuration (default DIR/samen.conf, "
	    "optional)\n"
	    "      --listen tcp://ADDR:PORT\n"
	    "                     where peers connect (overrides 'listen' "
	    "in the config)\n"
	    "      --daemonize    detach, log to syslog, write DIR/samend.pid\n"
	    "      --foreground   stay in the foreground, log to stderr "
	    "(default)\n"
	    "  -v, --verbose      more logging (repeat for debug)\n"
	    "      --check-config print the normalised configuration and exit\n"
	    "  -h, --help         this help\n"
	    "      --version      print the version\n");
}

static char *
default_dir(void)
{
	const char *s;

	if ((s = getenv("SAMEN_HOME")) != NULL && *s)
		return xstrdup(s);
	if ((s = getenv("XDG_DATA_HOME")) != NULL && *s)
		return xasprintf("%s/samen", s);
	if ((s = getenv("HOME")) != NULL && *s)
		return xasprintf("%s/.local/share/samen", s);
	return NULL;
}

/* Holds the data directory: one daemon per directory, ever. */
static void
lock_dir(struct samend *d)
{
	char *path = xasprintf("%s/%s", d->dir, LOCK_FILE);
	char pid[32] = "";
	ssize_t n;

	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd < 0) {
		free(path);
		fatal("%s/%s", d->dir, LOCK_FILE);
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		free(path);
		if (errno != EWOULDBLOCK)
			fatal("lock %s/%s", d->dir, LOCK_FILE);
		n = pread(d->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		fatalx("%s is in use by another samend%s%s%s", d->dir,
		    *pid ? " (pid " : "", pid, *pid ? ")" : "");
	}
	free(path);
}

static void
write_lock_pid(struct samend *d)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(d->lock_fd, 0) != 0 ||
	    pwrite(d->lock_fd, buf, (size_t)n, 0) != n)
		log_warn("write pid to lock file");
}

static void
write_pidfile(struct samend *d)
{
	char *path = xasprintf("%s/%s", d->dir, PID_FILE);
	FILE *f = fopen(path, "w");

	if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 ||
	    fclose(f) != 0)
		fatal("%s", path);
	d->pidfile_written = 1;
	free(path);
}

/*
 * Detaches, before the ZeroMQ context exists (its threads would not survive
 * fork).  The parent waits on a pipe until the daemon says it is serving, so
 * that `samend --daemonize` still fails loudly when start-up fails.
 */
static void
daemonize(struct samend *d)
{
	int p[2], devnull;
	pid_t pid;
	char c;

	if (pipe(p) != 0)
		fatal("pipe");
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		fprintf(stderr, "samend: failed to start; see the system log "
		    "(journalctl -t samend)\n");
		_exit(1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if ((devnull = open("/dev/null", O_RDWR)) >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	d->ready_fd = p[1];
}

static void
reload(struct samend *d)
{
	struct conf next;
	char *cause, *ignored;

	if (conf_load(&next, d->conf_path, d->conf_given, &cause) != 0) {
		log_warnx("reload: %s; keeping the current configuration",
		    cause);
		free(cause);
		return;
	}
	conf_apply_reload(&d->conf, &next, &ignored);
	if (ignored) {
		log_warnx("reload: %s changed but take effect only after a "
		    "restart", ignored);
		free(ignored);
	}
	log_setlevel(d->conf.log_level + d->verbose > LOG_LEVEL_DEBUG ?
	    LOG_LEVEL_DEBUG : (enum log_level)(d->conf.log_level + d->verbose));
	api_set_batch_max(d->api, d->conf.batch_max);
	if (d->peers != NULL)
		peers_set_interval(d->peers, d->conf.sync_interval);
	log_info("configuration reloaded from %s", d->conf_path);
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * Checkpoints run on the thread pool, from a connection of their own, so
 * that no commit on the loop stalls for one (tens of milliseconds for
 * 4,000 pages: the p99 of pipelined writes).  One at a time, and early
 * (docs/design.md, "Checkpoints off the loop"): once the WAL holds
 * CKPT_FIRST frames, each time CKPT_EVERY more were written (T/8 and T/32
 * for a smaller T, the wal_autocheckpoint), and whatever the WAL holds
 * once the loop has not written for CKPT_IDLE_MS; so that each copies and
 * syncs a little, never the 16 MB whose sync once held every write in
 * flight for 20 ms, and an idle daemon's samen.db holds every commit.
 * Not more with a larger T: a checkpoint's sync holds the WAL's syncs
 * beside it (a flush is the whole disk's), so four times the pages in each
 * made the p99 of pipelined writes worse (docs/performance.md, thirteenth
 * session).
 */
#define CKPT_IDLE_MS 1000
#define CKPT_FIRST 500
#define CKPT_EVERY 125

static void
ckpt_work_cb(uv_work_t *w)
{
	struct samend *d = w->data;
	uint64_t log;

	d->ckpt_rc = store_ckpt_run(d->ckpt, &log, &d->ckpt_copied);
	/*
	 * Tests only: once a checkpoint has copied, samend is told that the
	 * sync of samen.db failed (test_durability.py).  test_store's
	 * test_checkpoint_sync_fails makes the store tell it for real.
	 */
	if (d->ckpt_test_fail && d->ckpt_rc == 0 && d->ckpt_copied > 0)
		d->ckpt_rc = -EIO;
}

static void ckpt_done_cb(uv_work_t *w, int status);

/*
 * The disk failed to sync samen.db in a checkpoint: what was copied may
 * be lost while the WAL holds it, and a later sync of the file may succeed
 * all the same, after which the WAL would start over without it
 * (store.h).  So samend stops at once, as after a crash: no close, no
 * checkpoint, the WAL left whole; every acknowledged write is in it, and
 * the next start recovers from it.
 */
static void
sync_failed(struct samend *d)
{
	fatalx("%s/%s: the disk failed to sync it; stopping with its WAL "
	    "whole (every acknowledged write is in it): check the disk, then "
	    "start samend again", d->dir, DB_FILE);
}

static void
ckpt_start(struct samend *d, uint64_t frames)
{
	d->ckpt_frames = frames;
	d->ckpt_commits = store_wal_commits(d->store);
	d->ckpt_work.data = d;
	if (uv_queue_work(&d->loop, &d->ckpt_work, ckpt_work_cb,
	    ckpt_done_cb) == 0)
		d->ckpt_busy = 1;
}

/*
 * The WAL starts over only at the first commit after a checkpoint that
 * copied all of it, and beside a writer that does not pause, none does:
 * it would grow without bound (250 MB in the 100k initial sync).  So once
 * it holds T frames and a checkpoint leaves little behind (T/16 frames:
 * what was written while it ran), the loop copies the rest itself: with no
 * writer beside it, all of it, and the next commit starts the WAL over.
 * Past 2T it does so whatever is left: the WAL stays bounded however fast
 * the writes come.
 */
static void
ckpt_done_cb(uv_work_t *w, int status)
{
	struct samend *d = w->data;
	uint64_t t = (uint64_t)d->conf.wal_autocheckpoint, frames, copied;
	int rc;

	d->ckpt_busy = 0;
	if (status == 0 && d->ckpt_rc == -EIO)
		sync_failed(d);
	if (status == 0 && d->ckpt_rc != 0)
		log_warnx("checkpoint failed: %s", samen_strerror(d->ckpt_rc));
	if (status != 0 || d->stopping)
		return;
	frames = store_wal_frames(d->store);
	copied = d->ckpt_copied;
	if (frames >= t && (frames <= copied + t / 16 || frames >= 2 * t)) {
		if ((rc = store_checkpoint_here(d->store, &copied)) == -EIO)
			sync_failed(d);
		if (rc != 0) {
			log_warnx("checkpoint failed: %s", samen_strerror(rc));
			return;
		}
		d->ckpt_commits = store_wal_commits(d->store);
	}
	/* All copied, nothing since: the next commit starts the WAL over. */
	if (copied == frames && d->ckpt_commits == store_wal_commits(d->store))
		d->ckpt_frames = 0;
}

static void
ckpt_idle_cb(uv_timer_t *h)
{
	struct samend *d = h->data;

	if (d->stopping || store_wal_commits(d->store) == d->ckpt_commits)
		return;
	/* A checkpoint still running may not have seen the last commits. */
	if (d->ckpt_busy)
		uv_timer_start(h, ckpt_idle_cb, CKPT_IDLE_MS, 0);
	else
		ckpt_start(d, store_wal_frames(d->store));
}

static void
ckpt_check_cb(uv_check_t *h)
{
	struct samend *d = h->data;
	uint64_t t = (uint64_t)d->conf.wal_autocheckpoint;
	uint64_t frames = store_wal_frames(d->store);
	uint64_t first = t / 8 < CKPT_FIRST ? t / 8 : CKPT_FIRST;
	uint64_t every = t / 32 < CKPT_EVERY ? t / 32 : CKPT_EVERY;

	if (frames < d->ckpt_frames)	/* the WAL started over */
		d->ckpt_frames = 0;
	if (d->ckpt_busy || store_wal_commits(d->store) == d->ckpt_commits)
		return;
	if (frames < first || frames - d->ckpt_frames < every) {
		/*
		 * Not yet: unless the writes stop here.  Set from the last
		 * commit, not from every loop iteration: the one that ends
		 * the timer's wait would set it again.
		 */
		if (store_wal_commits(d->store) != d->ckpt_idle_from) {
			d->ckpt_idle_from = store_wal_commits(d->store);
			uv_timer_start(&d->ckpt_idle, ckpt_idle_cb,
			    CKPT_IDLE_MS, 0);
		}
		return;
	}
	uv_timer_stop(&d->ckpt_idle);
	ckpt_start(d, frames);
}

static void
stop(struct samend *d)
{
	log_info("shutting down");
	d->stopping = 1;
	uv_check_stop(&d->ckpt_check);
	uv_timer_stop(&d->ckpt_idle);
	/* Last sync: the replies and ACKs that waited for it go out now. */
	durable_close(d->durable);
	d->durable = NULL;
	if (d->beacon != NULL) {
		beacon_close(d->beacon);
		d->beacon = NULL;
	}
	if (d->peers != NULL) {
		ctl_set_peers(d->ctl, NULL);
		peers_close(d->peers);
		d->peers = NULL;
	}
	ctl_close(d->ctl);	/* its commits sync again, on the loop */
	uv_signal_stop(&d->sigterm);
	uv_signal_stop(&d->sigint);
	uv_signal_stop(&d->sighup);
	if (d->api) {
		api_close(d->api);
		d->api = NULL;
	}
}

static void
beacon_found(void *arg, const uint8_t device[32], const char *ip,
    uint16_t port)
{
	struct samend *d = arg;
	char addr[64];

	if (d->peers == NULL)
		return;
	snprintf(addr, sizeof(addr), "tcp://%s:%u", ip, port);
	peers_found(d->peers, device, addr);
}

/* The port of tcp://ADDR:PORT, or 0. */
static uint16_t
listen_port(const char *listen)
{
	const char *colon = strrchr(listen, ':');
	long n;
	char *end;

	if (colon == NULL || colon < listen + 6)
		return 0;
	n = strtol(colon + 1, &end, 10);
	return *end == '\0' && n > 0 && n < 65536 ? (uint16_t)n : 0;
}

static void
start_beacon(struct samend *d, const char *listen)
{
	char *cause = NULL;
	const char *to = *d->conf.beacon_addr ? d->conf.beacon_addr :
	    "255.255.255.255";

	if (beacon_open(&d->beacon, &d->loop, vault_public_key(d->vault), to,
	    (uint16_t)d->conf.beacon_port, listen_port(listen), beacon_found,
	    d, &cause) != 0) {
		log_warnx("%s; beacon off", cause);
		free(cause);
		return;
	}
	log_info("beacon on UDP port %d", d->conf.beacon_port);
}

/* The disk has the lazy commits up to done (or failed): tell who waits. */
static void
synced_cb(void *arg, uint64_t done, int status)
{
	struct samend *d = arg;

	if (status != 0)
		store_fail(d->store);
	store_durable(d->store, done);
	ctl_durable(d->ctl, done, status);
	if (d->peers != NULL)
		peers_durable(d->peers, done, status);
}

/* Sync starts once the keys are unlocked: CURVE needs the device key. */
static void
start_peers(void *arg)
{
	struct samend *d = arg;
	struct peers_env env;
	char *cause = NULL;

	if (d->peers != NULL || d->zctx == NULL || d->stopping ||
	    vault_locked(d->vault))
		return;
	memset(&env, 0, sizeof(env));
	env.loop = &d->loop;
	env.zctx = d->zctx;
	env.store = d->store;
	env.sign_sk = vault_sign_sk(d->vault);
	env.listen = d->listen != NULL ? d->listen : d->conf.listen;
	env.static_peers = d->conf.peers;
	env.sync_interval = d->conf.sync_interval;
	env.max_skew_ms = (uint64_t)d->conf.max_clock_skew * 1000;
	env.durable = d->durable;
	ctl_peer_host(d->ctl, &env.host);
	if (peers_open(&d->peers, &env, &cause) != 0) {
		log_warnx("sync is off: %s", cause);
		free(cause);
		return;
	}
	ctl_set_peers(d->ctl, d->peers);
	if (*env.listen != '\0')
		log_info("listening for peers on %s", env.listen);
	if (d->conf.beacon)
		start_beacon(d, env.listen);
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	struct samend *d = h->data;

	if (signum == SIGHUP)
		reload(d);
	else
		stop(d);
}

static void
parse_args(struct samend *d, int argc, char **argv, int *check_config,
    int *daemon)
{
	enum { OPT_DAEMONIZE = 256, OPT_FOREGROUND, OPT_CHECK, OPT_VERSION,
	    OPT_LISTEN };
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "daemonize", no_argument, NULL, OPT_DAEMONIZE },
		{ "foreground", no_argument, NULL, OPT_FOREGROUND },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "d:c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			free(d->dir);
			d->dir = xstrdup(optarg);
			break;
		case 'c':
			free(d->conf_path);
			d->conf_path = xstrdup(optarg);
			d->conf_given = 1;
			break;
		case OPT_DAEMONIZE: *daemon = 1; break;
		case OPT_FOREGROUND: *daemon = 0; break;
		case 'v': d->verbose++; break;
		case OPT_CHECK: *check_config = 1; break;
		case OPT_LISTEN:
			if (strncmp(optarg, "tcp://", 6) != 0 ||
			    strrchr(optarg, ':') == optarg + 3) {
				fprintf(stderr, "samend: --listen takes "
				    "tcp://ADDR:PORT\n");
				exit(2);
			}
			free(d->listen);
			d->listen = xstrdup(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("samend %s (protocol %d)\n", SAMEN_VERSION,
			    SAMEN_PROTOCOL_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "samend: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		exit(2);
	}
}

/* The data directory must exist and be ours alone. */
static void
check_dir(struct samend *d)
{
	struct stat st;
	char *resolved;

	if (stat(d->dir, &st) != 0) {
		if (errno == ENOENT)
			fatalx("%s does not exist: run 'samen -d %s init' "
			    "first", d->dir, d->dir);
		fatal("%s", d->dir);
	}
	if (!S_ISDIR(st.st_mode))
		fatalx("%s is not a directory", d->dir);
	if ((st.st_mode & 077) != 0) {
		log_warnx("%s was accessible to other users (mode %03o); "
		    "setting it to 0700", d->dir, st.st_mode & 0777);
		if (chmod(d->dir, 0700) != 0)
			fatal("chmod %s", d->dir);
	}
	/* We chdir("/") when detaching: keep an absolute path. */
	if ((resolved = realpath(d->dir, NULL)) == NULL)
		fatal("%s", d->dir);
	free(d->dir);
	d->dir = resolved;
}

int
main(int argc, char **argv)
{
	struct samend d;
	struct ctl_env env;
	int check_config = 0, daemon = 0, rc;
	char *cause = NULL, *db_path, *wal_path;

	memset(&d, 0, sizeof(d));
	d.lock_fd = d.ready_fd = -1;
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	d.dir = default_dir();
	parse_args(&d, argc, argv, &check_config, &daemon);
	log_init(1, LOG_LEVEL_INFO, "samend");
	if (store_global_init() != 0)
		log_warnx("SQLite was initialised early: its memory statistics "
		    "stay on");
	if (d.dir == NULL)
		fatalx("no data directory: use -d DIR or set SAMEN_HOME");
	if (d.conf_path == NULL)
		d.conf_path = xasprintf("%s/%s", d.dir, CONF_FILE);

	/* 1. Configuration. */
	if (conf_load(&d.conf, d.conf_path, d.conf_given, &cause) != 0) {
		fprintf(stderr, "samend: %s\n", cause);
		free(cause);
		free(d.conf_path);
		free(d.dir);
		return 1;
	}
	if (check_config) {
		printf("# %s\n", d.conf_path);
		conf_print(stdout, &d.conf);
		free(d.conf_path);
		free(d.dir);
		return 0;
	}
	log_setlevel(d.conf.log_level + d.verbose > LOG_LEVEL_DEBUG ?
	    LOG_LEVEL_DEBUG : (enum log_level)(d.conf.log_level + d.verbose));
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");

	/* 2. The data directory: ours, locked, the identity readable. */
	check_dir(&d);
	lock_dir(&d);
	if (vault_open(&d.vault, d.dir, &cause) != 0)
		fatalx("%s", cause);

	/* 3. Detach (before any thread exists), then record our pid. */
	if (daemon) {
		daemonize(&d);
		log_init(0, log_getlevel(), "samend");
		write_pidfile(&d);
	}
	write_lock_pid(&d);

	/* 4. The store, the index and the request handlers. */
	db_path = xasprintf("%s/%s", d.dir, DB_FILE);
	if (store_open(&d.store, db_path, &cause) != 0)
		fatalx("%s: %s", db_path, cause);
	/* wal_autocheckpoint is ckpt_check_cb's, not SQLite's. */
	store_checkpoint_elsewhere(d.store);
	d.index = index_new();
	if (uv_loop_init(&d.loop) != 0)
		fatalx("uv_loop_init failed");
	wal_path = xasprintf("%s-wal", db_path);
	if (durable_open(&d.durable, &d.loop, wal_path, synced_cb, &d,
	    &cause) != 0)
		fatalx("%s", cause);
	/*
	 * The WAL written to where it grows to (twice wal_autocheckpoint:
	 * ckpt_done_cb), before anything writes it: SQLite then overwrites
	 * blocks on disk instead of growing the file at every commit.
	 */
	{
		uint64_t bytes = store_wal_bytes(d.store,
		    2 * (uint64_t)d.conf.wal_autocheckpoint);

		if (durable_prefill(d.durable, bytes < WAL_PREFILL_MAX ?
		    bytes : WAL_PREFILL_MAX) != 0)
			log_warnx("%s: could not write it ahead: %s", wal_path,
			    strerror(errno));
	}
	free(wal_path);
	d.ckpt = store_ckpt_new(db_path);
	d.ckpt_test_fail = testhook()->ckpt_sync_fail;
	uv_check_init(&d.loop, &d.ckpt_check);
	d.ckpt_check.data = &d;
	uv_check_start(&d.ckpt_check, ckpt_check_cb);
	uv_timer_init(&d.loop, &d.ckpt_idle);
	d.ckpt_idle.data = &d;
	uv_unref((uv_handle_t *)&d.ckpt_idle);
	trim_open(&d.loop);
	env.loop = &d.loop;
	env.store = d.store;
	env.vault = d.vault;
	env.index = d.index;
	env.dir = d.dir;
	env.db_path = db_path;
	env.durable = d.durable;
	env.unlocked = start_peers;
	env.unlocked_arg = &d;
	d.ctl = ctl_new(&env);
	if (!vault_has_passphrase(d.vault)) {
		if ((rc = ctl_unlock_now(d.ctl, NULL, 0)) != 0)
			fatalx("could not open the key file: %s",
			    samen_strerror(rc));
		log_warnx("the device keys have no passphrase: anyone with "
		    "this disk can read the replica");
	} else
		log_info("locked: waiting for 'samen unlock'");

	/* 5. The control socket, last: it is the sign that we serve. */
	if ((d.zctx = zmq_ctx_new()) == NULL)
		fatal("zmq_ctx_new");
	if (api_open(&d.api, &d.loop, d.zctx, d.dir, d.conf.batch_max,
	    ctl_batch, d.ctl, &cause) != 0)
		fatalx("%s", cause);
	if (!vault_locked(d.vault)) {
		start_peers(&d);
		if (d.peers == NULL)
			fatalx("could not start sync (see above)");
	}

	/* 6. Signals: TERM and INT stop, HUP reloads. */
	uv_signal_init(&d.loop, &d.sigterm);
	uv_signal_init(&d.loop, &d.sigint);
	uv_signal_init(&d.loop, &d.sighup);
	d.sigterm.data = d.sigint.data = d.sighup.data = &d;
	uv_signal_start(&d.sigterm, signal_cb, SIGTERM);
	uv_signal_start(&d.sigint, signal_cb, SIGINT);
	uv_signal_start(&d.sighup, signal_cb, SIGHUP);

	log_info("samend %s serving %s as %s", SAMEN_VERSION, d.dir,
	    vault_locked(d.vault) ? "locked" : "unlocked");
	if (d.ready_fd >= 0) {
		if (write(d.ready_fd, "", 1) != 1)
			log_warn("tell the parent we started");
		close(d.ready_fd);
	}

	/* 7. Serve until a signal stops us. */
	uv_run(&d.loop, UV_RUN_DEFAULT);

	/* 8. Shut down in reverse: handles, sockets, context, state. */
	uv_walk(&d.loop, close_walk_cb, NULL);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d.loop) != 0)
		log_warnx("event loop closed with live handles");
	zmq_ctx_term(d.zctx);
	ctl_free(d.ctl);
	index_free(d.index);
	/* First: the store's close checkpoints only as the last connection. */
	store_ckpt_free(d.ckpt);
	store_close(d.store);
	free(db_path);
	vault_close(d.vault);
	if (d.pidfile_written) {
		char *path = xasprintf("%s/%s", d.dir, PID_FILE);

		unlink(path);
		free(path);
	}
	close(d.lock_fd);
	free(d.conf_path);
	free(d.dir);
	free(d.listen);
	log_info("stopped");
	return 0;
}
