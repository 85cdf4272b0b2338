/* beacon: UDP broadcast of (device id, listen port), and the listener. */
#include "beacon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define MAGIC "samen-beacon-1"
#define MAGIC_LEN (sizeof(MAGIC) - 1)
#define PACKET_LEN (MAGIC_LEN + 32 + 2)
#define INTERVAL_MS 3000

struct beacon {
	uv_udp_t udp;
	uv_timer_t timer;
	uint8_t packet[PACKET_LEN];
	uint8_t device[32];
	struct sockaddr_in to;
	int announce;
	beacon_cb cb;
	void *arg;
	int open_handles;
	char buf[128];
};

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct beacon *b = h->data;

	(void)suggested;
	buf->base = b->buf;
	buf->len = sizeof(b->buf);
}

static void
recv_cb(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
    const struct sockaddr *from, unsigned flags)
{
	struct beacon *b = h->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	char ip[INET_ADDRSTRLEN];
	uint16_t port;

	(void)flags;
	if (n != (ssize_t)PACKET_LEN || from == NULL ||
	    from->sa_family != AF_INET ||
	    memcmp(p, MAGIC, MAGIC_LEN) != 0)
		return;		/* not ours: say nothing */
	if (memcmp(p + MAGIC_LEN, b->device, 32) == 0)
		return;		/* our own echo */
	port = (uint16_t)(p[MAGIC_LEN + 32] << 8 | p[MAGIC_LEN + 33]);
	if (port == 0)
		return;
	uv_ip4_name((const struct sockaddr_in *)(const void *)from, ip,
	    sizeof(ip));
	b->cb(b->arg, p + MAGIC_LEN, ip, port);
}

static void
send_cb(uv_udp_send_t *req, int status)
{
	if (status != 0)
		log_debug("beacon: send: %s", uv_strerror(status));
	free(req);
}

static void
tick_cb(uv_timer_t *t)
{
	struct beacon *b = t->data;
	uv_udp_send_t *req = xmalloc(sizeof(*req));
	uv_buf_t buf = uv_buf_init((char *)b->packet, PACKET_LEN);

	if (uv_udp_send(req, &b->udp, &buf, 1,
	    (const struct sockaddr *)&b->to, send_cb) != 0)
		free(req);
}

int
beacon_open(struct beacon **out, uv_loop_t *loop, const uint8_t device[32],
    const char *addr, uint16_t port, uint16_t listen_port, beacon_cb cb,
    void *arg, char **cause)
{
	struct beacon *b = xcalloc(1, sizeof(*b));
	struct sockaddr_in any;
	int rc;

	*out = NULL;
	memcpy(b->device, device, 32);
	memcpy(b->packet, MAGIC, MAGIC_LEN);
	memcpy(b->packet + MAGIC_LEN, device, 32);
	b->packet[MAGIC_LEN + 32] = (uint8_t)(listen_port >> 8);
	b->packet[MAGIC_LEN + 33] = (uint8_t)listen_port;
	b->announce = listen_port != 0;
	b->cb = cb;
	b->arg = arg;
	if ((rc = uv_ip4_addr(addr, port, &b->to)) != 0) {
		*cause = xasprintf("beacon address %s: %s", addr,
		    uv_strerror(rc));
		free(b);
		return rc;
	}
	uv_ip4_addr("0.0.0.0", port, &any);
	uv_udp_init(loop, &b->udp);
	b->udp.data = b;
	uv_timer_init(loop, &b->timer);
	b->timer.data = b;
	b->open_handles = 2;
	/* Several daemons on one host share the port (the demo does). */
	if ((rc = uv_udp_bind(&b->udp, (const struct sockaddr *)&any,
	    UV_UDP_REUSEADDR)) != 0 ||
	    (rc = uv_udp_set_broadcast(&b->udp, 1)) != 0 ||
	    (rc = uv_udp_recv_start(&b->udp, alloc_cb, recv_cb)) != 0) {
		*cause = xasprintf("beacon on UDP port %u: %s", port,
		    uv_strerror(rc));
		beacon_close(b);
		return rc;
	}
	if (b->announce)
		uv_timer_start(&b->timer, tick_cb, 100, INTERVAL_MS);
	*out = b;
	return 0;
}

static void
closed_cb(uv_handle_t *h)
{
	struct beacon *b = h->data;

	if (--b->open_handles == 0)
		free(b);
}

void
beacon_close(struct beacon *b)
{
	if (b == NULL)
		return;
	uv_timer_stop(&b->timer);
	uv_udp_recv_stop(&b->udp);
	uv_close((uv_handle_t *)&b->timer, closed_cb);
	uv_close((uv_handle_t *)&b->udp, closed_cb);
}
