/*
 * probe: how long until a daemon serves a sync request (bench/README.md).
 *
 *   probe DIR SERVER_DEVICE_ID tcp://HOST:PORT T0_NS [TIMEOUT_S]
 *
 * Connects to the server as the device of DIR (its keys, made with
 * --no-passphrase: a peer or a circle member of the server), over CURVE
 * like a DEALER of daemon/peer.c, retrying the connection every 5 ms, and
 * sends a HELLO.  Prints one JSON line with the time from T0_NS
 * (CLOCK_MONOTONIC nanoseconds, e.g. Python's time.monotonic_ns() just
 * before the server was started) to the server's HELLO reply, and the
 * number of circles it listed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "devid.h"
#include "error.h"
#include "keywrap.h"
#include "sync.h"
#include "wire.h"

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "probe: %s\n", what);
	exit(1);
}

int
main(int argc, char **argv)
{
	struct keywrap_secrets sec;
	uint8_t server[32], scurve[32], cpk[32], csk[32], digest[32];
	uint8_t buf[4096];
	char path[4096];
	FILE *f;
	size_t len;
	uint64_t t0, deadline;
	void *ctx, *s;
	int ivl = 5, zero = 0, rc;
	struct wbuf w;
	zmq_pollitem_t pi;
	struct sync_msg m;

	if (argc < 5) {
		fprintf(stderr, "usage: probe DIR SERVER_DEVICE_ID "
		    "tcp://HOST:PORT T0_NS [TIMEOUT_S]\n");
		return 2;
	}
	if (sodium_init() < 0)
		die("sodium_init");
	t0 = strtoull(argv[4], NULL, 10);
	deadline = now_ns() + (uint64_t)(argc > 5 ? atof(argv[5]) : 60) * 1e9;
	snprintf(path, sizeof(path), "%s/keys", argv[1]);
	if ((f = fopen(path, "rb")) == NULL)
		die("cannot read the keys");
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if ((rc = keywrap_open(&sec, buf, len, NULL, 0)) != 0)
		die(samen_strerror(rc));
	if (devid_decode(server, argv[2], strlen(argv[2])) != 0)
		die("bad server device id");
	if (crypto_sign_ed25519_pk_to_curve25519(scurve, server) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(cpk, sec.sign_sk + 32) ||
	    crypto_sign_ed25519_sk_to_curve25519(csk, sec.sign_sk) != 0)
		die("no X25519 form");
	sodium_memzero(&sec, sizeof(sec));

	ctx = zmq_ctx_new();
	if ((s = zmq_socket(ctx, ZMQ_DEALER)) == NULL)
		die("zmq_socket");
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl, sizeof(ivl));
	if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, scurve, 32) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cpk, 32) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, csk, 32) != 0 ||
	    zmq_connect(s, argv[3]) != 0)
		die(zmq_strerror(errno));
	memset(digest, 0, sizeof(digest));
	wire_init(&w);
	sync_put_hello(&w, ((uint64_t)randombytes_random() << 32) |
	    randombytes_random(), digest, NULL, 0);
	if (zmq_send(s, wire_data(&w), wire_len(&w), 0) < 0)
		die(zmq_strerror(errno));
	wire_free(&w);
	pi.socket = s;
	pi.events = ZMQ_POLLIN;
	for (;;) {
		uint64_t now = now_ns();

		if (now >= deadline) {
			printf("{\"ready_ms\": null, \"error\": \"timeout\"}\n");
			return 1;
		}
		if (zmq_poll(&pi, 1, (long)((deadline - now) / 1000000)) < 0 &&
		    errno != EINTR)
			die(zmq_strerror(errno));
		if (pi.revents & ZMQ_POLLIN)
			break;
	}
	rc = zmq_recv(s, buf, sizeof(buf), 0);
	{
		uint64_t t = now_ns();
		int ok = rc > 0 && (size_t)rc <= sizeof(buf) &&
		    sync_decode(&m, buf, (size_t)rc) == 0;

		printf("{\"ready_ms\": %.2f, \"reply\": \"%s\", "
		    "\"circles\": %u}\n", (double)(t - t0) / 1e6,
		    ok && m.type == SYNC_HELLO ? "hello" : "other",
		    ok ? m.ncircles : 0);
		if (ok)
			sync_msg_free(&m);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}
