/* modules/echo/echo.c - built-in module that answers with the request it received, for
 * checking what reaches a handler through proxies and routes. echo.echo: the request line,
 * the header fields as received, a blank line and the body. echo.json: the same as one JSON
 * object, {"method", "target", "path", "query", "version", "headers": [[name, value]...],
 * "remote", "body"} (a body that is not UTF-8 comes as "body_hex" instead). */
#include <errno.h>
#include <stdlib.h>

#include <warren/module.h>

static int append_str(struct warren_request *r, struct warren_str s)
{
	return warren_resp_append(r, s.base, s.len);
}

static int echo(struct warren_request *r, void *route_data)
{
	struct warren_str name, value, method = warren_req_method(r);
	struct warren_str target = warren_req_target(r);
	int ret;

	(void)route_data;
	ret = warren_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (ret == 0)
		ret = warren_resp_printf(r, "%.*s %.*s HTTP/1.%d\r\n", (int)method.len, method.base,
					 (int)target.len, target.base,
					 warren_req_version(r) == 11 ? 1 : 0);
	for (size_t i = 0; ret == 0 && warren_req_header_at(r, i, &name, &value); i++) {
		ret = append_str(r, name);
		if (ret == 0)
			ret = warren_resp_append(r, ": ", 2);
		if (ret == 0)
			ret = append_str(r, value);
		if (ret == 0)
			ret = warren_resp_append(r, "\r\n", 2);
	}
	if (ret == 0)
		ret = warren_resp_append(r, "\r\n", 2);
	if (ret == 0)
		ret = append_str(r, warren_req_body(r));
	return ret < 0 ? ret : WARREN_DONE;
}

static json_t *jstr(struct warren_str s)
{
	return json_stringn(s.base, s.len);
}

/* A body as a JSON string when it is UTF-8, else as hexadecimal digits. */
static int set_body(json_t *obj, struct warren_str body)
{
	static const char digits[] = "0123456789abcdef";
	json_t *v = json_stringn(body.base, body.len);
	char *hex;
	int ret;

	if (v)
		return json_object_set_new(obj, "body", v);
	hex = malloc(body.len * 2 + 1);
	if (!hex)
		return -1;
	for (size_t i = 0; i < body.len; i++) {
		hex[2 * i] = digits[(unsigned char)body.base[i] >> 4];
		hex[2 * i + 1] = digits[(unsigned char)body.base[i] & 15];
	}
	ret = json_object_set_new(obj, "body_hex", json_stringn(hex, body.len * 2));
	free(hex);
	return ret;
}

static int echo_json(struct warren_request *r, void *route_data)
{
	struct warren_str name, value, remote = warren_req_remote_ip(r);
	json_t *obj, *headers = json_array();
	char *text;
	int ret = -ENOMEM;

	(void)route_data;
	obj = json_pack("{s:o, s:o, s:o, s:o, s:s, s:o}", "method", jstr(warren_req_method(r)),
			"target", jstr(warren_req_target(r)), "path", jstr(warren_req_path(r)),
			"query", jstr(warren_req_query(r)), "version",
			warren_req_version(r) == 11 ? "HTTP/1.1" : "HTTP/1.0", "remote",
			jstr(remote));
	if (!obj || !headers)
		goto out_free;
	for (size_t i = 0; warren_req_header_at(r, i, &name, &value); i++) {
		json_t *pair = json_pack("[o, o]", jstr(name), jstr(value));

		/* A value with bytes outside UTF-8 (obs-text) cannot be a JSON string. */
		if (!pair)
			pair = json_pack("[o, n]", jstr(name));
		if (!pair || json_array_append_new(headers, pair) < 0)
			goto out_free;
	}
	if (json_object_set(obj, "headers", headers) < 0 || set_body(obj, warren_req_body(r)) < 0)
		goto out_free;
	text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		goto out_free;
	ret = warren_resp_header(r, "Content-Type", "application/json");
	if (ret == 0)
		ret = warren_resp_printf(r, "%s\n", text);
	free(text);
out_free:
	json_decref(headers);
	json_decref(obj);
	return ret < 0 ? ret : WARREN_DONE;
}

static const struct warren_handler echo_handlers[] = {
	{.name = "echo", .handle = echo},
	{.name = "json", .handle = echo_json},
	{.name = NULL},
};

WARREN_MODULE(echo, .version = "1.0", .handlers = echo_handlers, );
