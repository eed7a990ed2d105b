/* tests/plugins/lineecho.c - a line protocol behind warren_req_upgrade(), for the connection
 * upgrade tests: echoes lines, floods output on request (back-pressure), arms the stream's
 * timer, closes on request, and logs how each stream ended.
 *
 * "lineecho.echo" upgrades to "lineecho" (or to ?proto=NAME), greets with "welcome\n" and
 * closes when the server stops; "lineecho.stubborn" ignores the stop; "lineecho.fickle"
 * changes the 101 into a 403 after asking for it; "lineecho.body" reads
 * the body as it comes and tries to upgrade before it is in. A refused upgrade is answered
 * 400 "refused ERRNO\n" with the negative errno. Commands, one per line:
 *	flood N	   writes N KiB of 'x' (then "flooded\n"), pausing reads while writes are refused
 *	timer MS   "tick\n" after MS milliseconds
 *	stall	   holds the loop for STALL_MS, then "stalled\n" (the watchdog's warning)
 *	crash	   raises SIGSEGV (the crash report names the handler)
 *	close	   "bye\n", then closes
 *	anything else is echoed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <warren/module.h>

/* Longer than the tests' watchdog.warn, far shorter than their watchdog.kill. */
#define STALL_MS 300

struct line_state {
	struct warren_stream *s;
	char line[256];
	size_t len;
	size_t flood_left; /* bytes of 'x' still to write */
	bool trailer_due;  /* "flooded\n" was refused */
	char *rest;	   /* read behind a flood command, handled once it is out */
	size_t rest_len;
	unsigned refused; /* writes refused with -EAGAIN */
	bool stubborn;
};

static const char *why_name(enum warren_stream_end why)
{
	switch (why) {
	case WARREN_STREAM_CLOSED:
		return "closed";
	case WARREN_STREAM_PEER:
		return "peer";
	case WARREN_STREAM_ERROR:
		return "error";
	case WARREN_STREAM_TIMEOUT:
		return "timeout";
	case WARREN_STREAM_STOPPED:
		return "stopped";
	case WARREN_STREAM_REFUSED:
		return "refused";
	}
	return "?";
}

static void put(struct line_state *st, const char *text)
{
	int ret = warren_stream_write(st->s, text, strlen(text));

	if (ret < 0 && ret != -EPIPE)
		warren_log(WARREN_LOG_ERROR, "lineecho: write: %s", strerror(-ret));
}

/* Writes flood output until it is done or refused; true when done. */
static bool flood(struct line_state *st)
{
	static char block[4096];

	if (!block[0])
		memset(block, 'x', sizeof(block));
	st->trailer_due = false;
	while (st->flood_left) {
		size_t n = st->flood_left < sizeof(block) ? st->flood_left : sizeof(block);
		int ret = warren_stream_write(st->s, block, n);

		if (ret == -EAGAIN) {
			st->refused++;
			return false;
		}
		if (ret < 0)
			return true;
		st->flood_left -= n;
	}
	if (warren_stream_write(st->s, "flooded\n", 8) == -EAGAIN) {
		/* The last word waits for room like the rest. */
		st->trailer_due = true;
		st->refused++;
		return false;
	}
	warren_log(WARREN_LOG_INFO, "lineecho: flooded, %u writes refused", st->refused);
	return true;
}

static void on_tick(struct warren_stream *s, void *arg)
{
	(void)s;
	put(arg, "tick\n");
}

static void command(struct line_state *st)
{
	unsigned long n;

	st->line[st->len] = '\0';
	if (sscanf(st->line, "flood %lu", &n) == 1) {
		st->flood_left = n * 1024;
		/* Nothing more is read until the output went out. */
		if (!flood(st))
			warren_stream_pause(st->s, true);
	} else if (sscanf(st->line, "timer %lu", &n) == 1) {
		warren_stream_timer(st->s, n, on_tick, st);
	} else if (strcmp(st->line, "crash\n") == 0) {
		raise(SIGSEGV);
	} else if (strcmp(st->line, "stall\n") == 0) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = STALL_MS * 1000000L};

		while (nanosleep(&ts, &ts) < 0)
			;
		put(st, "stalled\n");
	} else if (strcmp(st->line, "close\n") == 0) {
		put(st, "bye\n");
		warren_stream_close(st->s);
	} else {
		put(st, st->line);
	}
}

static void on_read(struct warren_stream *s, const void *data, size_t len, void *arg)
{
	struct line_state *st = arg;
	const char *p = data;

	for (size_t i = 0; i < len; i++) {
		if (st->len < sizeof(st->line) - 2)
			st->line[st->len++] = p[i];
		if (p[i] != '\n')
			continue;
		command(st);
		st->len = 0;
		if ((st->flood_left || st->trailer_due) && i + 1 < len) {
			/* What came in the same read waits for the flood to be out. */
			st->rest = malloc(len - i - 1);
			if (!st->rest) {
				warren_stream_close(s);
				return;
			}
			memcpy(st->rest, p + i + 1, len - i - 1);
			st->rest_len = len - i - 1;
			return;
		}
	}
}

static void on_drain(struct warren_stream *s, void *arg)
{
	struct line_state *st = arg;

	char *rest = st->rest;

	if (!(st->flood_left || st->trailer_due) || !flood(st))
		return;
	st->rest = NULL;
	if (rest)
		on_read(s, rest, st->rest_len, st);
	free(rest);
	if (!st->flood_left && !st->trailer_due)
		warren_stream_pause(s, false);
}

static void on_stop(struct warren_stream *s, void *arg)
{
	struct line_state *st = arg;

	warren_log(WARREN_LOG_INFO, "lineecho: told to stop");
	put(st, "stopping\n");
	if (!st->stubborn)
		warren_stream_close(s);
}

static void on_close(struct warren_stream *s, enum warren_stream_end why, void *arg)
{
	struct line_state *st = arg;

	(void)s;
	warren_log(WARREN_LOG_INFO, "lineecho: stream ended: %s", why_name(why));
	free(st->rest);
	free(st);
}

static const struct warren_upgrade_ops line_ops = {
	.size = sizeof(struct warren_upgrade_ops),
	.on_read = on_read,
	.on_drain = on_drain,
	.on_stop = on_stop,
	.on_close = on_close,
};

static int refuse(struct warren_request *r, int err)
{
	warren_resp_status(r, 400);
	warren_resp_printf(r, "refused %d\n", err);
	return WARREN_DONE;
}

static int upgrade(struct warren_request *r, bool stubborn)
{
	struct warren_str proto = {"lineecho", 8};
	struct line_state *st = calloc(1, sizeof(*st));
	char name[64];
	int ret;

	if (!st)
		return -ENOMEM;
	st->stubborn = stubborn;
	if (warren_req_query_param(r, "proto", &proto) == 0 && proto.len >= sizeof(name))
		proto.len = sizeof(name) - 1;
	snprintf(name, sizeof(name), "%.*s", (int)proto.len, proto.base);
	if (warren_req_query_param(r, "stream", NULL) == 0)
		warren_resp_stream_begin(r, NULL, NULL);
	ret = warren_req_upgrade(r, name, &line_ops, st, &st->s);
	if (ret < 0) {
		free(st);
		if (warren_req_query_param(r, "stream", NULL) == 0) {
			char msg[32];

			snprintf(msg, sizeof(msg), "refused %d\n", ret);
			warren_resp_stream_write(r, msg, strlen(msg));
			warren_resp_stream_end(r);
			return WARREN_DONE;
		}
		return refuse(r, ret);
	}
	/* Before the 101 is out: it must still go after it. */
	put(st, "welcome\n");
	return WARREN_DONE;
}

static int echo_handler(struct warren_request *r, void *data)
{
	(void)data;
	return upgrade(r, false);
}

static int stubborn_handler(struct warren_request *r, void *data)
{
	(void)data;
	return upgrade(r, true);
}

/* Asks for the upgrade, then answers something else: the switch must not happen. */
static int fickle_handler(struct warren_request *r, void *data)
{
	int ret = upgrade(r, false);

	(void)data;
	warren_resp_status(r, 403);
	return ret;
}

static void body_piece(struct warren_request *r, struct warren_str chunk, bool last, void *arg)
{
	(void)chunk;
	(void)arg;
	if (last) {
		warren_resp_body(r, "body read\n", 10);
		warren_resp_send(r);
	}
}

/* Streams the body: the upgrade comes too early while it is still arriving. */
static int body_handler(struct warren_request *r, void *data)
{
	struct warren_stream *s;
	int ret;

	(void)data;
	ret = warren_req_upgrade(r, "lineecho", &line_ops, NULL, &s);
	if (ret != -EBUSY)
		return refuse(r, ret);
	warren_log(WARREN_LOG_INFO, "lineecho: upgrade with the body arriving: %d", ret);
	if (warren_req_body_read(r, body_piece, NULL) < 0)
		return -EINVAL;
	return WARREN_ASYNC;
}

static const struct warren_handler handlers[] = {
	{.name = "echo", .handle = echo_handler},
	{.name = "stubborn", .handle = stubborn_handler},
	{.name = "fickle", .handle = fickle_handler},
	{.name = "body", .handle = body_handler, .stream_body = true},
	{.name = NULL},
};

WARREN_MODULE(lineecho, .version = "1.0", .handlers = handlers);
