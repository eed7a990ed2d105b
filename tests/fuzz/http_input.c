/* tests/fuzz/http_input.c - the in-memory connection behind the HTTP fuzz target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "http/conn.h"
#include "http/http1.h"
#include "http_input.h"
#include "http/router.h"
#include "server/server.h"
#include "server/worker.h"

extern const struct warren_module warren_builtin_module_echo;

/* Small limits, so that the fuzzer reaches every 413/414/431 branch quickly. */
static const char config_json[] =
	"{\"http\": {\"max_header_size\": 1024, \"max_body_size\": 2048},"
	" \"routes\": ["
	"  {\"match\": {\"path\": \"/echo/*\"}, \"handler\": \"echo.echo\"},"
	"  {\"match\": {\"path\": \"/u/:id/x/:y\", \"method\": [\"GET\", \"POST\"]},"
	"   \"handler\": \"echo.echo\"},"
	"  {\"match\": {\"path\": \"/\"}, \"handler\": \"echo.echo\"}]}";

static struct server *get_server(void)
{
	static struct server *srv;
	struct warren_error err = {{0}};
	struct config *cfg;

	if (srv)
		return srv;
	if (config_parse(config_json, sizeof(config_json) - 1, "<fuzz>", &cfg, &err) < 0 ||
	    server_load(cfg, 0, &srv, &err) < 0) {
		fprintf(stderr, "fuzz set-up: %s\n", err.msg);
		abort();
	}
	return srv;
}

/* Every response the server writes starts with a status line; anything else would mean
 * it wrote garbage or answered bytes it should not have. */
static void check_output(const struct conn *c, void *arg)
{
	(void)arg;
	if (c->wlen > 0 && (c->wlen < 12 || memcmp(c->wbuf, "HTTP/1.1 ", 9) != 0)) {
		fprintf(stderr, "output does not start with a status line\n");
		abort();
	}
}

void http_input_feed(struct conn *c, const uint8_t *data, size_t size, size_t step,
		     void (*written)(const struct conn *c, void *arg), void *arg)
{
	while (size > 0 && !c->close_after_write) {
		size_t room = http_rbuf_make_room(c), n = size < step ? size : step;

		if (room == 0)
			break;
		if (n > room)
			n = room;
		memcpy(c->rbuf + c->rlen, data, n);
		c->rlen += n;
		if (http_process(c) < 0)
			break;
		written(c, arg);
		c->wlen = 0; /* as if written */
		data += n;
		size -= n;
	}
}

void http_input_run(const uint8_t *data, size_t size)
{
	struct server *srv = get_server();
	struct worker w;
	struct conn c;

	if (size == 0)
		return;
	worker_init(&w, srv, NULL);
	if (http_conn_init(&c, &w.http) < 0)
		abort();
	http_input_feed(&c, data + 1, size - 1, (size_t)(data[0] % 64) + 1, check_output, NULL);
	http_conn_fini(&c);
	worker_fini(&w);
}

#ifdef WARREN_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	http_input_run(data, size);
	return 0;
}
#endif
