/* devid: a device's identity (ed25519 public key) and its checksummed text form. */
#ifndef SAMEN_DEVID_H
#define SAMEN_DEVID_H

#include <stddef.h>
#include <stdint.h>

#define DEVID_KEYLEN 32
/*
 * Text form: RFC 4648 base32, lower case, no padding, of the 32-byte public
 * key followed by 3 checksum bytes (the first 3 bytes of BLAKE2b-256 of the
 * key): 35 bytes = 56 characters exactly.  A typo fails the checksum.
 */
#define DEVID_TEXTLEN 56
/* Short form for tables: the first 12 characters (60 bits). */
#define DEVID_SHORTLEN 12

/* out must hold DEVID_TEXTLEN + 1 bytes; NUL-terminated. */
void devid_encode(char out[DEVID_TEXTLEN + 1], const uint8_t key[DEVID_KEYLEN]);
/*
 * Parses a text id (upper or lower case; surrounding whitespace is not
 * accepted).  Returns 0, SAMEN_EINVAL for a malformed string or
 * SAMEN_EHASH for a checksum mismatch.
 */
int devid_decode(uint8_t key[DEVID_KEYLEN], const char *text, size_t len);

#endif
