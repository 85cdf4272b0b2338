/* zmtp: the ZMTP 3.0 bytes a REQ client with the NULL mechanism writes and reads. */
#include "zmtp.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* Greeting layout (spec 23, "The Greeting"): signature 0xFF, 8 bytes of
 * padding, 0x7F; major and minor version; mechanism; as-server; filler. */
#define SIG_END 9
#define VERSION_MAJOR 10
#define VERSION_MINOR 11
#define MECHANISM 12
#define AS_SERVER 32

#define FLAGS_RESERVED 0xf8

static const uint8_t null_mechanism[ZMTP_MECHANISM_SIZE] = "NULL";

void
zmtp_greeting(uint8_t out[ZMTP_GREETING_SIZE])
{
	/* The padding, as-server and filler are all zero. */
	memset(out, 0, ZMTP_GREETING_SIZE);
	out[0] = 0xff;
	out[SIG_END] = 0x7f;
	out[VERSION_MAJOR] = 3;
	out[VERSION_MINOR] = 0;
	memcpy(out + MECHANISM, null_mechanism, ZMTP_MECHANISM_SIZE);
}

int
zmtp_greeting_check(const uint8_t *buf, size_t len, const char **why)
{
	size_t n;

	/*
	 * The padding is not significant: libzmq puts a ZMTP 1.0 identity
	 * length there.  Neither are as-server (NULL has no roles) and the
	 * filler.  What is checked is checked as soon as it arrives, because
	 * libzmq itself sends its greeting in three pieces.
	 */
	if (len >= 1 && buf[0] != 0xff) {
		*why = "not a ZeroMQ peer (bad greeting signature)";
		return -EPROTO;
	}
	if (len > SIG_END && buf[SIG_END] != 0x7f) {
		*why = "not a ZMTP 2.0 or later peer (bad greeting signature)";
		return -EPROTO;
	}
	if (len > VERSION_MAJOR && buf[VERSION_MAJOR] < 3) {
		*why = "the peer speaks a ZMTP older than 3.0";
		return -EPROTO;
	}
	if (len > MECHANISM) {
		n = len - MECHANISM;
		if (n > ZMTP_MECHANISM_SIZE)
			n = ZMTP_MECHANISM_SIZE;
		if (memcmp(buf + MECHANISM, null_mechanism, n) != 0) {
			*why = "the peer asks for a security mechanism other "
			    "than NULL";
			return -EPROTO;
		}
	}
	return len >= ZMTP_GREETING_SIZE ? 1 : 0;
}

size_t
zmtp_header(uint8_t out[ZMTP_HEADER_MAX], uint8_t flags, uint64_t size)
{
	assert((flags & ~(ZMTP_MORE | ZMTP_COMMAND)) == 0);
	if (size <= UINT8_MAX) {
		out[0] = flags;
		out[1] = (uint8_t)size;
		return 2;
	}
	out[0] = flags | ZMTP_LONG;
	put_be64(out + 1, size);
	return 9;
}

/* Appends a property (spec 23, "metadata") at p; returns the byte after. */
static uint8_t *
put_property(uint8_t *p, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	*p++ = (uint8_t)n;
	memcpy(p, name, n);
	p += n;
	*p++ = (uint8_t)(v >> 24);
	*p++ = (uint8_t)(v >> 16);
	*p++ = (uint8_t)(v >> 8);
	*p++ = (uint8_t)v;
	memcpy(p, value, v);
	return p + v;
}

size_t
zmtp_ready(uint8_t out[ZMTP_READY_MAX], const char *socket_type)
{
	uint8_t body[ZMTP_READY_MAX], *p = body;
	size_t h, n;

	assert(strlen(socket_type) <= ZMTP_SOCKTYPE_MAX);
	*p++ = 5;
	memcpy(p, "READY", 5);
	p += 5;
	/* Socket-Type alone: libzmq checks it against its own type.  An
	 * Identity property is optional, and a ROUTER makes one up. */
	p = put_property(p, "Socket-Type", socket_type);
	n = (size_t)(p - body);
	h = zmtp_header(out, ZMTP_COMMAND, n);
	assert(h + n <= ZMTP_READY_MAX);
	memcpy(out + h, body, n);
	return h + n;
}

int
zmtp_frame_decode(const uint8_t *buf, size_t len, size_t max,
    struct zmtp_frame *f, size_t *need, const char **why)
{
	uint64_t size;
	size_t hlen, cap;
	uint8_t flags;

	memset(f, 0, sizeof(*f));
	if (len < 1) {
		*need = 1;
		return 0;
	}
	flags = buf[0];
	if (flags & FLAGS_RESERVED) {
		*why = "a frame with reserved flag bits set";
		return -EPROTO;
	}
	if ((flags & ZMTP_COMMAND) && (flags & ZMTP_MORE)) {
		*why = "a command frame with the MORE flag";
		return -EPROTO;
	}
	hlen = (flags & ZMTP_LONG) ? 9 : 2;
	if (len < hlen) {
		*need = hlen;
		return 0;
	}
	/* A long size may be small: wasteful, not wrong (libzmq takes it). */
	size = (flags & ZMTP_LONG) ? get_be64(buf + 1) : buf[1];
	cap = (flags & ZMTP_COMMAND) ? ZMTP_COMMAND_MAX : max;
	/* So that the header and body together fit a size_t. */
	if (cap > SIZE_MAX - ZMTP_HEADER_MAX)
		cap = SIZE_MAX - ZMTP_HEADER_MAX;
	/* Compared as 64-bit numbers: a 32-bit size_t cannot wrap here. */
	if (size > (uint64_t)cap) {
		*why = (flags & ZMTP_COMMAND) ? "a command over the size "
		    "limit" : "a frame over the size limit";
		return -EMSGSIZE;
	}
	if (len - hlen < size) {
		*need = hlen + (size_t)size;
		return 0;
	}
	f->flags = flags & (ZMTP_MORE | ZMTP_COMMAND);
	f->body = buf + hlen;
	f->len = (size_t)size;
	f->size = hlen + (size_t)size;
	return 1;
}

int
zmtp_command_parse(const uint8_t *body, size_t len, struct zmtp_command *cmd,
    const char **why)
{
	memset(cmd, 0, sizeof(*cmd));
	if (len < 1 || body[0] == 0 || body[0] > len - 1) {
		*why = "a command without a whole name";
		return -EPROTO;
	}
	cmd->name = body + 1;
	cmd->namelen = body[0];
	cmd->data = body + 1 + cmd->namelen;
	cmd->datalen = len - 1 - cmd->namelen;
	return 0;
}

int
zmtp_command_is(const struct zmtp_command *cmd, const char *name)
{
	size_t n = strlen(name);

	return cmd->namelen == n && memcmp(cmd->name, name, n) == 0;
}

int
zmtp_property(const uint8_t *data, size_t len, const char *name,
    const uint8_t **value, size_t *vlen, const char **why)
{
	size_t want = strlen(name), n, v, off = 0;
	const uint8_t *found = NULL;
	size_t flen = 0;

	*value = NULL;
	*vlen = 0;
	while (off < len) {
		n = data[off++];
		if (n == 0 || n > len - off) {
			*why = "a READY property without a whole name";
			return -EPROTO;
		}
		if (len - off - n < 4) {
			*why = "a READY property without a value length";
			return -EPROTO;
		}
		v = (size_t)data[off + n] << 24 | (size_t)data[off + n + 1] <<
		    16 | (size_t)data[off + n + 2] << 8 | data[off + n + 3];
		if (v > len - off - n - 4) {
			*why = "a READY property value longer than the command";
			return -EPROTO;
		}
		if (n == want && strncasecmp((const char *)data + off, name,
		    n) == 0) {
			if (found != NULL) {
				*why = "a READY property given twice";
				return -EPROTO;
			}
			found = data + off + n + 4;
			flen = v;
		}
		off += n + 4 + v;
	}
	/* Only now: a malformed property after it leaves nothing behind. */
	*value = found;
	*vlen = flen;
	return found != NULL;
}

int
zmtp_req_peer_ok(const uint8_t *type, size_t len)
{
	return (len == 3 && memcmp(type, "REP", 3) == 0) ||
	    (len == 6 && memcmp(type, "ROUTER", 6) == 0);
}

int
zmtp_error_reason(const struct zmtp_command *cmd, const uint8_t **reason,
    size_t *rlen, const char **why)
{
	*reason = NULL;
	*rlen = 0;
	/* Bytes after the reason are not ours to judge: the peer is leaving. */
	if (cmd->datalen < 1 || cmd->data[0] > cmd->datalen - 1) {
		*why = "a malformed ERROR command";
		return -EPROTO;
	}
	*reason = cmd->data + 1;
	*rlen = cmd->data[0];
	return 0;
}

int
zmtp_pong(uint8_t out[ZMTP_PONG_MAX], const struct zmtp_command *ping,
    const char **why)
{
	size_t ctx, h;

	if (ping->datalen < 2 || ping->datalen - 2 > ZMTP_PING_CONTEXT_MAX) {
		*why = "a malformed PING command";
		return -EPROTO;
	}
	ctx = ping->datalen - 2;
	h = zmtp_header(out, ZMTP_COMMAND, 5 + ctx);
	out[h] = 4;
	memcpy(out + h + 1, "PONG", 4);
	memcpy(out + h + 5, ping->data + 2, ctx);
	return (int)(h + 5 + ctx);
}
