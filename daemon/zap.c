/* zap: who may connect: the ZAP handler (RFC 27) of our CURVE sockets, and its refusals, counted and logged sparingly. */
#include "zap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "error.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "zmsg.h"
#include "zsock.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/*
 * One client that is refused and tries again at once can connect
 * hundreds of times a second: a log line for each would be about 24 KB
 * of log a second.  So the first refusal of an address with a key is
 * logged, and the rest are counted and said in one line per QUIET_MS.  Only TRACKED pairs are remembered, and only NEW_LINES
 * first lines are logged per QUIET_MS: a client that rotates keys or
 * addresses gets one summary line for the rest, and no memory.
 */
#define QUIET_MS 60000
#define TRACKED 32
#define NEW_LINES 16
#define ADDRLEN 64

/* An address and key refused lately. */
struct refusal {
	char addr[ADDRLEN];	/* as ZAP gives it: an IP address */
	uint8_t key[32];
	int curve;		/* 0: not CURVE (no key) */
	uint64_t since;		/* first line or last sum (loop clock) */
	uint64_t last;		/* last refusal */
	uint64_t more;		/* refused since, not said yet */
};

struct zap {
	uv_loop_t *loop;
	struct zsock *zs;
	zap_admit_fn *admit;
	void *arg;
	uint64_t refused;
	struct metric *counter;	/* zap_count_into, or NULL */
	struct refusal seen[TRACKED];
	size_t nseen;
	uint64_t window;	/* when the current QUIET_MS began */
	unsigned lines;		/* first lines logged in it */
	uint64_t others;	/* refusals neither logged nor tracked */
	uint64_t others_since;
};

static void
say_first(const struct refusal *r)
{
	char hex[17];

	if (!r->curve) {
		log_warnx("refused a connection from %s: not CURVE", r->addr);
		return;
	}
	hex_encode(hex, r->key, 8);
	log_warnx("refused a connection from %s: unknown key %s...", r->addr,
	    hex);
}

/* Says r's refusals not said yet (if any), and starts a new count. */
static void
say_more(struct refusal *r, uint64_t now)
{
	char hex[17];
	unsigned long long s = (now - r->since + 999) / 1000;

	if (r->more > 0 && !r->curve)
		log_warnx("refused %llu more connections from %s in %llu s: "
		    "not CURVE", (unsigned long long)r->more, r->addr, s);
	else if (r->more > 0) {
		hex_encode(hex, r->key, 8);
		log_warnx("refused %llu more connections from %s in %llu s: "
		    "unknown key %s...", (unsigned long long)r->more, r->addr,
		    s, hex);
	}
	r->more = 0;
	r->since = now;
}

static void
say_others(struct zap *z, uint64_t now)
{
	if (z->others > 0)
		log_warnx("refused %llu more connections from other "
		    "addresses or keys in %llu s",
		    (unsigned long long)z->others,
		    (unsigned long long)(now - z->others_since + 999) / 1000);
	z->others = 0;
	z->others_since = now;
}

static struct refusal *
refusal_find(struct zap *z, const char *addr, const uint8_t *key)
{
	for (size_t i = 0; i < z->nseen; i++) {
		struct refusal *r = &z->seen[i];

		if (r->curve == (key != NULL) && strcmp(r->addr, addr) == 0 &&
		    (key == NULL || memcmp(r->key, key, 32) == 0))
			return r;
	}
	return NULL;
}

/*
 * A slot for a new pair: a free one, else the one refused longest ago,
 * whose count not said yet goes to the others'.
 */
static struct refusal *
refusal_slot(struct zap *z)
{
	struct refusal *r;

	if (z->nseen < TRACKED)
		return &z->seen[z->nseen++];
	r = &z->seen[0];
	for (size_t i = 1; i < z->nseen; i++)
		if (z->seen[i].last < r->last)
			r = &z->seen[i];
	if (z->others == 0)
		z->others_since = r->since;
	z->others += r->more;
	return r;
}

/* A refusal of addr with key (NULL: not CURVE) at now: counted, and
 * logged if it is news. */
static void
refusal_note(struct zap *z, const char *addr, const uint8_t *key,
    uint64_t now)
{
	struct refusal *r;

	z->refused++;
	if (z->counter != NULL)
		metrics_add(z->counter, NULL, 1);
	if ((r = refusal_find(z, addr, key)) != NULL) {
		r->more++;
		r->last = now;
		if (now - r->since >= QUIET_MS)
			say_more(r, now);
		return;
	}
	if (now - z->window >= QUIET_MS) {
		z->window = now;
		z->lines = 0;
	}
	if (z->lines >= NEW_LINES) {
		if (z->others++ == 0)
			z->others_since = now;
		return;
	}
	z->lines++;
	r = refusal_slot(z);
	memset(r, 0, sizeof(*r));
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	r->curve = key != NULL;
	if (key != NULL)
		memcpy(r->key, key, 32);
	r->since = r->last = now;
	say_first(r);
}

void
zap_tick(struct zap *z, uint64_t now)
{
	size_t i, j;

	for (i = j = 0; i < z->nseen; i++) {
		struct refusal *r = &z->seen[i];

		if (r->more > 0 && now - r->since >= QUIET_MS)
			say_more(r, now);
		/* Quiet for a while: its next refusal is news again. */
		if (r->more == 0 && now - r->last >= QUIET_MS)
			continue;
		z->seen[j++] = *r;
	}
	z->nseen = j;
	if (z->others > 0 && now - z->others_since >= QUIET_MS)
		say_others(z, now);
}

/* ZAP (RFC 27): version, request id, domain, address, identity, mechanism,
 * credentials. */
static void
zap_reply(void *sock, zmq_msg_t *reqid, const char *code,
    const char *text, const char *user)
{
	zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
	if (reqid != NULL)
		zmq_send(sock, zmq_msg_data(reqid), zmq_msg_size(reqid),
		    ZMQ_SNDMORE);
	else
		zmq_send(sock, "", 0, ZMQ_SNDMORE);
	zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(sock, "", 0, 0);
}

static void
zap_cb(struct zsock *zs, void *arg)
{
	struct zap *z = arg;
	void *sock = zsock_socket(zs);
	zmq_msg_t f[8];
	char addr[ADDRLEN], user[DEVID_TEXTLEN + 1];
	int n;

	for (int i = 0; i < ZMSG_BATCH; i++) {
		if ((n = zmsg_recv(sock, f, 7)) == 0)
			return;
		if (n < 0) {
			/* A REP socket must answer: this cannot be ZAP. */
			log_warnx("ZAP: malformed request");
			zap_reply(sock, NULL, "500", "malformed", "");
			continue;
		}
		if (n < 2) {
			for (int k = 0; k < n; k++)
				zmq_msg_close(&f[k]);
			continue;
		}
		snprintf(addr, sizeof(addr), "%.*s",
		    n > 3 ? (int)zmq_msg_size(&f[3]) : 0,
		    n > 3 ? (const char *)zmq_msg_data(&f[3]) : "");
		if (n != 7 || zmq_msg_size(&f[5]) != 5 ||
		    memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 ||
		    zmq_msg_size(&f[6]) != 32) {
			refusal_note(z, addr, NULL, uv_now(z->loop));
			zap_reply(sock, &f[1], "400", "CURVE only", "");
		} else if (!z->admit(z->arg, zmq_msg_data(&f[6]), user)) {
			refusal_note(z, addr, zmq_msg_data(&f[6]),
			    uv_now(z->loop));
			zap_reply(sock, &f[1], "400", "unknown device", "");
		} else {
			log_debug("admitted %.12s from %s", user, addr);
			zap_reply(sock, &f[1], "200", "OK", user);
		}
		for (int k = 0; k < n; k++)
			zmq_msg_close(&f[k]);
	}
}

int
zap_open(struct zap **out, uv_loop_t *loop, void *zctx, zap_admit_fn *admit,
    void *arg, char **cause)
{
	struct zap *z;
	void *sock;
	int zero = 0, rc;

	*out = NULL;
	if ((sock = zmq_socket(zctx, ZMQ_REP)) == NULL) {
		rc = -errno;
		*cause = xasprintf("ZAP handler: %s", zmq_strerror(-rc));
		return rc;
	}
	if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_bind(sock, ZAP_ENDPOINT) != 0) {
		rc = -errno;
		*cause = xasprintf("ZAP handler: %s", zmq_strerror(-rc));
		zmq_close(sock);
		return rc;
	}
	z = xcalloc(1, sizeof(*z));
	z->loop = loop;
	z->admit = admit;
	z->arg = arg;
	z->window = z->others_since = uv_now(loop);
	if ((rc = zsock_open(&z->zs, loop, sock, zap_cb, z)) != 0) {
		*cause = xasprintf("ZAP handler: %s", zmq_strerror(-rc));
		zmq_close(sock);
		free(z);
		return rc;
	}
	*out = z;
	return 0;
}

uint64_t
zap_refused(const struct zap *z)
{
	return z->refused;
}

void
zap_count_into(struct zap *z, struct metric *counter)
{
	z->counter = counter;
}

void
zap_close(struct zap *z)
{
	uint64_t now;

	if (z == NULL)
		return;
	now = uv_now(z->loop);
	for (size_t i = 0; i < z->nseen; i++)
		say_more(&z->seen[i], now);
	say_others(z, now);
	zsock_close(z->zs);
	free(z);
}
