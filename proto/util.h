/* util: allocation that dies on exhaustion, and small helpers shared by all. */
#ifndef SAMEN_UTIL_H
#define SAMEN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Out of memory is fatal (STYLE 8): these never return NULL.  They print one
 * line to stderr and abort.  Free with free().
 */
/* Prints one line and aborts: for allocators that report failure otherwise. */
void die_oom(size_t n) __attribute__((noreturn));
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a new NUL-terminated string; free with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(char *out, const uint8_t *in, size_t n);

/* Fixed-width stores and loads, for associated data, hashes and frames. */
void put_le64(uint8_t out[8], uint64_t v);
void put_le32(uint8_t out[4], uint32_t v);
uint32_t get_le32(const uint8_t in[4]);
void put_be64(uint8_t out[8], uint64_t v);
uint64_t get_be64(const uint8_t in[8]);

/* 1 if s[0..n) is valid UTF-8 without NUL bytes, 0 otherwise. */
int utf8_valid(const char *s, size_t n);

#endif
