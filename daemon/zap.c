/* zap: who may connect: the ZAP handler (RFC 27) of our CURVE sockets. */
#include "zap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "error.h"
#include "log.h"
#include "util.h"
#include "zmsg.h"
#include "zsock.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct zap {
	struct zsock *zs;
	zap_admit_fn *admit;
	void *arg;
	uint64_t refused;
};

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
	char addr[64], user[DEVID_TEXTLEN + 1];
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
			z->refused++;
			log_warnx("refused a connection from %s: not CURVE",
			    addr);
			zap_reply(sock, &f[1], "400", "CURVE only", "");
		} else if (!z->admit(z->arg, zmq_msg_data(&f[6]), user)) {
			char hex[17];

			hex_encode(hex, zmq_msg_data(&f[6]), 8);
			z->refused++;
			log_warnx("refused a connection from %s: unknown key "
			    "%s...", addr, hex);
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
	z->admit = admit;
	z->arg = arg;
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
zap_close(struct zap *z)
{
	if (z == NULL)
		return;
	zsock_close(z->zs);
	free(z);
}
