/* fuzz_zmtp: the CLI's ZMTP reader, fed what samend's control socket could send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "zmtp.h"

/* Small, so that mutated length fields reach the cap. */
#define MAX_MSG 1024

#define EXPECT(c) do { if (!(c)) { fprintf(stderr, "fuzz_zmtp: %s\n", #c); \
	abort(); } } while (0)

/* A command the client reads: everything it may look at lies inside it. */
static void
command(const struct zmtp_frame *f)
{
	struct zmtp_command cmd, back;
	struct zmtp_frame pf;
	uint8_t pong[ZMTP_PONG_MAX];
	const uint8_t *v, *end = f->body + f->len;
	const char *why = NULL;
	size_t vlen, need;
	int rc, n;

	if (zmtp_command_parse(f->body, f->len, &cmd, &why) != 0) {
		EXPECT(why != NULL);
		return;
	}
	EXPECT(cmd.namelen >= 1 && cmd.name == f->body + 1);
	EXPECT(cmd.data + cmd.datalen == end);
	rc = zmtp_property(cmd.data, cmd.datalen, "Socket-Type", &v, &vlen,
	    &why);
	if (rc < 0)
		EXPECT(why != NULL);
	if (rc == 1)
		EXPECT(v >= cmd.data && v + vlen <= end);
	else
		EXPECT(v == NULL && vlen == 0);
	if (zmtp_error_reason(&cmd, &v, &vlen, &why) == 0)
		EXPECT(v == cmd.data + 1 && v + vlen <= end);
	/* A PONG is a well-formed command that echoes the context. */
	if ((n = zmtp_pong(pong, &cmd, &why)) > 0) {
		EXPECT((size_t)n <= sizeof(pong));
		EXPECT(zmtp_frame_decode(pong, (size_t)n, 0, &pf, &need,
		    &why) == 1 && pf.size == (size_t)n);
		EXPECT(pf.flags == ZMTP_COMMAND);
		EXPECT(zmtp_command_parse(pf.body, pf.len, &back, &why) == 0);
		EXPECT(zmtp_command_is(&back, "PONG"));
		EXPECT(back.datalen == cmd.datalen - 2 &&
		    memcmp(back.data, cmd.data + 2, back.datalen) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zmtp_frame f;
	const char *why;
	size_t off = 0, need, n, cap;
	int rc, prev = 0;

	/* The greeting is checked as it arrives: a verdict never changes
	 * with more bytes. */
	for (n = 0; n <= size && n <= ZMTP_GREETING_SIZE; n++) {
		why = NULL;
		rc = zmtp_greeting_check(data, n, &why);
		if (rc < 0)
			EXPECT(why != NULL);
		if (prev < 0)
			EXPECT(rc < 0);
		EXPECT(rc != 1 || n == ZMTP_GREETING_SIZE);
		prev = rc;
	}
	/* Frames after a greeting, or from the start to reach them all. */
	if (prev == 1)
		off = ZMTP_GREETING_SIZE;
	while (off < size) {
		why = NULL;
		need = 0;
		rc = zmtp_frame_decode(data + off, size - off, MAX_MSG, &f,
		    &need, &why);
		if (rc == 0) {
			EXPECT(need > size - off);
			break;
		}
		if (rc < 0) {
			EXPECT(why != NULL);
			break;
		}
		cap = (f.flags & ZMTP_COMMAND) ? ZMTP_COMMAND_MAX : MAX_MSG;
		EXPECT(f.size <= size - off && f.len <= cap);
		EXPECT(f.body + f.len == data + off + f.size);
		EXPECT((f.flags & ~(ZMTP_MORE | ZMTP_COMMAND)) == 0);
		if (f.flags & ZMTP_COMMAND)
			command(&f);
		off += f.size;
	}
	return 0;
}
