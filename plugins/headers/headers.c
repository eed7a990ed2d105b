/* plugins/headers/headers.c - adds configured headers to every response (handlers', hooks'
 * and warren's own 404/405/500/504), as an on_response hook: CORS, security headers.
 *
 * Module config: { "set": { "Name": "value", ... }, "add": { "Name": "value", ... } }
 *   set:  each header replaces any of the same name (case-insensitively) that the handler,
 *         a hook or warren set, so the response carries exactly this value;
 *   add:  each header is appended and whatever the response already had of that name stays
 *         (for fields that may repeat, such as a second WWW-Authenticate challenge).
 * At least one of the two is required; "set" is applied first. Names must be HTTP tokens
 * and not Content-Length, Transfer-Encoding or Connection (warren owns the framing); values
 * are strings without control characters other than tab. warren_conf_header() checks both
 * at start-up.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <warren/module.h>

struct header {
	char *name;
	char *value;
};

struct header_list {
	struct header *set;
	size_t nset;
	struct header *add;
	size_t nadd;
};

static void free_headers(struct header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

static void list_free(struct header_list *l)
{
	free_headers(l->set, l->nset);
	free_headers(l->add, l->nadd);
	free(l);
}

/* Copies the object of headers at @what ("set" or "add") of @config into *out. */
static int parse_headers(const json_t *config, const char *what, struct header **out, size_t *n,
			 struct warren_error *err)
{
	const json_t *obj = NULL;
	const char *name, *value;
	struct header *h;
	json_t *v;

	if (warren_conf_object(config, what, 0, &obj, err) < 0)
		return -EINVAL;
	if (!obj)
		return 0;
	h = calloc(json_object_size(obj) ? json_object_size(obj) : 1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	*out = h;
	json_object_foreach((json_t *)obj, name, v) {
		if (warren_conf_header(obj, name, &value, err) < 0)
			return -EINVAL;
		/* Names that differ in case only are one header: "set" would keep the last. */
		for (size_t i = 0; i < *n && strcmp(what, "set") == 0; i++)
			if (strcasecmp(h[i].name, name) == 0)
				return warren_conf_error(err, obj, name,
							 "repeats \"%s\" (names are "
							 "case-insensitive)",
							 h[i].name);
		h[*n].name = strdup(name);
		h[*n].value = strdup(value);
		(*n)++;
		if (!h[*n - 1].name || !h[*n - 1].value)
			return -ENOMEM;
	}
	return 0;
}

static int headers_init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"set", "add", NULL};
	struct header_list *l;
	int ret;

	if (warren_conf_keys(config, keys, err) < 0)
		return -EINVAL;
	if (json_object_size(config) == 0) {
		warren_error_set(err, "nothing to do: give \"set\" and/or \"add\", objects of "
				      "header name to value");
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	ret = parse_headers(config, "set", &l->set, &l->nset, err);
	if (ret == 0)
		ret = parse_headers(config, "add", &l->add, &l->nadd, err);
	if (ret < 0) {
		list_free(l);
		return ret;
	}
	*module_data = l;
	return 0;
}

static void headers_fini(void *module_data)
{
	list_free(module_data);
}

static int headers_response(struct warren_request *r, void *module_data)
{
	const struct header_list *l = module_data;
	int ret;

	for (size_t i = 0; i < l->nset; i++) {
		ret = warren_resp_header_set(r, l->set[i].name, l->set[i].value);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < l->nadd; i++) {
		ret = warren_resp_header(r, l->add[i].name, l->add[i].value);
		if (ret < 0)
			return ret;
	}
	return 0;
}

WARREN_MODULE(headers, .version = "1.0", .init = headers_init, .fini = headers_fini,
	      .on_response = headers_response, );
