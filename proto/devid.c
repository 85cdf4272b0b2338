/* devid: a device's identity and its checksummed base32 text form. */
#include <string.h>

#include <sodium.h>

#include "devid.h"
#include "error.h"

#define RAWLEN (DEVID_KEYLEN + 3)

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static void
checksum(uint8_t out[3], const uint8_t key[DEVID_KEYLEN])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), key, DEVID_KEYLEN, NULL, 0);
	memcpy(out, h, 3);
}

/* 35 bytes = 280 bits = 56 groups of 5: no padding, no partial group. */
void
devid_encode(char out[DEVID_TEXTLEN + 1], const uint8_t key[DEVID_KEYLEN])
{
	uint8_t raw[RAWLEN];
	uint32_t acc = 0;
	int bits = 0;
	size_t i, o = 0;

	memcpy(raw, key, DEVID_KEYLEN);
	checksum(raw + DEVID_KEYLEN, key);
	for (i = 0; i < RAWLEN; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[(acc >> bits) & 31];
		}
	}
	out[o] = '\0';
}

static int
b32val(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int
devid_decode(uint8_t key[DEVID_KEYLEN], const char *text, size_t len)
{
	uint8_t raw[RAWLEN], sum[3];
	uint32_t acc = 0;
	int bits = 0, v;
	size_t i, o = 0;

	if (len != DEVID_TEXTLEN)
		return SAMEN_EINVAL;
	for (i = 0; i < len; i++) {
		if ((v = b32val(text[i])) < 0)
			return SAMEN_EINVAL;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			raw[o++] = (uint8_t)(acc >> bits);
		}
	}
	checksum(sum, raw);
	if (sodium_memcmp(sum, raw + DEVID_KEYLEN, 3) != 0)
		return SAMEN_EHASH;
	memcpy(key, raw, DEVID_KEYLEN);
	return 0;
}
