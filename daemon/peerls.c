/* peerls: the body of peer ls (docs/api.md), rendered from a snapshot of the peers. */
#include "peerls.h"

#include <stdint.h>

#include "devid.h"
#include "hlc.h"
#include "util.h"

static void
put_kv_time(struct wbuf *w, const char *k, uint64_t ms)
{
	char t[32];

	if (ms == 0) {
		wire_put_kv_str(w, k, NULL);
		return;
	}
	hlc_format(t, HLC_MAKE(ms, 0));
	wire_put_kv_str(w, k, t);
}

static void
put_session(struct wbuf *w, const struct peers_session_stat *s)
{
	static const char *const names[] = { "running", "done", "failed" };

	wire_put_map(w, 9);
	wire_put_kv_u64(w, "round", s->round);
	wire_put_kv_str(w, "state", names[s->state]);
	wire_put_kv_str(w, "error", s->error);
	wire_put_kv_u64(w, "sent", s->sent);
	wire_put_kv_u64(w, "received", s->received);
	wire_put_kv_u64(w, "rejected", s->rejected);
	wire_put_kv_u64(w, "bytes_sent", s->bytes_sent);
	wire_put_kv_u64(w, "bytes_received", s->bytes_received);
	wire_put_cstr(w, "in_sync");
	wire_put_bool(w, s->in_sync);
}

void
peerls_put(struct wbuf *w, const struct peers_stat *st, size_t n)
{
	static const char *const conns[] = { "idle", "inbound", "connecting",
	    "connected" };

	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		char id[DEVID_TEXTLEN + 1], hex[65];

		devid_encode(id, st[i].device);
		wire_put_map(w, 9);
		wire_put_kv_str(w, "device", id);
		wire_put_kv_str(w, "addr", st[i].addr);
		wire_put_kv_str(w, "state", conns[st[i].conn]);
		put_kv_time(w, "last_sync", st[i].last_sync_ms);
		wire_put_kv_u64(w, "sent", st[i].sent);
		wire_put_kv_u64(w, "received", st[i].received);
		wire_put_kv_u64(w, "rejected", st[i].rejected);
		hex_encode(hex, st[i].digest, 32);
		wire_put_kv_str(w, "digest", st[i].has_digest ? hex : NULL);
		wire_put_cstr(w, "session");
		if (st[i].has_session)
			put_session(w, &st[i].session);
		else
			wire_put_nil(w);
	}
}
