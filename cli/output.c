/* output: JSON of a reply body, the text helpers of the human forms, and the one-line forms. */
#include "output.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "devid.h"

/*
 * Decodes one UTF-8 sequence at s.  Returns its length (1-4) and *cp, or 0
 * for an invalid, overlong or surrogate sequence.
 */
static size_t
utf8_next(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i;
	uint32_t c;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		c = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
	    (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static int
is_control(uint32_t cp)
{
	/* C0, DEL and C1: C1 holds CSI (0x9b), which some terminals obey. */
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* JSON. */

void
output_json_str(FILE *fp, const char *s, size_t len)
{
	size_t i = 0, k;
	uint32_t cp;

	putc('"', fp);
	while (i < len) {
		k = utf8_next(s + i, len - i, &cp);
		if (k == 0) {
			/* The reader refuses bad UTF-8; this is a guard only. */
			fputs("\\ufffd", fp);
			i++;
			continue;
		}
		switch (cp) {
		case '"': fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\b': fputs("\\b", fp); break;
		case '\f': fputs("\\f", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		default:
			if (is_control(cp))
				fprintf(fp, "\\u%04" PRIx32, cp);
			else
				fwrite(s + i, 1, k, fp);
		}
		i += k;
	}
	putc('"', fp);
}

static void
json_value(FILE *fp, const struct reply_node *n)
{
	uint32_t i;

	if (n == NULL) {
		fputs("null", fp);
		return;
	}
	switch (n->type) {
	case REPLY_NIL:
		fputs("null", fp);
		break;
	case REPLY_BOOL:
		fputs(n->v.b ? "true" : "false", fp);
		break;
	case REPLY_INT:
		fprintf(fp, "%" PRId64, n->v.i);
		break;
	case REPLY_UINT:
		fprintf(fp, "%" PRIu64, n->v.u);
		break;
	case REPLY_STR:
		output_json_str(fp, n->v.str.s, n->v.str.len);
		break;
	case REPLY_ARRAY:
		putc('[', fp);
		for (i = 0; i < n->n; i++) {
			if (i > 0)
				fputs(", ", fp);
			json_value(fp, &n->v.kids[i]);
		}
		putc(']', fp);
		break;
	case REPLY_MAP:
		putc('{', fp);
		for (i = 0; i < n->n; i++) {
			if (i > 0)
				fputs(", ", fp);
			/* The parser admits only string keys. */
			json_value(fp, &n->v.kids[2 * i]);
			fputs(": ", fp);
			json_value(fp, &n->v.kids[2 * i + 1]);
		}
		putc('}', fp);
		break;
	}
}

void
output_json_value(FILE *fp, const struct reply_node *n)
{
	json_value(fp, n);
}

void
output_json(FILE *fp, const struct reply_node *n)
{
	json_value(fp, n);
	putc('\n', fp);
}

void
output_json_items(FILE *fp, const struct reply_node *const *items, size_t n)
{
	size_t i;

	putc('[', fp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", fp);
		json_value(fp, items[i]);
	}
	fputs("]\n", fp);
}

/* Text for a terminal. */

void
output_spaces(FILE *fp, size_t n)
{
	while (n-- > 0)
		putc(' ', fp);
}

size_t
output_cols(const char *s, size_t len)
{
	size_t i = 0, k, cols = 0;
	uint32_t cp;

	while (i < len) {
		k = utf8_next(s + i, len - i, &cp);
		i += k ? k : 1;
		cols++;
	}
	return cols;
}

/*
 * Values come from other people's devices, so control characters never
 * reach the terminal (output.h says what becomes of each).
 */
size_t
output_text(FILE *fp, const char *s, size_t len, size_t max, int flags,
    size_t indent)
{
	size_t i = 0, k, cols = 0, limit = 0;
	uint32_t cp;

	if (max > 0 && output_cols(s, len) > max)
		limit = (flags & OUTPUT_CUT) || max <= 3 ? max : max - 3;
	while (i < len) {
		if (limit > 0 && cols >= limit) {
			if (!(flags & OUTPUT_CUT) && max > 3) {
				fputs("...", fp);
				cols += 3;
			}
			break;
		}
		k = utf8_next(s + i, len - i, &cp);
		if (k == 0) {
			putc('?', fp);
			i++;
			cols++;
			continue;
		}
		if ((flags & OUTPUT_BLOCK) && cp == '\n') {
			putc('\n', fp);
			output_spaces(fp, indent);
			cols = 0;
		} else if ((flags & OUTPUT_BLOCK) && cp == '\r') {
			/* Dropped: CR LF is one line break. */
		} else if (cp == '\t' || cp == '\n' || cp == '\r') {
			putc(' ', fp);
			cols++;
		} else if (is_control(cp)) {
			putc('?', fp);
			cols++;
		} else {
			fwrite(s + i, 1, k, fp);
			cols++;
		}
		i += k;
	}
	return cols;
}

size_t
output_str(FILE *fp, const char *s, size_t max, int flags, size_t indent)
{
	return output_text(fp, s, strlen(s), max, flags, indent);
}

void
output_col(FILE *fp, const char *s, size_t width)
{
	size_t cols = 0;

	if (s != NULL)
		cols = output_str(fp, s, width, OUTPUT_CUT, 0);
	if (cols < width)
		output_spaces(fp, width - cols);
}

size_t
output_value(FILE *fp, const struct reply_node *n, size_t max, int flags,
    size_t indent)
{
	size_t cols = 0;
	uint32_t i;

	if (n == NULL)
		return 0;
	switch (n->type) {
	case REPLY_NIL:
		fputs("-", fp);
		return 1;
	case REPLY_BOOL:
		fputs(n->v.b ? "yes" : "no", fp);
		return n->v.b ? 3 : 2;
	case REPLY_INT:
		return (size_t)fprintf(fp, "%" PRId64, n->v.i);
	case REPLY_UINT:
		return (size_t)fprintf(fp, "%" PRIu64, n->v.u);
	case REPLY_STR:
		return output_text(fp, n->v.str.s, n->v.str.len, max, flags,
		    indent);
	case REPLY_ARRAY:
		for (i = 0; i < n->n; i++) {
			if (i > 0) {
				fputs(", ", fp);
				cols += 2;
			}
			cols += output_value(fp, &n->v.kids[i], max, flags,
			    indent);
		}
		return cols;
	case REPLY_MAP:
		json_value(fp, n);
		return 0;
	}
	return cols;
}

const char *
output_key_at(const struct reply_node *map, uint32_t i)
{
	return reply_str(&map->v.kids[2 * i]);
}

void
output_short(FILE *fp, const char *device)
{
	output_str(fp, device != NULL ? device : "?", DEVID_SHORTLEN,
	    OUTPUT_CUT, 0);
}

void
output_opt(FILE *fp, const char *s)
{
	output_str(fp, s != NULL ? s : "?", 0, 0, 0);
}

/* One-line forms. */

void
output_device(FILE *fp, const char *devid, int json)
{
	if (json) {
		fputs("{\"device\": ", fp);
		output_json_str(fp, devid, strlen(devid));
		fputs("}\n", fp);
	} else
		fprintf(fp, "%s\n", devid);
}

void
output_field(FILE *fp, const struct reply_node *body, const char *key)
{
	const char *s = reply_get_str(body, key);

	if (s == NULL) {
		output_json(fp, body);
		return;
	}
	output_str(fp, s, 0, 0, 0);
	putc('\n', fp);
}

void
output_unlock(FILE *fp, const struct reply_node *body, const char *message)
{
	int unlocked;

	if (reply_get_bool(body, "unlocked", &unlocked) != 0 || !unlocked)
		output_json(fp, body);
	else if (message != NULL && *message != '\0') {
		output_str(fp, message, 0, 0, 0);
		putc('\n', fp);
	} else
		fputs("unlocked\n", fp);
}

void
output_lock(FILE *fp, const struct reply_node *body, const char *message)
{
	int locked;

	if (reply_get_bool(body, "locked", &locked) != 0 || !locked)
		output_json(fp, body);
	else if (message != NULL && *message != '\0') {
		output_str(fp, message, 0, 0, 0);
		putc('\n', fp);
	} else
		fputs("locked\n", fp);
}

void
output_metrics(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *text = reply_get(body, "text");

	if (text == NULL || text->type != REPLY_STR) {
		output_json(fp, body);
		return;
	}
	output_text(fp, text->v.str.s, text->v.str.len, 0, OUTPUT_BLOCK, 0);
}
