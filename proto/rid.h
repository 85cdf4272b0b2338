/* rid: record ids: 16 bytes, time-ordered (48-bit ms, 80 random bits), ULID text. */
#ifndef SAMEN_RID_H
#define SAMEN_RID_H

#include <stddef.h>
#include <stdint.h>

#define RID_LEN 16
#define RID_TEXTLEN 26	/* Crockford base32, upper case, as ULID */
#define RID_RANDOM 10	/* random bytes after the 48-bit milliseconds */

/* Big-endian ms in the first 6 bytes, then 10 bytes of caller randomness. */
void rid_make(uint8_t rid[RID_LEN], uint64_t ms, const uint8_t random[10]);
void rid_encode(char out[RID_TEXTLEN + 1], const uint8_t rid[RID_LEN]);
/*
 * Parses 26 Crockford characters (case-insensitive; I/L read as 1, O as 0).
 * Returns 0 or SAMEN_EINVAL (wrong length, bad character, or overflow of the
 * first character past 7).
 */
int rid_decode(uint8_t rid[RID_LEN], const char *text, size_t len);

#endif
