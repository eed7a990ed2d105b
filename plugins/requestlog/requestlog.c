/* plugins/requestlog/requestlog.c - request ids and an access log, as request hooks: every
 * response gets an X-Request-Id header, and every request one line in the log file, warren's
 * own error responses and requests whose client left included.
 *
 * Module config: { "file": "/var/log/warren/access.log", "reuse_id": false }
 *   file:     the log, opened for appending (created 0644) before the workers start; on
 *             USR1 (warren -s reopen) every process reopens it, for log rotation.
 *   reuse_id: take the request's own X-Request-Id when it is 1 to 64 characters of
 *             [A-Za-z0-9._:-] (a proxy in front made one), instead of warren's id.
 *
 * A line: client, start time, request line, status, bytes sent (all, body), request body
 * bytes, milliseconds, id, worker, route handler, requests before it on the connection,
 * and the outcome:
 *   127.0.0.1 [2026-12-06T05:01:02.345Z] "GET /x HTTP/1.1" 200 95 3 0 1ms
 *   id=0006a...01 w=0 route=hello.greet conn=0 answered
 * (one line). The status is 0 for "aborted" (no response), "route=-" when no handler
 * answered, "route=!" when warren rejected the request before reading it whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <warren/module.h>

struct requestlog {
	char *path;
	int fd;
	bool reuse_id;
};

/* Per request: the id its response carries, chosen once. */
struct request_ctx {
	struct warren_str id;
};

static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static int rl_init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"file", "reuse_id", NULL};
	const char *path;
	bool reuse_id = false;
	struct requestlog *rl;

	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "file", WARREN_CONF_REQUIRED, 0, &path, err) < 0 ||
	    warren_conf_bool(config, "reuse_id", 0, &reuse_id, err) < 0)
		return -EINVAL;
	rl = calloc(1, sizeof(*rl));
	if (!rl || !(rl->path = strdup(path))) {
		free(rl);
		return -ENOMEM;
	}
	rl->reuse_id = reuse_id;
	rl->fd = open_log(rl->path);
	if (rl->fd < 0) {
		warren_conf_error(err, config, "file", "cannot open %s: %s", rl->path,
				  strerror(errno));
		free(rl->path);
		free(rl);
		return -EINVAL;
	}
	*module_data = rl;
	return 0;
}

static void rl_fini(void *module_data)
{
	struct requestlog *rl = module_data;

	close(rl->fd);
	free(rl->path);
	free(rl);
}

/* The file was renamed away: lines go to a new one of the same name from now on. */
static void rl_reopen(void *module_data)
{
	struct requestlog *rl = module_data;
	int fd = open_log(rl->path);

	if (fd < 0) {
		warren_log(WARREN_LOG_ERROR, "requestlog: cannot reopen %s: %s", rl->path,
			   strerror(errno));
		return;
	}
	dup3(fd, rl->fd, O_CLOEXEC);
	close(fd);
}

static bool valid_id(struct warren_str id)
{
	if (id.len == 0 || id.len > 64)
		return false;
	for (size_t i = 0; i < id.len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-",
			    id.base[i]) ||
		    !id.base[i])
			return false;
	return true;
}

/* The request's id, chosen on first use: in on_request, or in on_response for a request
 * warren rejected (on_request did not run for it). */
static struct warren_str request_id(struct warren_request *r, const struct requestlog *rl)
{
	struct request_ctx *ctx = warren_req_ctx(r);
	struct warren_str id;

	if (!ctx)
		return warren_req_id(r);
	if (!ctx->id.len) {
		if (!rl->reuse_id || !warren_req_header(r, "X-Request-Id", &id) || !valid_id(id))
			id = warren_req_id(r);
		ctx->id = id;
	}
	return ctx->id;
}

static int rl_on_request(struct warren_request *r, void *module_data)
{
	request_id(r, module_data);
	return WARREN_DECLINED;
}

static int rl_on_response(struct warren_request *r, void *module_data)
{
	struct warren_str id = request_id(r, module_data);
	char value[65];

	snprintf(value, sizeof(value), "%.*s", (int)id.len, id.base);
	return warren_resp_header_set(r, "X-Request-Id", value);
}

/* Copies @s into @out quoted for the log: no quote, backslash or control byte unescaped. */
static void quote(char *out, size_t size, struct warren_str s)
{
	size_t n = 0;

	for (size_t i = 0; i < s.len && n + 5 < size; i++) {
		unsigned char ch = (unsigned char)s.base[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			n += (size_t)snprintf(out + n, size - n, "\\x%02x", ch);
		else
			out[n++] = (char)ch;
	}
	out[n] = '\0';
}

static void rl_on_complete(struct warren_request *r, void *module_data)
{
	static const char *const outcomes[] = {"pending", "answered", "aborted", "cut"};
	struct requestlog *rl = module_data;
	struct warren_str ip = warren_req_remote_ip(r), method = warren_req_method(r);
	struct warren_str id = request_id(r, rl);
	uint64_t start = warren_req_start_ms(r, true);
	time_t sec = (time_t)(start / 1000);
	const char *handler = NULL;
	int version = warren_req_version(r); /* 0 when rejected before it was read */
	char when[32], proto[32] = "", target[1024], line[2048];
	struct tm tm;
	int n;

	warren_req_route(r, &handler);
	if (warren_req_rejected(r))
		handler = "!";
	if (version)
		snprintf(proto, sizeof(proto), " HTTP/%d.%d", version / 10, version % 10);
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	quote(target, sizeof(target), warren_req_target(r));
	n = snprintf(line, sizeof(line),
		     "%.*s [%s.%03uZ] \"%.*s %s%s\" %d %llu %llu %llu %llums id=%.*s "
		     "w=%u route=%s conn=%u %s\n",
		     ip.len ? (int)ip.len : 1, ip.len ? ip.base : "-", when,
		     (unsigned)(start % 1000), (int)method.len, method.base, target, proto,
		     warren_resp_get_status(r),
		     (unsigned long long)warren_resp_bytes_sent(r, false),
		     (unsigned long long)warren_resp_bytes_sent(r, true),
		     (unsigned long long)warren_req_body_bytes(r),
		     (unsigned long long)warren_req_elapsed_ms(r), (int)id.len, id.base,
		     warren_req_worker(r), handler ? handler : "-", warren_req_conn_requests(r),
		     outcomes[warren_req_outcome(r) & 3]);
	if (n >= (int)sizeof(line)) {
		n = sizeof(line);
		line[n - 1] = '\n';
	}
	/* One write per line: with O_APPEND, lines of all workers never interleave. */
	if (n > 0 && write(rl->fd, line, (size_t)n) < 0)
		warren_log(WARREN_LOG_WARN, "requestlog: %s: %s", rl->path, strerror(errno));
}

WARREN_MODULE(requestlog, .version = "1.0", .init = rl_init, .fini = rl_fini,
	      .on_request = rl_on_request, .on_response = rl_on_response,
	      .on_complete = rl_on_complete, .request_ctx_size = sizeof(struct request_ctx),
	      .on_reopen = rl_reopen, );
