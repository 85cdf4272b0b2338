/* zmtp: the ZMTP 3.0 bytes a REQ client with the NULL mechanism writes and reads. */
#ifndef SAMEN_ZMTP_H
#define SAMEN_ZMTP_H

/*
 * ZeroMQ's wire protocol as far as samen needs it to talk to samend's
 * control socket (a libzmq ROUTER) without libzmq: ZMTP 3.0 (rfc.zeromq.org
 * spec 23) with the NULL mechanism (spec 23 section "The NULL Security
 * Mechanism"), the READY and ERROR commands, PING/PONG of ZMTP 3.1 (spec 37)
 * so that a peer with heartbeats keeps us, and message frames.
 *
 * Pure: bytes in, bytes out; no sockets, no clocks, no allocation.  Decoders
 * borrow their input and return pointers into it.  Every decoder that fails
 * sets *why to a static English phrase (never NULL then) for the caller's
 * message.  Decoders return -EPROTO for bytes the protocol does not allow
 * and -EMSGSIZE for a length over the caller's cap: nothing they read can
 * make anybody allocate more than the caller decided.
 */

#include <stddef.h>
#include <stdint.h>

#define ZMTP_GREETING_SIZE 64
#define ZMTP_MECHANISM_SIZE 20

/* Frame flags (spec 23, "Framing"); bits 3-7 are reserved and zero. */
#define ZMTP_MORE 0x01
#define ZMTP_LONG 0x02
#define ZMTP_COMMAND 0x04

/* A frame header: flags, then the body size in 1 or 8 bytes (big-endian). */
#define ZMTP_HEADER_MAX 9
/* Commands a NULL-mechanism client receives (READY with a few properties,
 * ERROR, PING) are small: longer is refused before it is read. */
#define ZMTP_COMMAND_MAX 4096
/* The longest socket-type name ("DEALER", "ROUTER"). */
#define ZMTP_SOCKTYPE_MAX 16
/* Our READY frame: header, "\5READY", "\13Socket-Type", a 4-byte length and
 * the name. */
#define ZMTP_READY_MAX (2 + 6 + 12 + 4 + ZMTP_SOCKTYPE_MAX)
/* PONG frame: header, "\4PONG" and a context of at most 16 bytes. */
#define ZMTP_PING_CONTEXT_MAX 16
#define ZMTP_PONG_MAX (2 + 5 + ZMTP_PING_CONTEXT_MAX)

/* Writes our greeting: signature, version 3.0, mechanism NULL, as-server 0. */
void zmtp_greeting(uint8_t out[ZMTP_GREETING_SIZE]);

/*
 * Checks the first len bytes of the peer's greeting; len may be short of
 * ZMTP_GREETING_SIZE (bytes past it are not looked at), so that a peer that
 * does not speak ZMTP 3 is told apart as soon as its bytes say so.  Accepts
 * version 3.0 and later (spec 23: a peer must accept higher versions) and
 * the NULL mechanism only.  Returns 1 for a whole greeting we accept, 0 when
 * the bytes so far are acceptable and more are needed, or -EPROTO and *why.
 */
int zmtp_greeting_check(const uint8_t *buf, size_t len, const char **why);

/*
 * Writes a frame header for a body of size bytes into out, with flags
 * (ZMTP_MORE, ZMTP_COMMAND) and ZMTP_LONG when size is over 255.  Returns
 * the header's length: 2 or 9.
 */
size_t zmtp_header(uint8_t out[ZMTP_HEADER_MAX], uint8_t flags,
    uint64_t size);

/*
 * Writes the whole READY command frame (header included) announcing
 * socket_type (at most ZMTP_SOCKTYPE_MAX bytes: a longer one is a bug and
 * aborts).  Returns its length.
 */
size_t zmtp_ready(uint8_t out[ZMTP_READY_MAX], const char *socket_type);

/* One frame, decoded in place. */
struct zmtp_frame {
	uint8_t flags;		/* ZMTP_MORE and ZMTP_COMMAND, as received */
	const uint8_t *body;	/* points into the decoder's input */
	size_t len;		/* body length */
	size_t size;		/* the whole frame: header and body */
};

/*
 * Decodes the frame at the start of buf[0..len).  Borrows buf: f->body
 * points into it.  A message frame's body may be at most max bytes, a
 * command's ZMTP_COMMAND_MAX; both are checked from the header alone, before
 * the body is there.  Returns:
 *   1          a whole frame: *f (f->size bytes of buf)
 *   0          buf ends inside the frame: *need is how many bytes buf must
 *              hold to go on (the header, then the whole frame)
 *   -EPROTO    reserved flag bits set, or a command with MORE (*why)
 *   -EMSGSIZE  the body is longer than the cap (*why)
 */
int zmtp_frame_decode(const uint8_t *buf, size_t len, size_t max,
    struct zmtp_frame *f, size_t *need, const char **why);

/* A command frame's body: a name of 1-255 bytes, then data. */
struct zmtp_command {
	const uint8_t *name;	/* not NUL-terminated */
	size_t namelen;
	const uint8_t *data;
	size_t datalen;
};

/*
 * Splits a command body (a frame with ZMTP_COMMAND).  Borrows body: the
 * pointers in *cmd point into it.  Returns 0 or -EPROTO and *why.
 */
int zmtp_command_parse(const uint8_t *body, size_t len,
    struct zmtp_command *cmd, const char **why);

/* 1 if cmd is named name (exactly, as the spec spells command names). */
int zmtp_command_is(const struct zmtp_command *cmd, const char *name);

/*
 * Looks up property name (case-insensitive, spec 23) in READY's metadata,
 * and checks that the whole metadata is well-formed: 1-byte name length and
 * name, 4-byte big-endian value length and value, nothing left over, and
 * name present at most once.  Borrows data: *value points into it.  Returns
 * 1 and *value, *vlen; 0 if absent; or -EPROTO and *why.  Unless it returns
 * 1, *value is NULL and *vlen 0.
 */
int zmtp_property(const uint8_t *data, size_t len, const char *name,
    const uint8_t **value, size_t *vlen, const char **why);

/* 1 if a REQ socket may talk to a peer of socket type type[0..len) (a REP or
 * a ROUTER, spec 28), else 0. */
int zmtp_req_peer_ok(const uint8_t *type, size_t len);

/*
 * Reads an ERROR command's reason (a 1-byte length, then at most 255 bytes
 * of text the peer chose: print it with care).  Borrows cmd's data.
 * Returns 0 and *reason, *rlen, or -EPROTO and *why.
 */
int zmtp_error_reason(const struct zmtp_command *cmd, const uint8_t **reason,
    size_t *rlen, const char **why);

/*
 * Writes the PONG frame (header included) that answers ping, a PING command
 * (a 2-byte TTL, then a context of at most 16 bytes, which PONG echoes).
 * Returns its length, or -EPROTO and *why for a malformed PING.
 */
int zmtp_pong(uint8_t out[ZMTP_PONG_MAX], const struct zmtp_command *ping,
    const char **why);

#endif
