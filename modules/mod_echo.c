/* modules/mod_echo.c - built-in module that answers with the request it received: the
 * request line, the header fields as received, a blank line and the body. Handy for
 * checking what reaches a handler through proxies and routes. */
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

static const struct warren_handler echo_handlers[] = {
	{.name = "echo", .handle = echo},
	{.name = NULL},
};

WARREN_MODULE(echo, .version = "1.0", .handlers = echo_handlers, );
