/* tests/unit/test_chunked.c - the strict chunked decoder: valid bodies split at every byte,
 * and each malformed framing http-parser would let through. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "http/chunked.h"

#define MAX_BODY 100

struct result {
	int ret;
	char body[256];
	size_t body_len;
	size_t consumed; /* input bytes consumed when done */
};

/* Feeds @text in pieces of @step, as reads would deliver it, decoding in place. */
static struct result decode(const char *text, size_t step)
{
	struct result res = {.ret = CHUNKED_MORE};
	size_t len = strlen(text), in = 0, out = 0, have = 0;
	struct chunked d;
	char buf[1024];

	chunked_init(&d);
	ck_assert_uint_lt(len, sizeof(buf));
	while (res.ret == CHUNKED_MORE && have < len) {
		size_t n = len - have < step ? len - have : step;

		/* New bytes land after what is unparsed, which sits at [in, have). */
		memcpy(buf + have, text + have, n);
		have += n;
		res.ret = chunked_decode(&d, buf, &in, have, &out, 0, MAX_BODY, 64);
	}
	memcpy(res.body, buf, out);
	res.body_len = out;
	res.consumed = in;
	return res;
}

static void assert_body(const char *text, const char *body)
{
	for (size_t step = 1; step <= strlen(text); step++) {
		struct result r = decode(text, step);

		ck_assert_msg(r.ret == CHUNKED_DONE, "step %zu: ret %d", step, r.ret);
		ck_assert_uint_eq(r.body_len, strlen(body));
		ck_assert(memcmp(r.body, body, r.body_len) == 0);
		ck_assert_uint_eq(r.consumed, strlen(text));
	}
}

static void assert_error(const char *text, int err)
{
	for (size_t step = 1; step <= strlen(text); step++)
		ck_assert_msg(decode(text, step).ret == err, "step %zu of %s", step, text);
}

START_TEST(valid_bodies)
{
	assert_body("0\r\n\r\n", "");
	assert_body("3\r\nabc\r\n0\r\n\r\n", "abc");
	assert_body("3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", "abc0123456789");
	assert_body("00003\r\nabc\r\n000\r\n\r\n", "abc");
	assert_body("3;name=value;flag\r\nabc\r\n0\r\n\r\n", "abc");
	assert_body("3 ; q=\"a \\\" ;b\"\r\nabc\r\n0\r\n\r\n", "abc");
	assert_body("3\r\nabc\r\n0\r\nX-Trailer: yes\r\nY: z\r\n\r\n", "abc");
	/* Names that only begin or end like a framing field are ordinary trailers. */
	assert_body("3\r\nabc\r\n0\r\nContent-Length-X: 1\r\nTransfer-Encodin: a\r\n"
		    "X-Content-Length: 2\r\n\r\n",
		    "abc");
	assert_body("1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", "\r\n");
}
END_TEST

START_TEST(stops_after_the_body)
{
	struct result r = decode("1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 100);

	ck_assert_int_eq(r.ret, CHUNKED_DONE);
	ck_assert_uint_eq(r.consumed, 11);
}
END_TEST

START_TEST(malformed_framing)
{
	assert_error("\r\n", -EPROTO);		       /* no size */
	assert_error("g\r\n", -EPROTO);		       /* not hex */
	assert_error("3\rXabc\r\n0\r\n\r\n", -EPROTO); /* CR without LF */
	assert_error("3\nabc\r\n0\r\n\r\n", -EPROTO);  /* bare LF */
	assert_error("3\r\nabcXX0\r\n\r\n", -EPROTO);  /* data not followed by CRLF */
	assert_error("3\r\nabc\n0\r\n\r\n", -EPROTO);
	assert_error("3;a=\"b\x01\"\r\nabc\r\n0\r\n\r\n", -EPROTO); /* CTL in quoted ext */
	assert_error("3;a\x7f\r\n", -EPROTO);
	assert_error("3;a=\"open\r\nabc", -EPROTO);	/* CR inside a quote */
	assert_error("0\r\n\x01X: y\r\n\r\n", -EPROTO); /* trailer not a field */
	assert_error("0\r\nX: a\x01\r\n\r\n", -EPROTO);
	assert_error("0\r\nX: a\r\r\n", -EPROTO);
	assert_error("0\r\n\rX", -EPROTO);
	assert_error("0\r\nX : y\r\n\r\n", -EPROTO); /* whitespace before the colon */
	assert_error("0\r\nX\r\n\r\n", -EPROTO);     /* no colon */
	assert_error("0\r\nX-Y z\r\n\r\n", -EPROTO);
	/* Framing fields as trailers, in any case. */
	assert_error("0\r\nTransfer-Encoding: identity\r\n\r\n", -EPROTO);
	assert_error("0\r\ncontent-LENGTH: 5\r\n\r\n", -EPROTO);
	assert_error("0\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n", -EPROTO);
	assert_error("00000000000000001\r\nx\r\n0\r\n\r\n", -EPROTO); /* 17 digits */
	assert_error("-1\r\n", -EPROTO);
	assert_error("+1\r\n", -EPROTO);
	assert_error("0x1\r\n", -EPROTO);
	assert_error("1 x\r\nx\r\n0\r\n\r\n", -EPROTO); /* extension without ';' */
}
END_TEST

START_TEST(extension_length_is_bounded)
{
	char text[CHUNKED_EXT_MAX + 32] = "1;";

	memset(text + 2, 'a', CHUNKED_EXT_MAX);
	strcat(text, "\r\nx\r\n0\r\n\r\n");
	assert_error(text, -EPROTO);
	text[1 + CHUNKED_EXT_MAX - 1] = '\0';
	strcat(text, "\r\nx\r\n0\r\n\r\n");
	ck_assert_int_eq(decode(text, 1000).ret, CHUNKED_DONE);
}
END_TEST

START_TEST(limits)
{
	/* MAX_BODY is 100: a declared size beyond it fails before any data arrives. */
	ck_assert_int_eq(decode("65\r\n", 1000).ret, -EFBIG);
	ck_assert_int_eq(decode("64\r\n", 1000).ret, CHUNKED_MORE);
	ck_assert_int_eq(decode("ffffffffffffffff\r\n", 1000).ret, -EFBIG);
	ck_assert_int_eq(decode("32\r\n"
				"0123456789012345678901234567890123456789012345678"
				"9\r\n33\r\n",
				1000)
				 .ret,
			 -EFBIG);
	/* Trailers are bounded at 64 bytes here. */
	ck_assert_int_eq(decode("0\r\nX: 01234567890123456789012345678901234567890123456789"
				"0123456789012345678\r\n\r\n",
				7)
				 .ret,
			 -EMSGSIZE);
}
END_TEST

static Suite *chunked_suite(void)
{
	Suite *s = suite_create("chunked");
	TCase *tc = tcase_create("decode");

	tcase_add_test(tc, valid_bodies);
	tcase_add_test(tc, stops_after_the_body);
	tcase_add_test(tc, malformed_framing);
	tcase_add_test(tc, extension_length_is_bounded);
	tcase_add_test(tc, limits);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(chunked_suite)
