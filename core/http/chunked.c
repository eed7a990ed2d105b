/* core/http/chunked.c - decodes chunked request bodies byte by byte against the RFC 9112 grammar.
 * http-parser checks chunk framing loosely (any two bytes pass as the CRLF after chunk
 * data, a CR followed by anything ends a size line, extensions are skipped unchecked),
 * and a lenient decoder is how request smuggling starts, so warren decodes itself. */
#include <errno.h>
#include <string.h>

#include "http/chunked.h"
#include "base/common.h"

enum {
	S_SIZE,	   /* hex digits of chunk-size */
	S_EXT,	   /* chunk extensions, up to CR */
	S_SIZE_LF, /* LF ending the size line */
	S_DATA,	   /* chunk data */
	S_DATA_CR, /* CRLF after chunk data */
	S_DATA_LF,
	S_TRAILER,	/* start of a trailer line, or the final CRLF */
	S_TRAILER_NAME, /* a trailer field's name, up to its colon */
	S_TRAILER_TXT,	/* a trailer field's value */
	S_TRAILER_LF,
	S_END_LF,
};

static bool is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * Fields that frame the message may not come as trailers (RFC 9110 section 6.5.1): warren
 * drops trailers, but a proxy behind it that merges them into the head would frame the
 * message anew. A strict parser refuses them; so does warren.
 */
static const char *const framing_fields[] = {"content-length", "transfer-encoding"};

/* Whether the trailer name that @ch continues can still be one of framing_fields. */
static void match_name(struct chunked *d, unsigned char ch)
{
	for (unsigned k = 0; k < ARRAY_SIZE(framing_fields); k++) {
		const char *f = framing_fields[k];

		if ((d->name_may_frame & (1u << k)) &&
		    (d->name_pos >= strlen(f) || (ch | 0x20) != (unsigned char)f[d->name_pos]))
			d->name_may_frame &= (uint8_t) ~(1u << k);
	}
	if (d->name_pos < UINT8_MAX)
		d->name_pos++;
}

static bool name_frames(const struct chunked *d)
{
	for (unsigned k = 0; k < ARRAY_SIZE(framing_fields); k++)
		if ((d->name_may_frame & (1u << k)) && d->name_pos == strlen(framing_fields[k]))
			return true;
	return false;
}

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
static bool ext_byte(struct chunked *d, unsigned char ch)
{
	if (d->in_quote) {
		if (d->escaped) {
			d->escaped = false;
			return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
		}
		if (ch == '\\')
			d->escaped = true;
		else if (ch == '"')
			d->in_quote = false;
		else if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
			return false;
		return true;
	}
	/* Only whitespace may come between the size and the first ';'. */
	if (ch == ';')
		d->in_ext = true;
	if (!d->in_ext)
		return ch == ' ' || ch == '\t';
	if (ch == '"') {
		d->in_quote = true;
		return true;
	}
	return is_tchar(ch) || ch == ';' || ch == '=' || ch == ' ' || ch == '\t';
}

int chunked_decode(struct chunked *d, char *buf, size_t *in, size_t len, size_t *out,
		   size_t body_len, size_t max_body, size_t max_trailer)
{
	size_t i = *in, o = *out;
	int ret = CHUNKED_MORE;

	while (i < len) {
		unsigned char ch = (unsigned char)buf[i];
		int v;

		switch (d->state) {
		case S_SIZE:
			v = hex_value(ch);
			if (v >= 0) {
				/* Leading zeros are harmless; a size over the limit is not. */
				if (d->size > (max_body - body_len - (o - *out)) / 16 + 1) {
					ret = -EFBIG;
					goto out;
				}
				d->size = d->size * 16 + (uint64_t)v;
				/* Endless leading zeros would be a way to stall, not a size. */
				if (++d->digits > 16) {
					ret = -EPROTO;
					goto out;
				}
				i++;
				break;
			}
			if (d->digits == 0) {
				ret = -EPROTO;
				goto out;
			}
			if (d->size > max_body - body_len - (o - *out)) {
				ret = -EFBIG;
				goto out;
			}
			d->state = S_EXT;
			d->ext_len = 0;
			d->in_quote = d->escaped = d->in_ext = false;
			break; /* the same byte again, as an extension or the CR */
		case S_EXT:
			i++;
			if (ch == '\r' && !d->in_quote) {
				d->state = S_SIZE_LF;
			} else if (++d->ext_len > CHUNKED_EXT_MAX || !ext_byte(d, ch)) {
				ret = -EPROTO;
				goto out;
			}
			break;
		case S_SIZE_LF:
			if (ch != '\n') {
				ret = -EPROTO;
				goto out;
			}
			i++;
			d->state = d->size ? S_DATA : S_TRAILER;
			break;
		case S_DATA: {
			size_t n = len - i < d->size ? len - i : (size_t)d->size;

			memmove(buf + o, buf + i, n);
			o += n;
			i += n;
			d->size -= n;
			if (d->size == 0)
				d->state = S_DATA_CR;
			break;
		}
		case S_DATA_CR:
			if (ch != '\r') {
				ret = -EPROTO;
				goto out;
			}
			i++;
			d->state = S_DATA_LF;
			break;
		case S_DATA_LF:
			if (ch != '\n') {
				ret = -EPROTO;
				goto out;
			}
			i++;
			d->state = S_SIZE;
			d->size = 0;
			d->digits = 0;
			break;
		case S_TRAILER:
			i++;
			if (ch == '\r') {
				d->state = S_END_LF;
			} else if (is_tchar(ch)) {
				d->state = S_TRAILER_NAME;
				d->trailer_len++;
				d->name_pos = 0;
				d->name_may_frame = (1u << ARRAY_SIZE(framing_fields)) - 1;
				match_name(d, ch);
			} else {
				ret = -EPROTO;
				goto out;
			}
			break;
		case S_TRAILER_NAME:
		case S_TRAILER_TXT:
			/* A field line is name ":" value: whitespace before the colon, or no
			 * colon at all, is 400 (RFC 9112 section 5.1), as in the head. */
			i++;
			if (d->state == S_TRAILER_TXT && ch == '\r') {
				d->state = S_TRAILER_LF;
				break;
			}
			if (d->state == S_TRAILER_NAME && ch == ':') {
				if (name_frames(d)) {
					ret = -EPROTO;
					goto out;
				}
				d->state = S_TRAILER_TXT;
			} else if (d->state == S_TRAILER_NAME && is_tchar(ch)) {
				match_name(d, ch);
			} else if (d->state == S_TRAILER_NAME ?
					   !is_tchar(ch) :
					   (ch < 0x20 && ch != '\t') || ch == 0x7f) {
				ret = -EPROTO;
				goto out;
			}
			if (++d->trailer_len > max_trailer) {
				ret = -EMSGSIZE;
				goto out;
			}
			break;
		case S_TRAILER_LF:
		case S_END_LF:
			if (ch != '\n') {
				ret = -EPROTO;
				goto out;
			}
			i++;
			if (d->state == S_END_LF) {
				ret = CHUNKED_DONE;
				goto out;
			}
			d->state = S_TRAILER;
			break;
		}
	}
out:
	*in = i;
	*out = o;
	return ret;
}
