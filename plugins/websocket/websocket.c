/* plugins/websocket/websocket.c - an RFC 6455 WebSocket echo endpoint over warren's
 * connection upgrade: the opening handshake (Sec-WebSocket-Accept with libcrypto's SHA-1 and
 * base64), then frames read from the stream (masking, fragmentation, UTF-8 checks of text,
 * ping/pong, the close handshake with its codes), and each message echoed back.
 *
 * Route config: {"max_message_size": BYTES} (default 1 MiB); a bigger message closes the
 * connection with 1009. A message being echoed while the client does not read waits, and
 * reading pauses meanwhile.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <warren/module.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define DEFAULT_MAX_MESSAGE (1024 * 1024)
#define MAX_CONTROL 125

enum ws_opcode {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

enum ws_close_code {
	WS_NORMAL = 1000,
	WS_GOING_AWAY = 1001,
	WS_PROTOCOL_ERROR = 1002,
	WS_INVALID_DATA = 1007,
	WS_TOO_BIG = 1009,
	WS_INTERNAL = 1011,
};

struct ws_route {
	size_t max_message;
};

struct ws_conn {
	struct warren_stream *s;
	size_t max_message;
	char *in; /* bytes read and not parsed yet */
	size_t in_len, in_cap;
	char *msg; /* the message being assembled from fragments */
	size_t msg_len, msg_cap;
	int msg_op; /* its opcode; 0 while none is */
	char *out;  /* a frame the stream refused, written on drain */
	size_t out_len;
	bool closing;	/* our close frame is out or due: nothing more is read */
	bool close_due; /* it waits behind ws->out */
	int close_code;
};

/* ---- Writing frames -------------------------------------------------------------------- */

/* Sends one unmasked frame (servers never mask); kept to retry on drain when refused.
 * Returns 0, -EAGAIN when it waits, or another error. */
static int send_frame(struct ws_conn *ws, int op, const void *data, size_t len)
{
	unsigned char head[10];
	size_t hl = 2;
	char *f;
	int ret;

	head[0] = (unsigned char)(0x80 | op);
	if (len < 126) {
		head[1] = (unsigned char)len;
	} else if (len <= 0xffff) {
		head[1] = 126;
		head[2] = (unsigned char)(len >> 8);
		head[3] = (unsigned char)len;
		hl = 4;
	} else {
		head[1] = 127;
		for (int i = 0; i < 8; i++)
			head[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	f = malloc(hl + len);
	if (!f)
		return -ENOMEM;
	memcpy(f, head, hl);
	if (len)
		memcpy(f + hl, data, len);
	ret = warren_stream_write(ws->s, f, hl + len);
	if (ret == -EAGAIN) {
		ws->out = f;
		ws->out_len = hl + len;
		/* Nothing more is parsed (so nothing more read) until it is out. */
		warren_stream_pause(ws->s, true);
		return ret;
	}
	free(f);
	return ret;
}

static int send_close(struct ws_conn *ws)
{
	unsigned char p[2] = {(unsigned char)(ws->close_code >> 8), (unsigned char)ws->close_code};

	return send_frame(ws, WS_CLOSE, p, ws->close_code ? 2 : 0);
}

/* Ends the connection with our close frame carrying @code (none when 0). A frame already
 * waiting for the client goes first, and the close frame when it is out (ws_drain()). */
static void close_with(struct ws_conn *ws, int code)
{
	if (ws->closing)
		return;
	ws->closing = true;
	ws->close_code = code;
	if (ws->out) {
		ws->close_due = true;
		return;
	}
	if (send_close(ws) != -EAGAIN)
		warren_stream_close(ws->s);
}

/* ---- Reading frames -------------------------------------------------------------------- */

/* Whether @p..@p+@len is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). */
static bool utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += n + 1;
	}
	return true;
}

/* Close codes a peer may send (RFC 6455 section 7.4; 1004-1006 and 1015 never go on the
 * wire). */
static bool close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

static int grow(char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	char *nb;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	nb = realloc(*buf, n);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = n;
	return 0;
}

static void on_control(struct ws_conn *ws, int op, const unsigned char *p, size_t len)
{
	unsigned code;

	switch (op) {
	case WS_PING:
		send_frame(ws, WS_PONG, p, len);
		return;
	case WS_PONG:
		return;
	case WS_CLOSE:
		if (len == 0) {
			close_with(ws, 0);
			return;
		}
		code = (unsigned)p[0] << 8 | p[1];
		if (len == 1 || !close_code_valid(code)) {
			close_with(ws, WS_PROTOCOL_ERROR);
			return;
		}
		if (!utf8_valid(p + 2, len - 2)) {
			close_with(ws, WS_INVALID_DATA);
			return;
		}
		/* The close handshake: the peer's code comes back. */
		close_with(ws, (int)code);
		return;
	}
}

/* The whole message is in: echoed back as it came (text checked for UTF-8 first). */
static void on_message(struct ws_conn *ws)
{
	int op = ws->msg_op;

	ws->msg_op = 0;
	if (op == WS_TEXT && !utf8_valid((const unsigned char *)ws->msg, ws->msg_len)) {
		close_with(ws, WS_INVALID_DATA);
		return;
	}
	if (send_frame(ws, op, ws->msg, ws->msg_len) == -ENOMEM)
		close_with(ws, WS_INTERNAL);
	ws->msg_len = 0;
}

/*
 * Parses the frame at @off in ws->in, if it is all there. Returns its length (it was
 * handled), 0 when more bytes are needed, or -1 when the connection is closing.
 */
static long parse_frame(struct ws_conn *ws, size_t off)
{
	unsigned char *p = (unsigned char *)ws->in + off;
	size_t avail = ws->in_len - off, hl = 2;
	unsigned char mask[4];
	uint64_t len;
	int op, fin;

	if (avail < 2)
		return 0;
	fin = p[0] & 0x80;
	op = p[0] & 0x0f;
	len = p[1] & 0x7f;
	/* No extension was negotiated: the RSV bits must be 0. Clients always mask. */
	if ((p[0] & 0x70) || !(p[1] & 0x80)) {
		close_with(ws, WS_PROTOCOL_ERROR);
		return -1;
	}
	if (len == 126) {
		if (avail < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
	} else if (len == 127) {
		if (avail < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		hl = 10;
		if (len >> 63) {
			close_with(ws, WS_PROTOCOL_ERROR);
			return -1;
		}
	}
	if (op >= 0x8) {
		/* Control frames: never fragmented, at most 125 bytes. */
		if (!fin || len > MAX_CONTROL ||
		    (op != WS_CLOSE && op != WS_PING && op != WS_PONG)) {
			close_with(ws, WS_PROTOCOL_ERROR);
			return -1;
		}
	} else if ((op == WS_CONT) != (ws->msg_op != 0) ||
		   (op != WS_CONT && op != WS_TEXT && op != WS_BINARY)) {
		/* A continuation with no message begun, or a message begun inside another. */
		close_with(ws, WS_PROTOCOL_ERROR);
		return -1;
	} else if (len > ws->max_message - ws->msg_len) {
		close_with(ws, WS_TOO_BIG);
		return -1;
	}
	if (avail - hl < 4 || avail - hl - 4 < len)
		return 0;
	memcpy(mask, p + hl, 4);
	hl += 4;
	for (uint64_t i = 0; i < len; i++)
		p[hl + i] ^= mask[i & 3];
	if (op >= 0x8) {
		on_control(ws, op, p + hl, (size_t)len);
	} else {
		if (op != WS_CONT)
			ws->msg_op = op;
		if (grow(&ws->msg, &ws->msg_cap, ws->msg_len + len + 1) < 0) {
			close_with(ws, WS_INTERNAL);
			return -1;
		}
		memcpy(ws->msg + ws->msg_len, p + hl, (size_t)len);
		ws->msg_len += (size_t)len;
		if (fin)
			on_message(ws);
	}
	return (long)(hl + len);
}

/* Handles every whole frame buffered, unless output waits or the connection closes. */
static void parse_frames(struct ws_conn *ws)
{
	size_t used = 0;

	/* Frames are parsed where they lie; what is left moves to the front once, so that a
	 * read full of tiny frames costs one move, not one per frame. */
	while (!ws->closing && !ws->out) {
		long n = parse_frame(ws, used);

		if (n <= 0)
			break;
		used += (size_t)n;
	}
	if (used) {
		memmove(ws->in, ws->in + used, ws->in_len - used);
		ws->in_len -= used;
	}
}

static void ws_read(struct warren_stream *s, const void *data, size_t len, void *arg)
{
	struct ws_conn *ws = arg;

	(void)s;
	if (ws->closing)
		return;
	/* A frame's header and mask, at most, on top of the biggest message allowed. */
	if (grow(&ws->in, &ws->in_cap, ws->in_len + len) < 0) {
		close_with(ws, WS_INTERNAL);
		return;
	}
	memcpy(ws->in + ws->in_len, data, len);
	ws->in_len += len;
	parse_frames(ws);
}

static void ws_drain(struct warren_stream *s, void *arg)
{
	struct ws_conn *ws = arg;

	if (ws->out) {
		if (warren_stream_write(s, ws->out, ws->out_len) == -EAGAIN)
			return;
		free(ws->out);
		ws->out = NULL;
	}
	if (ws->close_due) {
		ws->close_due = false;
		if (send_close(ws) == -EAGAIN)
			return;
	}
	if (ws->closing) {
		warren_stream_close(s);
		return;
	}
	warren_stream_pause(s, false);
	parse_frames(ws);
}

static void ws_stop(struct warren_stream *s, void *arg)
{
	(void)s;
	/* "Going away": the server is stopping. */
	close_with(arg, WS_GOING_AWAY);
}

static void ws_close(struct warren_stream *s, enum warren_stream_end why, void *arg)
{
	struct ws_conn *ws = arg;

	(void)s;
	(void)why;
	free(ws->in);
	free(ws->msg);
	free(ws->out);
	free(ws);
}

static const struct warren_upgrade_ops ws_ops = {
	.size = sizeof(struct warren_upgrade_ops),
	.on_read = ws_read,
	.on_drain = ws_drain,
	.on_stop = ws_stop,
	.on_close = ws_close,
};

/* ---- The opening handshake ------------------------------------------------------------- */

static bool header_is(struct warren_request *r, const char *name, const char *value)
{
	struct warren_str v;

	return warren_req_header(r, name, &v) && v.len == strlen(value) &&
	       strncasecmp(v.base, value, v.len) == 0;
}

/* Sec-WebSocket-Accept for @key: base64(SHA-1(key GUID)) into @out (29 bytes with NUL).
 * The key must be base64 of 16 bytes. Returns 0 or -EINVAL. */
static int accept_value(struct warren_str key, char out[29])
{
	unsigned char raw[18], digest[SHA_DIGEST_LENGTH];
	char buf[24 + sizeof(WS_GUID)];

	/* 16 bytes are 24 base64 characters ending in "==". */
	if (key.len != 24 || key.base[22] != '=' || key.base[23] != '=' ||
	    EVP_DecodeBlock(raw, (const unsigned char *)key.base, 24) != 18)
		return -EINVAL;
	memcpy(buf, key.base, 24);
	memcpy(buf + 24, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1((const unsigned char *)buf, 24 + sizeof(WS_GUID) - 1, digest);
	EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
	return 0;
}

static int bad_request(struct warren_request *r, int status, const char *why)
{
	warren_resp_status(r, status);
	warren_resp_header(r, "Content-Type", "text/plain");
	warren_resp_printf(r, "%s\n", why);
	return WARREN_DONE;
}

static int ws_handle(struct warren_request *r, void *route_data)
{
	const struct ws_route *rt = route_data;
	struct warren_str key, method = warren_req_method(r);
	struct ws_conn *ws;
	char accept[29];
	int ret;

	if (method.len != 3 || memcmp(method.base, "GET", 3) != 0)
		return bad_request(r, 400, "the opening handshake is a GET");
	if (!warren_req_header(r, "Upgrade", NULL)) {
		/* A plain request: say what this place speaks (RFC 9110 section 15.5.22). */
		warren_resp_header(r, "Upgrade", "websocket");
		return bad_request(r, 426, "this is a WebSocket endpoint");
	}
	if (!header_is(r, "Sec-WebSocket-Version", "13")) {
		warren_resp_header(r, "Sec-WebSocket-Version", "13");
		return bad_request(r, 426, "Sec-WebSocket-Version must be 13");
	}
	if (!warren_req_header(r, "Sec-WebSocket-Key", &key) || accept_value(key, accept) < 0)
		return bad_request(r, 400, "Sec-WebSocket-Key must be base64 of 16 bytes");
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	ws->max_message = rt ? rt->max_message : DEFAULT_MAX_MESSAGE;
	ret = warren_resp_header(r, "Sec-WebSocket-Accept", accept);
	if (ret == 0)
		ret = warren_req_upgrade(r, "websocket", &ws_ops, ws, &ws->s);
	if (ret < 0) {
		free(ws);
		if (ret == -ENOMEM)
			return ret;
		warren_resp_header_remove(r, "Sec-WebSocket-Accept");
		if (ret == -ESHUTDOWN)
			return bad_request(r, 503, "the server is stopping");
		/* HTTP/1.0, no "Connection: Upgrade", "websocket" not offered, a body. */
		return bad_request(r, 400, "not a WebSocket opening handshake");
	}
	return WARREN_DONE;
}

static int ws_configure(const json_t *config, void *module_data, void **route_data,
			struct warren_error *err)
{
	json_int_t max = DEFAULT_MAX_MESSAGE;
	json_error_t jerr;
	struct ws_route *rt;

	(void)module_data;
	if (json_unpack_ex((json_t *)config, &jerr, JSON_STRICT, "{s?I}", "max_message_size",
			   &max) < 0) {
		warren_error_set(err, "%s", jerr.text);
		return -EINVAL;
	}
	if (max < 1 || max > (json_int_t)1 << 30) {
		warren_error_set(err, "max_message_size: expected 1 to 1073741824 bytes, got %lld",
				 (long long)max);
		return -EINVAL;
	}
	rt = malloc(sizeof(*rt));
	if (!rt) {
		warren_error_set(err, "out of memory");
		return -ENOMEM;
	}
	rt->max_message = (size_t)max;
	*route_data = rt;
	return 0;
}

static const struct warren_handler ws_handlers[] = {
	{.name = "echo", .handle = ws_handle, .configure = ws_configure, .release = free},
	{.name = NULL},
};

WARREN_MODULE(websocket, .version = "1.0", .handlers = ws_handlers);
