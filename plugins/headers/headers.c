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
 * are strings without control characters other than tab. Both are checked at start-up.
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

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

/* RFC 9110 tchar. */
static bool is_tchar(char ch)
{
	return ('a' <= ch && ch <= 'z') || ('A' <= ch && ch <= 'Z') || ('0' <= ch && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar(*s))
			return false;
	return true;
}

static bool is_framing(const char *name)
{
	return strcasecmp(name, "Content-Length") == 0 ||
	       strcasecmp(name, "Transfer-Encoding") == 0 || strcasecmp(name, "Connection") == 0;
}

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

/* Checks one "name": "value" member of @what ("set" or "add"), naming it on error. */
static int check_header(const char *what, const char *name, const json_t *value,
			struct warren_error *err)
{
	const char *s = json_string_value(value);

	if (!is_token(name)) {
		warren_error_set(err,
				 "%s.\"%s\": not a valid header name (HTTP token characters only)",
				 what, name);
		return -EINVAL;
	}
	if (is_framing(name)) {
		warren_error_set(err, "%s.\"%s\": warren sets this header itself (message framing)",
				 what, name);
		return -EINVAL;
	}
	if (!json_is_string(value)) {
		warren_error_set(err, "%s.\"%s\": expected a string value, got %s", what, name,
				 json_kind(value));
		return -EINVAL;
	}
	for (size_t i = 0; s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			warren_error_set(err,
					 "%s.\"%s\": control character 0x%02x in the value "
					 "at offset %zu",
					 what, name, ch, i);
			return -EINVAL;
		}
	}
	return 0;
}

/* Copies the object @obj (member @what of the config) into a fresh array in *out. */
static int parse_headers(const char *what, const json_t *obj, struct header **out, size_t *n,
			 struct warren_error *err)
{
	struct header *h;
	const char *name;
	json_t *value;
	int ret;

	if (!obj)
		return 0;
	if (!json_is_object(obj)) {
		warren_error_set(err, "%s: expected an object of header name to value, got %s",
				 what, json_kind(obj));
		return -EINVAL;
	}
	h = calloc(json_object_size(obj) ? json_object_size(obj) : 1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	*out = h;
	json_object_foreach((json_t *)obj, name, value) {
		ret = check_header(what, name, value, err);
		if (ret < 0)
			return ret;
		/* Names that differ in case only are one header: "set" would keep the last. */
		for (size_t i = 0; i < *n && strcmp(what, "set") == 0; i++) {
			if (strcasecmp(h[i].name, name) == 0) {
				warren_error_set(err,
						 "%s.\"%s\": repeats \"%s\" (names are "
						 "case-insensitive)",
						 what, name, h[i].name);
				return -EINVAL;
			}
		}
		h[*n].name = strdup(name);
		h[*n].value = strdup(json_string_value(value));
		(*n)++;
		if (!h[*n - 1].name || !h[*n - 1].value)
			return -ENOMEM;
	}
	return 0;
}

static int headers_init(const json_t *config, void **module_data, struct warren_error *err)
{
	struct header_list *l;
	const char *key;
	json_t *v;
	int ret;

	json_object_foreach((json_t *)config, key, v) {
		if (strcmp(key, "set") != 0 && strcmp(key, "add") != 0) {
			warren_error_set(err, "unknown key \"%s\" (expected set, add)", key);
			return -EINVAL;
		}
	}
	if (json_object_size(config) == 0) {
		warren_error_set(err, "nothing to do: give \"set\" and/or \"add\", objects of "
				      "header name to value");
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	ret = parse_headers("set", json_object_get(config, "set"), &l->set, &l->nset, err);
	if (ret == 0)
		ret = parse_headers("add", json_object_get(config, "add"), &l->add, &l->nadd, err);
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
