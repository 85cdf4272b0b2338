/* rid: time-ordered record ids in ULID text form (Crockford base32). */
#include <string.h>

#include "error.h"
#include "rid.h"
#include "util.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void
rid_make(uint8_t rid[RID_LEN], uint64_t ms, const uint8_t random[10])
{
	int i;

	for (i = 0; i < 6; i++)
		rid[i] = (uint8_t)(ms >> (8 * (5 - i)));
	memcpy(rid + 6, random, 10);
}

/*
 * 128 bits as 26 characters: the first carries the top 3 bits, each later
 * one 5 bits, most significant first (so text order is byte order).  Read
 * from the end: the last character is the lowest 5 bits, and the 128 bits
 * shift right by 5 between two (130 bits: the first's top 2 are zero).
 */
void
rid_encode(char out[RID_TEXTLEN + 1], const uint8_t rid[RID_LEN])
{
	uint64_t hi = get_be64(rid), lo = get_be64(rid + 8);

	for (int i = RID_TEXTLEN - 1; i >= 0; i--) {
		out[i] = crockford[lo & 31];
		lo = lo >> 5 | hi << 59;
		hi >>= 5;
	}
	out[RID_TEXTLEN] = '\0';
}

static int
cval(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'I' || c == 'L')
		return 1;
	if (c == 'O')
		return 0;
	if (c == 'U')
		return -1;
	for (int i = 0; i < 32; i++)
		if (crockford[i] == c)
			return i;
	return -1;
}

int
rid_decode(uint8_t rid[RID_LEN], const char *text, size_t len)
{
	uint8_t out[RID_LEN] = {0};
	int i, b, v, bit;

	if (len != RID_TEXTLEN)
		return SAMEN_EINVAL;
	for (i = 0; i < RID_TEXTLEN; i++) {
		if ((v = cval(text[i])) < 0)
			return SAMEN_EINVAL;
		if (i == 0 && v > 7)
			return SAMEN_EINVAL;
		for (b = 0; b < 5; b++) {
			bit = i * 5 + b - 2;
			if (bit >= 0 && (v >> (4 - b) & 1))
				out[bit / 8] |= (uint8_t)(1u << (7 - bit % 8));
		}
	}
	memcpy(rid, out, RID_LEN);
	return 0;
}
