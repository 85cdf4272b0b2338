/* link: one peer as this device knows it: its DEALER, for the sessions we start, and that socket's monitor. */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "error.h"
#include "intake.h"
#include "log.h"
#include "peer_int.h"
#include "session.h"
#include "sync.h"
#include "util.h"
#include "zmsg.h"
#include "zsock.h"

/*
 * The monitors' inproc endpoints are numbered, never named after
 * anything that can come back (a link's address): libzmq unbinds a
 * stopped monitor's endpoint on its own thread, later, and a new monitor
 * under the same name meanwhile fails with "Address already in use".
 * Loop thread only.
 */
static uint64_t monitor_seq;

struct link *
link_find(struct peers *p, const uint8_t device[32])
{
	for (size_t i = 0; i < p->nlinks; i++)
		if (memcmp(p->links[i]->device, device, 32) == 0)
			return p->links[i];
	return NULL;
}

struct link *
link_by_curve(struct peers *p, const uint8_t curve[32])
{
	for (size_t i = 0; i < p->nlinks; i++)
		if (sodium_memcmp(p->links[i]->curve, curve, 32) == 0)
			return p->links[i];
	return NULL;
}

struct link *
link_add(struct peers *p, const uint8_t device[32])
{
	struct link *l = xcalloc(1, sizeof(*l));

	l->p = p;
	memcpy(l->device, device, 32);
	devid_encode(l->devid, device);
	if (crypto_sign_ed25519_pk_to_curve25519(l->curve, device) != 0) {
		/* Not a valid point: nobody can hold its key.  Keep the link
		 * (the peers table names it) but it can never authenticate. */
		memset(l->curve, 0xff, sizeof(l->curve));
	}
	p->links = xreallocarray(p->links, p->nlinks + 1, sizeof(*p->links));
	p->links[p->nlinks++] = l;
	return l;
}

static void
link_close_sockets(struct link *l)
{
	if (l->zs != NULL) {
		zmq_socket_monitor(zsock_socket(l->zs), NULL, 0);
		zsock_close(l->zs);
		l->zs = NULL;
	}
	if (l->mon != NULL) {
		zsock_close(l->mon);
		l->mon = NULL;
	}
	l->up = 0;
}

void
link_disconnect(struct link *l)
{
	link_close_sockets(l);
	if (l->out != NULL && l->out->state == SESSION_RUNNING) {
		l->out->state = SESSION_FAILED;
		intake_forget_acks(l->out);
		free(l->out->error);
		l->out->error = xstrdup("disconnected");
	}
}

/*
 * The DEALER's monitor: the only way to learn that a handshake failed on
 * our side (the device at that address is not the one we named, or it
 * refused us).  Events are [u16 event, u32 value][endpoint].
 */
static void
mon_cb(struct zsock *zs, void *arg)
{
	struct link *l = arg;
	zmq_msg_t f[3];
	uint16_t ev;
	int n;

	for (int i = 0; i < ZMSG_BATCH && l->mon == zs; i++) {
		if ((n = zmsg_recv(zsock_socket(zs), f, 2)) == 0)
			return;
		if (n < 0)
			continue;
		if (zmq_msg_size(&f[0]) >= 2) {
			memcpy(&ev, zmq_msg_data(&f[0]), 2);
			if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
				l->up = 1;
				l->failing = 0;
			} else if (ev == ZMQ_EVENT_DISCONNECTED)
				l->up = 0;
			else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
			    ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
			    ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
				const char *why =
				    ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ?
				    "it refused us (does it know this "
				    "device?)" : "the device there is not the "
				    "one named";
				struct session *s = l->out;

				l->up = 0;
				l->p->handshake_failed++;
				if (!l->failing)
					log_warnx("handshake with %.12s at %s "
					    "failed: %s", l->devid, l->addr,
					    why);
				l->failing = 1;
				/*
				 * Our session has had no answer: its HELLO
				 * went to this connection, and libzmq may
				 * never deliver it (see link_reopen).  Say
				 * so now rather than at the idle timeout;
				 * the next session opens a fresh socket.
				 */
				if (s != NULL && s->state == SESSION_RUNNING &&
				    s->bytes_received == 0)
					session_end(s, 0, ev ==
					    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ?
					    "handshake failed: it refused us" :
					    "handshake failed: the device "
					    "there is not the one named");
			}
		}
		for (int k = 0; k < n; k++)
			zmq_msg_close(&f[k]);
	}
}

static int
link_monitor(struct link *l, void *dealer)
{
	char ep[64];
	void *mon;
	int zero = 0, rc;

	snprintf(ep, sizeof(ep), "inproc://samen-mon-%llu",
	    (unsigned long long)++monitor_seq);
	if (zmq_socket_monitor(dealer, ep,
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
		return -errno;
	if ((mon = zmq_socket(l->p->env.zctx, ZMQ_PAIR)) == NULL) {
		rc = -errno;
		goto fail;
	}
	zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(mon, ep) != 0) {
		rc = -errno;
		zmq_close(mon);
		goto fail;
	}
	if ((rc = zsock_open(&l->mon, l->p->env.loop, mon, mon_cb, l)) == 0)
		return 0;
	zmq_close(mon);
fail:
	/* No half monitor: nobody would read its events. */
	zmq_socket_monitor(dealer, NULL, 0);
	return rc;
}

/* The DEALER: what the other side answers in the sessions we start. */
static void
dealer_cb(struct zsock *zs, void *arg)
{
	struct link *l = arg;
	struct peers *p = l->p;
	zmq_msg_t f[2];
	struct sync_msg m;
	int n, rc;

	for (int i = 0; i < ZMSG_BATCH && l->zs == zs; i++) {
		if ((n = zmsg_recv(zsock_socket(zs), f, 1)) == 0)
			return;
		if (n < 0) {
			p->dropped++;
			continue;
		}
		l->heard = 1;
		rc = sync_decode(&m, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]));
		if (rc != 0) {
			p->dropped++;
			log_warnx("%.12s: malformed sync message: %s", l->devid,
			    samen_strerror(rc));
			if (l->out != NULL && l->out->state == SESSION_RUNNING)
				session_end(l->out, 0, "malformed message");
		} else {
			/* A BATCH is only queued here: taking it is cheap. */
			if (l->out != NULL && l->out->id == m.session &&
			    l->out->state == SESSION_RUNNING)
				intake_receive(l->out, &m, zmq_msg_data(&f[0]),
				    zmq_msg_size(&f[0]));
			sync_msg_free(&m);
		}
		zmq_msg_close(&f[0]);
	}
}

int
link_connect(struct link *l)
{
	struct peers *p = l->p;
	void *sock;
	int zero = 0, hb = 5000, hbto = 15000, ivl = 1000, ivlmax = 30000, rc;
	int64_t maxmsg = SYNC_MAX_MSG;

	if ((sock = zmq_socket(p->env.zctx, ZMQ_DEALER)) == NULL)
		return -errno;
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hbto, sizeof(hbto));
	zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &ivlmax, sizeof(ivlmax));
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, l->curve, 32) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, p->curve_pk, 32) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, p->curve_sk, 32) != 0 ||
	    zmq_connect(sock, l->addr) != 0) {
		rc = -errno;
		zmq_close(sock);
		return rc;
	}
	/* Monitor first: the connection may come up before we look. */
	if ((rc = link_monitor(l, sock)) != 0)
		log_warnx("cannot watch the connection to %.12s at %s: %s; "
		    "its handshakes go unseen", l->devid, l->addr,
		    zmq_strerror(-rc));
	if ((rc = zsock_open(&l->zs, p->env.loop, sock, dealer_cb, l)) != 0)
		return rc;
	return 0;
}

int
link_reopen(struct link *l)
{
	link_close_sockets(l);
	return link_connect(l);
}

void
link_free(struct link *l)
{
	link_disconnect(l);
	if (l->out != NULL)
		session_free(l->out);
	free(l->addr);
	free(l);
}
