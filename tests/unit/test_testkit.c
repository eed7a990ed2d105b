/* tests/unit/test_testkit.c - the test kit's response parser (<warren/test.h>): every
 * framing, fed whole and byte by byte, and a precise error for each malformed response. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <warren/test.h>

#include "check_main.h"

/* Parses @text (NUL-free) whole; asserts the result is @want. */
static void parse(const char *text, int flags, int want, struct warren_test_response *r,
		  size_t *used)
{
	int ret = warren_test_parse_response(text, strlen(text), flags, r, used);

	ck_assert_msg(ret == want, "parse: %d (%s), expected %d", ret, warren_test_error(), want);
}

/* Whether parsing @text fails with -EPROTO and an error that contains @why. */
static void malformed(const char *text, int flags, const char *why)
{
	struct warren_test_response r;

	parse(text, flags, -EPROTO, &r, NULL);
	ck_assert_msg(strstr(warren_test_error(), why), "error \"%s\", expected \"%s\" in it",
		      warren_test_error(), why);
	/* Freed by the parser: a zeroed struct is left. */
	ck_assert_ptr_null(r.headers);
	ck_assert_ptr_null(r.body);
}

/* Every prefix of @text is incomplete; all of it parses, the same as whole. */
static void byte_by_byte(const char *text, int flags, const char *body)
{
	struct warren_test_response r;
	size_t len = strlen(text), used;

	for (size_t n = 0; n < len; n++) {
		int ret = warren_test_parse_response(text, n, flags, &r, &used);

		ck_assert_msg(ret == -EAGAIN, "prefix of %zu bytes: %d (%s)", n, ret,
			      warren_test_error());
	}
	parse(text, flags, 0, &r, &used);
	ck_assert_uint_eq(used, len);
	ck_assert_uint_eq(r.body_len, strlen(body));
	ck_assert_str_eq(r.body, body);
	warren_test_response_free(&r);
}

START_TEST(test_content_length)
{
	const char *text = "HTTP/1.1 200 OK\r\nContent-Type:  text/plain \r\n"
			   "Content-Length: 5\r\nX-Twice: a\r\nx-twice: b\r\n\r\nhello";
	struct warren_test_response r;
	size_t used;

	parse(text, 0, 0, &r, &used);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.minor, 1);
	ck_assert_str_eq(r.reason, "OK");
	ck_assert_str_eq(warren_test_header(&r, "content-type"), "text/plain");
	ck_assert_str_eq(warren_test_header(&r, "X-TWICE"), "a");
	ck_assert_uint_eq(warren_test_header_count(&r, "x-twice"), 2);
	ck_assert_ptr_null(warren_test_header(&r, "Content-Encoding"));
	ck_assert_str_eq(r.body, "hello");
	ck_assert(!r.chunked);
	ck_assert_uint_eq(used, strlen(text));
	ck_assert_uint_eq(r.raw_len, used);
	ck_assert_mem_eq(r.raw, text, used);
	warren_test_response_free(&r);
	warren_test_response_free(&r); /* zeroed: a second free is harmless */
	byte_by_byte(text, 0, "hello");
}
END_TEST

START_TEST(test_chunked)
{
	const char *text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "5;name=value\r\nhello\r\n1\r\n,\r\nA \r\n0123456789\r\n0\r\n"
			   "Trailer-One: 1\r\n\r\n";
	struct warren_test_response r;
	size_t used;

	parse(text, 0, 0, &r, &used);
	ck_assert(r.chunked);
	ck_assert_str_eq(r.body, "hello,0123456789");
	ck_assert_uint_eq(r.ntrailers, 1);
	ck_assert_str_eq(r.trailers[0].name, "Trailer-One");
	ck_assert_str_eq(r.trailers[0].value, "1");
	ck_assert_uint_eq(used, strlen(text));
	warren_test_response_free(&r);
	byte_by_byte(text, 0, "hello,0123456789");
	/* Chunked wins over Content-Length, and an empty body is "". */
	parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
	      "0\r\n\r\n",
	      0, 0, &r, &used);
	ck_assert(r.chunked);
	ck_assert_str_eq(r.body, "");
	ck_assert_uint_eq(r.body_len, 0);
	warren_test_response_free(&r);
}
END_TEST

START_TEST(test_bare_lf)
{
	struct warren_test_response r;

	byte_by_byte("HTTP/1.0 404 Not Found\nContent-Length: 3\n\nno\n", 0, "no\n");
	byte_by_byte("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n", 0, "ab");
	parse("HTTP/1.0 404 Not Found\nContent-Length: 0\n\n", 0, 0, &r, NULL);
	ck_assert_int_eq(r.minor, 0);
	ck_assert_str_eq(r.reason, "Not Found");
	warren_test_response_free(&r);
}
END_TEST

/* No body whatever the headers say: HEAD, 1xx, 204, 304. */
START_TEST(test_no_body)
{
	static const char *const texts[] = {
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200\r\n\r\n", /* a HEAD answer, with no reason phrase */
	};
	struct warren_test_response r;
	size_t used;

	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		parse(texts[i], i == 3 ? WARREN_TEST_HEAD : 0, 0, &r, &used);
		ck_assert_uint_eq(used, strlen(texts[i]));
		ck_assert_uint_eq(r.body_len, 0);
		ck_assert_str_eq(r.body, "");
		warren_test_response_free(&r);
	}
	parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", WARREN_TEST_HEAD, 0, &r, NULL);
	ck_assert_str_eq(r.reason, "OK");
	warren_test_response_free(&r);
}
END_TEST

/* Neither length nor chunked (or a coding that is not chunked last): up to the close. */
START_TEST(test_until_close)
{
	const char *text = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it";
	const char *gzip = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\n"
			   "abc";
	struct warren_test_response r;
	size_t used;

	parse(text, 0, -EAGAIN, &r, NULL);
	parse(text, WARREN_TEST_EOF, 0, &r, &used);
	ck_assert_str_eq(r.body, "all of it");
	ck_assert_uint_eq(used, strlen(text));
	warren_test_response_free(&r);
	parse(gzip, 0, -EAGAIN, &r, NULL);
	parse(gzip, WARREN_TEST_EOF, 0, &r, NULL);
	ck_assert_str_eq(r.body, "abc");
	warren_test_response_free(&r);
}
END_TEST

/* Two responses back to back: the first takes only its own bytes. */
START_TEST(test_pipelined)
{
	const char *text =
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n";
	struct warren_test_response r;
	size_t used, used2;

	parse(text, 0, 0, &r, &used);
	ck_assert_str_eq(r.body, "a");
	warren_test_response_free(&r);
	ck_assert_int_eq(
		warren_test_parse_response(text + used, strlen(text) - used, 0, &r, &used2), 0);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(r.body, "b");
	ck_assert_uint_eq(used + used2, strlen(text));
	warren_test_response_free(&r);
}
END_TEST

/* A body with NUL bytes: lengths count, not strings. */
START_TEST(test_binary_body)
{
	static const char text[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\0b";
	struct warren_test_response r;

	ck_assert_int_eq(warren_test_parse_response(text, sizeof(text) - 1, 0, &r, NULL), 0);
	ck_assert_uint_eq(r.body_len, 3);
	ck_assert_mem_eq(r.body, "a\0b", 3);
	warren_test_response_free(&r);
}
END_TEST

START_TEST(test_malformed)
{
	struct warren_test_response r;

	malformed("", WARREN_TEST_EOF, "no response: the connection closed first");
	ck_assert_int_eq(warren_test_parse_response(NULL, 0, WARREN_TEST_EOF, &r, NULL), -EPROTO);
	ck_assert_int_eq(warren_test_parse_response(NULL, 0, 0, &r, NULL), -EAGAIN);
	malformed("HTTP/2 200 OK\r\n\r\n", 0, "status line \"HTTP/2 200 OK\" is not");
	malformed("HTTP/1.1 20 OK\r\n\r\n", 0, "is not \"HTTP/1.x NNN reason\"");
	malformed("HTTP/1.1 2000 OK\r\n\r\n", 0, "is not");
	malformed("http/1.1 200 OK\r\n\r\n", 0, "is not");
	malformed("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", 0,
		  "header: \"No colon here\" is no \"Name: value\" field");
	malformed("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", 0, "is no \"Name: value\"");
	malformed("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 0, "is no \"Name: value\"");
	malformed("HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", 0,
		  "header: obsolete line folding in \" folded\"");
	malformed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 0,
		  "Content-Length given twice: 3 and 4");
	malformed("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0,
		  "Content-Length \"-1\" is not a number");
	malformed("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0,
		  "is over the kit's");
	malformed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", WARREN_TEST_EOF,
		  "the connection closed in the body: 5 of 10 bytes came");
	malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
		  "chunk size \"zz\" is not hexadecimal");
	malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 0,
		  "chunk size \"\" is not hexadecimal");
	malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 0,
		  "chunk of 3 bytes not followed by CRLF but \"d\\r");
	malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rX", 0,
		  "chunk of 3 bytes not followed by CRLF but \"\\rX\"");
	malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", 0,
		  "is over the kit's");
	malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", WARREN_TEST_EOF,
		  "the connection closed in a chunk of 5 bytes (2 received)");
	malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n",
		  WARREN_TEST_EOF, "trailer: the connection closed in the line \"\"");
	malformed("HTTP/1.1 200 OK\r\nContent-", WARREN_TEST_EOF,
		  "header: the connection closed in the line \"Content-\"");
}
END_TEST

/* A head that never ends is an error once it is too long to be one, not a wait. */
START_TEST(test_head_too_long)
{
	size_t n = 70 * 1024;
	char *text = malloc(n + 1);
	struct warren_test_response r;

	ck_assert_ptr_nonnull(text);
	memcpy(text, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(text + 20, 'a', n - 20);
	text[n] = '\0';
	ck_assert_int_eq(warren_test_parse_response(text, n, 0, &r, NULL), -EPROTO);
	ck_assert_msg(strstr(warren_test_error(), "no line end in 65536 bytes"), "%s",
		      warren_test_error());
	free(text);
}
END_TEST

static Suite *testkit_suite(void)
{
	Suite *s = suite_create("testkit");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_bare_lf);
	tcase_add_test(tc, test_no_body);
	tcase_add_test(tc, test_until_close);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_binary_body);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_head_too_long);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(testkit_suite)
