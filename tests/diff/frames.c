/* tests/diff/frames.c - prints how warren frames request streams, for the differential
 * fuzzer (tests/diff/diff_fuzz.py). Each stream runs through the in-process HTTP layer on a
 * fresh connection, fed as the fuzz harness feeds it (http_input_feed()); a request hook
 * records every request that reaches dispatch and answers it. Input on stdin, repeated:
 * "STEP LEN\n" and LEN bytes (fed in reads of at most STEP bytes). Output, one JSON line
 * per stream:
 * {"requests": [{"method", "target", "version", "headers": [[name, value]...], "body"}...],
 *  "statuses": [every response status, in order], "closed": whether warren closes after}
 * Strings are bytes: every byte outside printable ASCII is escaped as \u00XX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "http/conn.h"
#include "http/http1.h"
#include "http_input.h"
#include "server/server.h"
#include "server/worker.h"

/* Small enough for the fuzzer to cross them; the reference parser is given no limits. */
static const char config_json[] =
	"{\"http\": {\"max_header_size\": 4096, \"max_body_size\": 16384}}";

/* Where the hook writes the current stream's requests: grown as needed, reset per stream. */
struct out {
	char *buf;
	size_t len, cap;
	unsigned nreq;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->buf = realloc(o->buf, o->cap);
		if (!o->buf) {
			perror("frames");
			exit(2);
		}
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* A JSON string holding @s byte for byte: a reader maps \u00XX back to byte XX. */
static void out_bytes(struct out *o, struct warren_str s)
{
	out_put(o, "\"", 1);
	for (size_t i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.base[i];
		char esc[8];

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			out_str(o, esc);
		} else {
			out_put(o, (const char *)&ch, 1);
		}
	}
	out_put(o, "\"", 1);
}

static int record(struct warren_request *r, void *data)
{
	struct out *o = data;
	struct warren_str name, value;

	out_str(o, o->nreq++ ? ", {\"method\": " : "{\"method\": ");
	out_bytes(o, warren_req_method(r));
	out_str(o, ", \"target\": ");
	out_bytes(o, warren_req_target(r));
	out_str(o,
		warren_req_version(r) == 11 ? ", \"version\": \"1.1\"" : ", \"version\": \"1.0\"");
	out_str(o, ", \"headers\": [");
	for (size_t i = 0; warren_req_header_at(r, i, &name, &value); i++) {
		out_str(o, i ? ", [" : "[");
		out_bytes(o, name);
		out_str(o, ", ");
		out_bytes(o, value);
		out_str(o, "]");
	}
	out_str(o, "], \"body\": ");
	out_bytes(o, warren_req_body(r));
	out_str(o, "}");
	return WARREN_DONE;
}

static bool at_response(const char *buf, size_t len, size_t pos)
{
	return pos == len || (pos + 9 <= len && memcmp(buf + pos, "HTTP/1.1 ", 9) == 0);
}

/* Appends the status of each response in @buf. A response to HEAD has a Content-Length
 * but no body: the next response (or the end) follows the head then. */
static void scan_statuses(struct out *st, const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos + 12 <= len && memcmp(buf + pos, "HTTP/1.1 ", 9) == 0) {
		const char *end = memmem(buf + pos, len - pos, "\r\n\r\n", 4);
		const char *cl = memmem(buf + pos, len - pos, "\r\nContent-Length: ", 18);
		char num[8];

		if (!end) {
			fprintf(stderr, "frames: a response head without its end\n");
			exit(2);
		}
		snprintf(num, sizeof(num), "%s%.3s", st->nreq++ ? ", " : "", buf + pos + 9);
		out_str(st, num);
		pos = (size_t)(end + 4 - buf);
		if (cl && cl < end) {
			size_t body = strtoul(cl + 18, NULL, 10);

			if (!at_response(buf, len, pos) || at_response(buf, len, pos + body))
				pos += body;
		}
	}
	if (pos != len) {
		fprintf(stderr, "frames: output that is not a response at byte %zu\n", pos);
		exit(2);
	}
}

static void written(const struct conn *c, void *statuses)
{
	scan_statuses(statuses, c->wbuf, c->wlen);
}

static void run_stream(struct server *srv, struct out *reqs, const char *data, size_t size,
		       size_t step)
{
	struct out statuses = {0};
	struct worker w;
	struct conn c;

	reqs->len = 0;
	reqs->nreq = 0;
	out_str(reqs, "{\"requests\": [");
	out_str(&statuses, "");
	worker_init(&w, srv, NULL);
	if (http_conn_init(&c, &w.http) < 0)
		exit(2);
	http_input_feed(&c, (const uint8_t *)data, size, step, written, &statuses);
	printf("%s], \"statuses\": [%s], \"closed\": %s}\n", reqs->buf, statuses.buf,
	       c.close_after_write ? "true" : "false");
	fflush(stdout);
	free(statuses.buf);
	http_conn_fini(&c);
	worker_fini(&w);
}

int main(void)
{
	struct warren_error err = {{0}};
	struct server srv = {0};
	struct out reqs = {0};
	struct req_hook hook = {.id = "frames.record", .on_request = record, .data = &reqs};
	size_t step, size;
	char *data;

	if (config_parse(config_json, sizeof(config_json) - 1, "<frames>", &srv.cfg, &err) < 0) {
		fprintf(stderr, "frames: %s\n", err.msg);
		return 2;
	}
	router_init(&srv.router);
	srv.on_request = &hook;
	srv.n_on_request = 1;
	while (scanf("%zu %zu", &step, &size) == 2 && getchar() == '\n') {
		data = malloc(size ? size : 1);
		if (!data || fread(data, 1, size, stdin) != size) {
			fprintf(stderr, "frames: short input\n");
			return 2;
		}
		run_stream(&srv, &reqs, data, size, step ? step : 1);
		free(data);
	}
	free(reqs.buf);
	router_free(&srv.router);
	config_free(srv.cfg);
	return 0;
}
