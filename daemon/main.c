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
#include "beacon.h"
#include "ckpt.h"
#include "clock.h"
#include "conf.h"
#include "ctl.h"
#include "datadir.h"
#include "durable.h"
#include "error.h"
#include "index.h"
#include "log.h"
#include "metrics.h"
#include "metricsfile.h"
#include "notify.h"
#include "peer.h"
#include "protocol.h"
#include "store.h"
#include "trim.h"
#include "testhook.h"
#include "util.h"
#include "vault.h"
#include "version.h"

#define LOCK_FILE "samend.lock"
#define PID_FILE "samend.pid"
#define DB_FILE "samen.db"
#define CONF_FILE "samen.conf"

struct samend {
	char *dir;
	char *conf_path;
	int conf_given;
	int verbose;
	struct conf conf;
	char *listen;		/* --listen, overriding the config */
	int lock_fd;
	int ready_fd;		/* --daemonize: tells the parent we are up */
	int pidfile_written;
	char *db_path;
	/* The modules, in the order main opens them. */
	struct vault *vault;
	struct metrics *metrics;	/* what the modules count */
	struct metrics_samen fam;	/* its families */
	struct store *store;
	struct index *index;
	uv_loop_t loop;
	struct durable *durable;	/* syncs the lazy commits */
	struct ckpt *ckpt;
	struct ctl *ctl;
	void *zctx;
	struct api *api;
	struct peers *peers;	/* once unlocked */
	struct beacon *beacon;	/* with peers, if the config asks */
	struct metricsfile *metricsfile;	/* if the config asks */
	uv_signal_t sigterm, sigint, sighup;
	int stopping;
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
	const char *dir = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "d:c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			/* As samen: an empty -d is a mistake, not a default. */
			if (*optarg == '\0') {
				fprintf(stderr, "samend: -d needs a "
				    "directory\n");
				exit(2);
			}
			dir = optarg;
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
			printf("samend %s (protocol %d, schema %d)\n",
			    SAMEN_VERSION, SAMEN_PROTOCOL_VERSION,
			    SAMEN_SCHEMA_VERSION);
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
	/* The same lookup as samen's, so that both find one directory. */
	d->dir = datadir_find(dir);
}

static void
set_log_level(struct samend *d)
{
	int level = d->conf.log_level + d->verbose;

	log_setlevel(level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG :
	    (enum log_level)level);
}

/*
 * Files of the data directory that hold the device's keys or its replica.
 * A copy or a restore may have loosened them; samend makes them its
 * owner's alone again before it reads them, since SQLite gives a new WAL
 * and shm the database's own mode, whatever the umask.
 */
static const char *const private_files[] = {
	"keys", DB_FILE, DB_FILE "-wal", DB_FILE "-shm",
};

/* Takes the group's and others' bits off path, whose lstat is st. */
static void
make_private(const char *path, const struct stat *st, mode_t want)
{
	if ((st->st_mode & 077) == 0)
		return;
	log_warnx("%s was accessible to other users (mode %03o); setting it "
	    "to %04o", path, (unsigned)(st->st_mode & 0777), (unsigned)want);
	if (chmod(path, want) != 0)
		fatal("chmod %s", path);
}

/* The data directory must exist and be ours alone, with its files. */
static void
check_dir(struct samend *d)
{
	struct stat st;
	char *resolved, *path;
	size_t i;

	if (stat(d->dir, &st) != 0) {
		if (errno == ENOENT)
			fatalx("%s does not exist: run 'samen -d %s init' "
			    "first", d->dir, d->dir);
		fatal("%s", d->dir);
	}
	if (!S_ISDIR(st.st_mode))
		fatalx("%s is not a directory", d->dir);
	make_private(d->dir, &st, 0700);
	/* Regular files only: a link's target may be anyone's to set. */
	for (i = 0; i < sizeof(private_files) / sizeof(private_files[0]);
	    i++) {
		path = xasprintf("%s/%s", d->dir, private_files[i]);
		if (lstat(path, &st) != 0) {
			if (errno != ENOENT)
				fatal("%s", path);
		} else if (S_ISREG(st.st_mode))
			make_private(path, &st, 0600);
		free(path);
	}
	/* We chdir("/") when detaching: keep an absolute path. */
	if ((resolved = realpath(d->dir, NULL)) == NULL)
		fatal("%s", d->dir);
	free(d->dir);
	d->dir = resolved;
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

/* The disk has the lazy commits up to done (or failed): tell who waits. */
static void
synced_cb(void *arg, uint64_t done, int status)
{
	struct samend *d = arg;

	if (status != 0)
		store_fail(d->store);
	store_durable(d->store, done);
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
	env.circle = ctl_circle(d->ctl);
	ctl_peer_hooks(d->ctl, &env.hooks);
	env.metrics = &d->fam;
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

/*
 * Locked (ctl.h): sync stops, as in a daemon that started locked; the
 * ctl hears when it has ended (peer_hooks.closed).
 */
static void
stop_peers(void *arg)
{
	struct samend *d = arg;

	if (d->beacon != NULL) {
		beacon_close(d->beacon);
		d->beacon = NULL;
	}
	if (d->peers != NULL) {
		ctl_set_peers(d->ctl, NULL);
		peers_close(d->peers);
		d->peers = NULL;
	}
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
	set_log_level(d);
	api_set_batch_max(d->api, d->conf.batch_max);
	ctl_set_lock_after_idle(d->ctl, d->conf.lock_after_idle);
	ctl_set_audit_retention(d->ctl, d->conf.audit_retention);
	if (d->peers != NULL)
		peers_set_interval(d->peers, d->conf.sync_interval);
	log_info("configuration reloaded from %s", d->conf_path);
}

/* HUP reloads; TERM and INT end the loop, and main shuts down. */
static void
signal_cb(uv_signal_t *h, int signum)
{
	struct samend *d = h->data;
	int rc;

	if (signum == SIGHUP) {
		if ((rc = notify_reloading()) != 0)
			log_warnx("sd_notify: %s", samen_strerror(rc));
		reload(d);
		if ((rc = notify_ready()) != 0)
			log_warnx("sd_notify: %s", samen_strerror(rc));
		return;
	}
	if (!d->stopping) {
		log_info("shutting down");
		if ((rc = notify_stopping()) != 0)
			log_warnx("sd_notify: %s", samen_strerror(rc));
	}
	d->stopping = 1;
	uv_stop(&d->loop);
}

/*
 * metrics_file: the metrics written every metrics_interval seconds
 * (docs/metrics.md).  A path that names no file is logged and samend
 * serves without it: monitoring that finds no file says so, and a typo
 * there must not stop a device from syncing.
 */
static void
start_metrics_file(struct samend *d)
{
	char *cause = NULL;

	if (metricsfile_open(&d->metricsfile, &d->loop, d->metrics, d->dir,
	    d->conf.metrics_file, (unsigned)d->conf.metrics_interval * 1000,
	    ctl_collect, d->ctl, &cause) != 0) {
		log_warnx("%s; no metrics file", cause);
		free(cause);
		return;
	}
	log_info("metrics to %s every %d s", metricsfile_path(d->metricsfile),
	    d->conf.metrics_interval);
}

/* SAMEND_TEST_ERASE_DELAY_MS: a slow erase, for the tests that kill one. */
static void
erase_delay(void *arg, const char *where)
{
	(void)arg;
	if (strcmp(where, "rewrite") == 0)
		usleep((useconds_t)testhook()->erase_delay_ms * 1000);
}

/*
 * The modules after the keys (main opens those before it detaches), each
 * after what it uses: the metrics they count into, the store, its index,
 * the loop and what syncs and checkpoints the store's WAL, the request
 * handlers, then the sockets, the metrics file (it reads all of them) and
 * the signals.  The control socket is the sign that we serve: nothing it
 * hands on may find a module missing.
 */
static void
open_modules(struct samend *d)
{
	struct ctl_env env;
	char *cause = NULL, *wal_path;
	int rc;

	d->metrics = metrics_open();
	metrics_samen(d->metrics, &d->fam);
	d->db_path = xasprintf("%s/%s", d->dir, DB_FILE);
	if (store_open(&d->store, d->db_path, &cause) != 0)
		fatalx("%s: %s", d->db_path, cause);
	store_time_commits(d->store, d->fam.commit_seconds);
	/* A peer's change set from the future is stored and held. */
	store_set_hold(d->store, clock_wall_ms,
	    (uint64_t)d->conf.max_clock_skew * 1000);
	if (testhook()->erase_delay_ms > 0)
		store_set_erase_hook(d->store, erase_delay, NULL);
	d->index = index_open();
	if (uv_loop_init(&d->loop) != 0)
		fatalx("uv_loop_init failed");
	wal_path = xasprintf("%s-wal", d->db_path);
	if (durable_open(&d->durable, &d->loop, wal_path, synced_cb, d,
	    &cause) != 0)
		fatalx("%s", cause);
	free(wal_path);
	durable_time_syncs(d->durable, d->fam.fsync_seconds);
	/* Before anything writes the WAL: it writes it ahead. */
	d->ckpt = ckpt_open(&d->loop, d->store, d->durable, d->db_path,
	    (uint64_t)d->conf.wal_autocheckpoint);
	/* glibc keeps what libzmq's thread freed: given back now and then. */
	trim_open(&d->loop);

	memset(&env, 0, sizeof(env));
	env.loop = &d->loop;
	env.store = d->store;
	env.vault = d->vault;
	env.index = d->index;
	env.dir = d->dir;
	env.db_path = d->db_path;
	env.durable = d->durable;
	env.ckpt = d->ckpt;
	env.unlocked = start_peers;
	env.unlocked_arg = d;
	env.metrics = &d->fam;
	env.locked = stop_peers;
	env.locked_arg = d;
	env.max_skew_ms = (uint64_t)d->conf.max_clock_skew * 1000;
	d->ctl = ctl_open(&env);
	ctl_set_lock_after_idle(d->ctl, d->conf.lock_after_idle);
	ctl_set_audit_retention(d->ctl, d->conf.audit_retention);
	if (vault_revoked(d->vault))
		log_warnx("this device was revoked: its data and keys are "
		    "erased; it answers 'samen status' only");
	else if (!vault_has_passphrase(d->vault)) {
		if ((rc = ctl_unlock_now(d->ctl, NULL, 0)) != 0)
			fatalx("could not open the key file: %s",
			    samen_strerror(rc));
		log_warnx("the device keys have no passphrase: anyone with "
		    "this disk can read the replica");
	} else
		log_info("locked: waiting for 'samen unlock'");

	/* Only now, after daemonize: its threads would not survive fork. */
	if ((d->zctx = zmq_ctx_new()) == NULL)
		fatal("zmq_ctx_new");
	if (api_open(&d->api, &d->loop, d->zctx, d->dir, d->conf.batch_max,
	    ctl_batch, d->ctl, &cause) != 0)
		fatalx("%s", cause);
	if (!vault_locked(d->vault)) {
		start_peers(d);
		if (d->peers == NULL)
			fatalx("could not start sync (see above)");
	}
	if (*d->conf.metrics_file != '\0')
		start_metrics_file(d);

	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&d->sigint, signal_cb, SIGINT);
	uv_signal_start(&d->sighup, signal_cb, SIGHUP);
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * Everything main opened, closed, in one place.  The metrics file goes
 * first: a stopping daemon shows no metrics (it is removed once a write
 * still running is over).  Checkpoints stop next: the store's close makes
 * the last one.  The last sync of the WAL follows, while every socket is
 * open, so that the replies and ACKs that waited for it go out.  Then
 * sync (beacon, peers), the control handlers (they refuse what still
 * waits for the index, through the control socket), the signals and the
 * control socket.  The loop runs until what is in flight has ended (a
 * checkpoint, the peers' checks on the pool, a metrics write) and every
 * handle is closed; the rest is freed in the reverse order of its
 * opening.
 */
static void
shut_down(struct samend *d)
{
	d->stopping = 1;
	metricsfile_close(d->metricsfile);
	d->metricsfile = NULL;
	ckpt_close(d->ckpt);
	durable_close(d->durable);
	d->durable = NULL;
	stop_peers(d);
	ctl_stop(d->ctl);	/* its commits sync again, on the loop */
	uv_signal_stop(&d->sigterm);
	uv_signal_stop(&d->sigint);
	uv_signal_stop(&d->sighup);
	api_close(d->api);
	d->api = NULL;
	/* What is running ends (a checkpoint, the peers' checks). */
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_walk(&d->loop, close_walk_cb, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop) != 0)
		log_warnx("event loop closed with live handles");

	zmq_ctx_term(d->zctx);
	ctl_close(d->ctl);
	index_close(d->index);
	store_close(d->store);
	metrics_close(d->metrics);
	vault_close(d->vault);
	if (d->pidfile_written) {
		char *path = xasprintf("%s/%s", d->dir, PID_FILE);

		unlink(path);
		free(path);
	}
	close(d->lock_fd);
	free(d->db_path);
	free(d->conf_path);
	free(d->dir);
	free(d->listen);
	log_info("stopped");
}

int
main(int argc, char **argv)
{
	struct samend d;
	int check_config = 0, daemon = 0, rc;
	char *cause = NULL;

	memset(&d, 0, sizeof(d));
	d.lock_fd = d.ready_fd = -1;
	/*
	 * What samend creates is its owner's alone: a new samen.db (and so
	 * its WAL and shm), the lock, the pid file, the control socket.
	 */
	umask(077);
	signal(SIGPIPE, SIG_IGN);

	/* 1. Arguments, then the configuration. */
	parse_args(&d, argc, argv, &check_config, &daemon);
	clock_set_offset_ms(testhook()->clock_offset_ms);
	log_init(1, LOG_LEVEL_INFO, "samend");
	if (store_global_init() != 0)
		log_warnx("SQLite was initialised early: its memory statistics "
		    "stay on");
	if (d.dir == NULL)
		fatalx("no data directory: use -d DIR or set SAMEN_HOME");
	if (d.conf_path == NULL)
		d.conf_path = xasprintf("%s/%s", d.dir, CONF_FILE);
	if (conf_load(&d.conf, d.conf_path, d.conf_given, &cause) != 0) {
		fprintf(stderr, "samend: %s\n", cause);
		free(cause);
		free(d.conf_path);
		free(d.dir);
		free(d.listen);
		return 1;
	}
	if (check_config) {
		printf("# %s\n", d.conf_path);
		conf_print(stdout, &d.conf);
		free(d.conf_path);
		free(d.dir);
		free(d.listen);
		return 0;
	}
	set_log_level(&d);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");

	/* 2. The data directory: ours alone, locked, the identity readable. */
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

	/* 4. The modules, in the order they depend on each other. */
	open_modules(&d);
	log_info("samend %s serving %s as %s", SAMEN_VERSION, d.dir,
	    vault_locked(d.vault) ? "locked" : "unlocked");
	if (d.ready_fd >= 0) {
		if (write(d.ready_fd, "", 1) != 1)
			log_warn("tell the parent we started");
		close(d.ready_fd);
	}
	if ((rc = notify_ready()) != 0)
		log_warnx("sd_notify: %s", samen_strerror(rc));

	/* 5. Serve until a signal stops us. */
	uv_run(&d.loop, UV_RUN_DEFAULT);

	/* 6. Shut down. */
	shut_down(&d);
	return 0;
}
