/* fuzz_changeset: the whole receive path of one change set from a peer. */
#include <stddef.h>
#include <stdint.h>

#include "fixture.h"

/*
 * Input: [header length, u16 big-endian][header][payload].  The daemon
 * stops at the first gate that fails (signature, payload hash, decryption);
 * fixture_receive() goes on past the first two, so that mutated payloads
 * still reach the payload decoder and the chunk opener behind a mutated
 * header.  Past decryption nothing can be forged; the ops target covers
 * that decoder on its own.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t hlen;

	if (size < 2)
		return 0;
	hlen = (size_t)data[0] << 8 | data[1];
	if (hlen > size - 2)
		return 0;
	fixture_receive(data + 2, hlen, data + 2 + hlen, size - 2 - hlen);
	return 0;
}
