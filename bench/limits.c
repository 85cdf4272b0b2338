/*
 * limits: what this machine can do at best, measured in the same run as the
 * scenarios so that their ratios mean something on a busy machine
 * (bench/README.md).  One JSON object on stdout.
 *
 *   limits [--quick] [--dir DIR]
 *
 * ed25519 sign and verify per second on one core (libsodium, a 200-byte
 * message as a header is); XChaCha20-Poly1305 and BLAKE2b throughput on
 * 64 KiB buffers and their rate on the small inputs samen uses (a 256-byte
 * chunk, a 40-byte vid input); SQLite in WAL mode with synchronous=FULL (as
 * daemon/store.c opens it): rows per second inserted in one transaction
 * with time-ordered 16-byte keys (and random ones, for comparison), and
 * single-row transactions per second, each one fsync'd; ZeroMQ over TCP
 * loopback, without and with CURVE: messages per second one way (256 B and
 * 1 MiB) and round trips per second (64 B ping-pong).  The database goes in
 * DIR (default: a new directory under /tmp, removed after).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>
#include <zmq.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double budget = 1.0;	/* seconds per timed loop */

static void
die(const char *what)
{
	fprintf(stderr, "limits: %s\n", what);
	exit(1);
}

/* Crypto. */

static double
ed25519_sign_rate(void)
{
	uint8_t pk[32], sk[64], msg[200], sig[64];
	double t0 = now_s(), t;
	long n = 0;

	crypto_sign_keypair(pk, sk);
	randombytes_buf(msg, sizeof(msg));
	do {
		for (int i = 0; i < 64; i++, n++) {
			msg[0] = (uint8_t)n;
			crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
		}
		t = now_s() - t0;
	} while (t < budget);
	return (double)n / t;
}

static int
cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

/*
 * Verifications per second on one core, over VERIFY_SLICES slices of a
 * fifth of budget each: *best is the fastest slice (what the core does
 * when nothing else runs on it: the bound), *median the median.  One long
 * loop on a machine others share measured whatever they left over, and
 * moved by half between runs a few minutes apart.
 */
#define VERIFY_SLICES 25
/* SQLite rows/s: the median of this many runs. */
#define SQLITE_RUNS 5
static void
ed25519_verify_rate(double *best, double *median)
{
	uint8_t pk[32], sk[64], msg[16][200], sig[16][64];
	double rate[VERIFY_SLICES], t0, t;
	long n, bad = 0;

	crypto_sign_keypair(pk, sk);
	for (int i = 0; i < 16; i++) {
		randombytes_buf(msg[i], sizeof(msg[i]));
		crypto_sign_detached(sig[i], NULL, msg[i], sizeof(msg[i]), sk);
	}
	for (int k = 0; k < VERIFY_SLICES; k++) {
		n = 0;
		t0 = now_s();
		do {
			for (int i = 0; i < 16; i++, n++)
				bad += crypto_sign_verify_detached(sig[i],
				    msg[i], sizeof(msg[0]), pk) != 0;
			t = now_s() - t0;
		} while (t < budget / 5);
		rate[k] = (double)n / t;
	}
	if (bad)
		die("a signature did not verify");
	qsort(rate, VERIFY_SLICES, sizeof(rate[0]), cmp_double);
	*best = rate[VERIFY_SLICES - 1];
	*median = rate[VERIFY_SLICES / 2];
}

/* Rate of op on len-byte inputs: calls per second. */
static double
aead_rate(size_t len)
{
	uint8_t key[32], nonce[24], ad[80];
	uint8_t *in = malloc(len), *out = malloc(len + 16);
	double t0 = now_s(), t;
	long n = 0;

	if (in == NULL || out == NULL)
		die("out of memory");
	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(ad, sizeof(ad));
	randombytes_buf(in, len);
	do {
		for (int i = 0; i < 16; i++, n++) {
			nonce[0] = (uint8_t)n;
			crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL,
			    in, len, ad, sizeof(ad), NULL, nonce, key);
		}
		t = now_s() - t0;
	} while (t < budget);
	free(in);
	free(out);
	return (double)n / t;
}

static double
blake2b_rate(size_t len)
{
	uint8_t *in = malloc(len), out[32];
	double t0 = now_s(), t;
	long n = 0;

	if (in == NULL)
		die("out of memory");
	randombytes_buf(in, len);
	do {
		for (int i = 0; i < 16; i++, n++) {
			in[0] = (uint8_t)n;
			crypto_generichash(out, sizeof(out), in, len, NULL, 0);
		}
		t = now_s() - t0;
	} while (t < budget);
	free(in);
	return (double)n / t;
}

/* SQLite. */

static sqlite3 *
db_open(const char *path)
{
	sqlite3 *db;

	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("sqlite3_open");
	/* As daemon/store.c: WAL, FULL, secure_delete, 16 MiB cache. */
	if (sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL;"
	    "PRAGMA secure_delete = ON;"
	    "PRAGMA temp_store = MEMORY;"
	    "PRAGMA cache_size = -16384;"
	    "CREATE TABLE t (k BLOB PRIMARY KEY, a INTEGER NOT NULL,"
	    " v BLOB NOT NULL) WITHOUT ROWID;", NULL, NULL, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	return db;
}

static void
db_close(sqlite3 *db, const char *path)
{
	char p[4096];

	sqlite3_close(db);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

/* Rows per second in one transaction (insert and commit). */
static double
sqlite_bulk(const char *path, long rows, int random_keys)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *s;
	uint8_t key[16], val[150];
	double t0;

	if (sqlite3_prepare_v2(db, "INSERT INTO t (k, a, v) VALUES (?1, ?2, "
	    "?3)", -1, &s, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	randombytes_buf(val, sizeof(val));
	t0 = now_s();
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (long i = 0; i < rows; i++) {
		if (random_keys)
			randombytes_buf(key, sizeof(key));
		else {
			/* Time-ordered, as a rid: big-endian counter, then
			 * random bytes. */
			for (int b = 0; b < 8; b++)
				key[b] = (uint8_t)((uint64_t)i >> (56 - 8 * b));
			randombytes_buf(key + 8, 8);
		}
		val[0] = (uint8_t)i;
		sqlite3_bind_blob(s, 1, key, sizeof(key), SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, i);
		sqlite3_bind_blob(s, 3, val, sizeof(val), SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			die(sqlite3_errmsg(db));
		sqlite3_reset(s);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	t0 = now_s() - t0;
	sqlite3_finalize(s);
	db_close(db, path);
	return (double)rows / t0;
}

/*
 * Single-row transactions per second, each one durable (fsync), and their
 * latency: p50, and the disk's own tail (p99, p99.9), which every durable
 * write inherits.
 */
static double
sqlite_txn(const char *path, double secs, double q[3])
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *s;
	uint8_t key[16], val[150];
	double t0 = now_s(), t;
	static double lat[100000];
	long n = 0, m;

	if (sqlite3_prepare_v2(db, "INSERT INTO t (k, a, v) VALUES (?1, ?2, "
	    "?3)", -1, &s, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	randombytes_buf(val, sizeof(val));
	do {
		double ts = now_s();

		randombytes_buf(key, sizeof(key));
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		sqlite3_bind_blob(s, 1, key, sizeof(key), SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, n);
		sqlite3_bind_blob(s, 3, val, sizeof(val), SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			die(sqlite3_errmsg(db));
		sqlite3_reset(s);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			die(sqlite3_errmsg(db));
		t = now_s();
		if (n < 100000)
			lat[n] = t - ts;
		n++;
		t -= t0;
	} while (t < secs);
	sqlite3_finalize(s);
	db_close(db, path);
	m = n < 100000 ? n : 100000;
	qsort(lat, (size_t)m, sizeof(lat[0]), cmp_double);
	q[0] = m ? lat[m / 2] * 1e3 : 0;
	q[1] = m ? lat[(long)((double)(m - 1) * 0.99)] * 1e3 : 0;
	q[2] = m ? lat[(long)((double)(m - 1) * 0.999)] * 1e3 : 0;
	return (double)n / t;
}

/* ZeroMQ. */

struct zkeys {
	int curve;
	char server_pk[41], server_sk[41], client_pk[41], client_sk[41];
};

static void
zsetup(void *sock, const struct zkeys *k, int server)
{
	int one = 1, hwm = 100000;

	/* The default linger: a sender that closes still delivers. */
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (!k->curve)
		return;
	if (server) {
		zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one));
		zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->server_sk, 40);
	} else {
		zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->server_pk, 40);
		zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->client_pk, 40);
		zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->client_sk, 40);
	}
}

struct zpeer {
	void *ctx;
	const struct zkeys *k;
	char endpoint[128];
	size_t size;
	long count;
	int pingpong;
};

static void *
zsender(void *arg)
{
	struct zpeer *p = arg;
	void *s = zmq_socket(p->ctx, p->pingpong ? ZMQ_REQ : ZMQ_PUSH);
	char *buf = calloc(1, p->size);

	if (s == NULL || buf == NULL)
		die("zmq socket");
	zsetup(s, p->k, 0);
	if (zmq_connect(s, p->endpoint) != 0)
		die(zmq_strerror(errno));
	for (long i = 0; i < p->count; i++) {
		if (zmq_send(s, buf, p->size, 0) < 0)
			die(zmq_strerror(errno));
		if (p->pingpong && zmq_recv(s, buf, p->size, 0) < 0)
			die(zmq_strerror(errno));
	}
	zmq_close(s);
	free(buf);
	return NULL;
}

/* Messages (or round trips) per second over tcp loopback. */
static double
zmq_rate(const struct zkeys *k, size_t size, long count, int pingpong)
{
	void *ctx = zmq_ctx_new(), *r;
	struct zpeer p;
	pthread_t th;
	size_t len = sizeof(p.endpoint);
	char *buf = malloc(size + 1);
	double t0, t;

	if (ctx == NULL || buf == NULL)
		die("zmq_ctx_new");
	r = zmq_socket(ctx, pingpong ? ZMQ_REP : ZMQ_PULL);
	zsetup(r, k, 1);
	if (zmq_bind(r, "tcp://127.0.0.1:*") != 0)
		die(zmq_strerror(errno));
	memset(&p, 0, sizeof(p));
	zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, p.endpoint, &len);
	p.ctx = ctx;
	p.k = k;
	p.size = size;
	p.count = count;
	p.pingpong = pingpong;
	/* The first message includes connecting and the handshake: the
	 * clock starts after it. */
	if (pthread_create(&th, NULL, zsender, &p) != 0)
		die("pthread_create");
	if (zmq_recv(r, buf, size + 1, 0) < 0)
		die(zmq_strerror(errno));
	if (pingpong)
		zmq_send(r, buf, size, 0);
	t0 = now_s();
	for (long i = 1; i < count; i++) {
		if (zmq_recv(r, buf, size + 1, 0) < 0)
			die(zmq_strerror(errno));
		if (pingpong)
			zmq_send(r, buf, size, 0);
	}
	t = now_s() - t0;
	pthread_join(th, NULL);
	zmq_close(r);
	zmq_ctx_term(ctx);
	free(buf);
	return (double)(count - 1) / t;
}

/* Scales count so that one measurement takes about budget seconds. */
static double
zmq_measure(const struct zkeys *k, size_t size, int pingpong)
{
	long count = 200;
	double rate = zmq_rate(k, size, count, pingpong);

	count = (long)(rate * budget);
	if (count < 20)
		count = 20;
	return zmq_rate(k, size, count, pingpong);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/samen-limits.XXXXXX", path[4096];
	const char *where = NULL;
	struct zkeys plain, curve;
	long rows = 200000;
	double q[3], fsync_rate, vbest, vmedian, runs[SQLITE_RUNS];
	int made = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			budget = 0.5;
			rows = 100000;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			where = argv[++i];
		else {
			fprintf(stderr, "usage: limits [--quick] [--dir DIR]\n");
			return 2;
		}
	}
	if (sodium_init() < 0)
		die("sodium_init");
	if (where == NULL) {
		if (mkdtemp(dir) == NULL)
			die("mkdtemp");
		where = dir;
		made = 1;
	}
	snprintf(path, sizeof(path), "%s/limits.db", where);
	memset(&plain, 0, sizeof(plain));
	memset(&curve, 0, sizeof(curve));
	curve.curve = 1;
	if (zmq_curve_keypair(curve.server_pk, curve.server_sk) != 0 ||
	    zmq_curve_keypair(curve.client_pk, curve.client_sk) != 0)
		die("zmq_curve_keypair (libzmq without CURVE?)");

	printf("{\"ed25519_sign_per_s\": %.0f", ed25519_sign_rate());
	ed25519_verify_rate(&vbest, &vmedian);
	printf(", \"ed25519_verify_per_s\": %.0f", vbest);
	printf(", \"ed25519_verify_median_per_s\": %.0f", vmedian);
	printf(", \"xchacha20poly1305_MBps\": %.1f",
	    aead_rate(65536) * 65536 / 1e6);
	printf(", \"xchacha20poly1305_256B_per_s\": %.0f", aead_rate(256));
	printf(", \"blake2b_MBps\": %.1f", blake2b_rate(65536) * 65536 / 1e6);
	printf(", \"blake2b_40B_per_s\": %.0f", blake2b_rate(40));
	fflush(stdout);
	/*
	 * A single run's figure swung from 155k to 260k rows/s from one
	 * make bench to the next here: the median of SQLITE_RUNS, with all
	 * of them beside it.
	 */
	for (int i = 0; i < SQLITE_RUNS; i++)
		runs[i] = sqlite_bulk(path, rows, 0);
	qsort(runs, SQLITE_RUNS, sizeof(runs[0]), cmp_double);
	printf(", \"sqlite_rows_per_s\": %.0f", runs[SQLITE_RUNS / 2]);
	printf(", \"sqlite_rows_per_s_runs\": [");
	for (int i = 0; i < SQLITE_RUNS; i++)
		printf("%s%.0f", i ? ", " : "", runs[i]);
	printf("]");
	printf(", \"sqlite_rows_random_keys_per_s\": %.0f",
	    sqlite_bulk(path, rows, 1));
	printf(", \"sqlite_rows\": %ld", rows);
	fsync_rate = sqlite_txn(path, 2 * budget, q);
	printf(", \"sqlite_fsync_txn_per_s\": %.1f", fsync_rate);
	printf(", \"sqlite_fsync_txn_p50_ms\": %.2f", q[0]);
	printf(", \"sqlite_fsync_txn_p99_ms\": %.2f", q[1]);
	printf(", \"sqlite_fsync_txn_p999_ms\": %.2f", q[2]);
	fflush(stdout);
	printf(", \"zmq_msgs_per_s\": %.0f", zmq_measure(&plain, 256, 0));
	printf(", \"zmq_curve_msgs_per_s\": %.0f", zmq_measure(&curve, 256, 0));
	printf(", \"zmq_MBps_1MiB\": %.1f",
	    zmq_measure(&plain, 1 << 20, 0) * (1 << 20) / 1e6);
	printf(", \"zmq_curve_MBps_1MiB\": %.1f",
	    zmq_measure(&curve, 1 << 20, 0) * (1 << 20) / 1e6);
	printf(", \"zmq_roundtrips_per_s\": %.0f", zmq_measure(&plain, 64, 1));
	printf(", \"zmq_curve_roundtrips_per_s\": %.0f",
	    zmq_measure(&curve, 64, 1));
	printf(", \"msg_bytes\": 256, \"budget_s\": %.1f}\n", budget);
	if (made)
		rmdir(dir);
	return 0;
}
