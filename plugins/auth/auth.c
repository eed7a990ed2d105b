/* plugins/auth/auth.c - bearer-token gate in front of every handler, as an on_request hook:
 * requests for protected paths that lack the configured token get 401 and go no further.
 *
 * Module config: { "token": "secret", "realm": "warren", "paths": ["/private/"] }
 *   token:  required; what clients send as "Authorization: Bearer <token>" (letters, digits
 *           and -._~+/, then optional '=' padding, as RFC 6750 allows);
 *   realm:  named in the WWW-Authenticate challenge ("warren" by default);
 *   paths:  path prefixes to protect (every path by default). A prefix matches as a string
 *           ("/admin" also covers "/administrator"); one that ends in '/' also covers the
 *           path without that slash, which a prefix route on "/private/" answers too.
 * No handlers. Prefixes are compared with both the path as sent and the path with its
 * percent-escapes decoded; a path that cannot be decoded, or that holds "." or ".."
 * segments, is treated as protected, so that no spelling of a path slips past.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <warren/module.h>

struct auth {
	char *token;
	size_t token_len;
	char *challenge;       /* WWW-Authenticate value for a request without a token */
	char *challenge_wrong; /* the same, saying that the token sent was wrong */
	char **paths;	       /* NULL: every path is protected */
	size_t npaths;
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

/* RFC 7235 token68: the only shape a bearer token can take on the wire. */
static bool is_token68(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (('a' <= s[i] && s[i] <= 'z') || ('A' <= s[i] && s[i] <= 'Z') ||
			   ('0' <= s[i] && s[i] <= '9') || strchr("-._~+/", s[i])))
		i++;
	if (i == 0)
		return false;
	while (i < len && s[i] == '=')
		i++;
	return i == len;
}

/* The realm goes into a quoted-string: keep out what would need escaping or end it. */
static bool is_plain_quoted_text(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void auth_free(struct auth *a)
{
	for (size_t i = 0; i < a->npaths; i++)
		free(a->paths[i]);
	free(a->paths);
	free(a->challenge);
	free(a->challenge_wrong);
	free(a->token);
	free(a);
}

static int parse_token(struct auth *a, const json_t *v, struct warren_error *err)
{
	if (!v) {
		warren_error_set(err, "token: required (the bearer token clients must send)");
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		warren_error_set(err, "token: expected a string, got %s", json_kind(v));
		return -EINVAL;
	}
	if (json_string_length(v) == 0) {
		warren_error_set(err, "token: must not be empty");
		return -EINVAL;
	}
	if (!is_token68(json_string_value(v), json_string_length(v))) {
		warren_error_set(err, "token: only letters, digits, -._~+/ and trailing '=' can be "
				      "sent as a bearer token");
		return -EINVAL;
	}
	a->token = strdup(json_string_value(v));
	if (!a->token)
		return -ENOMEM;
	a->token_len = json_string_length(v);
	return 0;
}

static int parse_realm(struct auth *a, const json_t *v, struct warren_error *err)
{
	const char *realm = "warren";

	if (v && !json_is_string(v)) {
		warren_error_set(err, "realm: expected a string, got %s", json_kind(v));
		return -EINVAL;
	}
	if (v) {
		realm = json_string_value(v);
		if (!is_plain_quoted_text(realm)) {
			warren_error_set(
				err, "realm: must not contain '\"', '\\' or control characters");
			return -EINVAL;
		}
	}
	if (asprintf(&a->challenge, "Bearer realm=\"%s\"", realm) < 0) {
		a->challenge = NULL;
		return -ENOMEM;
	}
	if (asprintf(&a->challenge_wrong, "Bearer realm=\"%s\", error=\"invalid_token\"", realm) <
	    0) {
		a->challenge_wrong = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int parse_paths(struct auth *a, const json_t *v, struct warren_error *err)
{
	const json_t *p;
	size_t i;

	if (!v)
		return 0;
	if (!json_is_array(v)) {
		warren_error_set(err, "paths: expected an array of path prefixes, got %s",
				 json_kind(v));
		return -EINVAL;
	}
	if (json_array_size(v) == 0) {
		warren_error_set(err,
				 "paths: empty, so nothing would be protected (leave \"paths\" "
				 "out to protect every path)");
		return -EINVAL;
	}
	a->paths = calloc(json_array_size(v), sizeof(*a->paths));
	if (!a->paths)
		return -ENOMEM;
	json_array_foreach(v, i, p) {
		const char *s = json_string_value(p);

		if (!json_is_string(p)) {
			warren_error_set(err, "paths[%zu]: expected a string, got %s", i,
					 json_kind(p));
			return -EINVAL;
		}
		if (s[0] != '/') {
			warren_error_set(
				err, "paths[%zu]: \"%s\" is not a path (it must start with '/')", i,
				s);
			return -EINVAL;
		}
		a->paths[i] = strdup(s);
		if (!a->paths[i])
			return -ENOMEM;
		a->npaths++;
	}
	return 0;
}

static int auth_init(const json_t *config, void **module_data, struct warren_error *err)
{
	const char *key;
	struct auth *a;
	json_t *v;
	int ret;

	json_object_foreach((json_t *)config, key, v) {
		if (strcmp(key, "token") != 0 && strcmp(key, "realm") != 0 &&
		    strcmp(key, "paths") != 0) {
			warren_error_set(err, "unknown key \"%s\" (expected token, realm, paths)",
					 key);
			return -EINVAL;
		}
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	ret = parse_token(a, json_object_get(config, "token"), err);
	if (ret == 0)
		ret = parse_realm(a, json_object_get(config, "realm"), err);
	if (ret == 0)
		ret = parse_paths(a, json_object_get(config, "paths"), err);
	if (ret < 0) {
		auth_free(a);
		return ret;
	}
	*module_data = a;
	return 0;
}

static void auth_fini(void *module_data)
{
	auth_free(module_data);
}

static bool has_prefix(struct warren_str path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (path.len >= n && memcmp(path.base, prefix, n) == 0)
		return true;
	/* "/private/" also guards "/private", which a prefix route there also matches. */
	return n > 1 && prefix[n - 1] == '/' && path.len == n - 1 &&
	       memcmp(path.base, prefix, n - 1) == 0;
}

static bool has_dot_segment(struct warren_str path)
{
	for (size_t i = 0; i < path.len; i++) {
		size_t end = i + 1;

		if (path.base[i] != '/')
			continue;
		while (end < path.len && path.base[end] == '.')
			end++;
		if ((end - i - 1 == 1 || end - i - 1 == 2) &&
		    (end == path.len || path.base[end] == '/'))
			return true;
	}
	return false;
}

static bool is_protected(struct warren_request *r, const struct auth *a)
{
	struct warren_str raw = warren_req_path(r), decoded;

	if (!a->paths)
		return true;
	/* Whatever cannot be compared safely is guarded: failing closed costs only a 401. */
	if (warren_req_path_decoded(r, &decoded) < 0 || has_dot_segment(decoded))
		return true;
	for (size_t i = 0; i < a->npaths; i++)
		if (has_prefix(raw, a->paths[i]) || has_prefix(decoded, a->paths[i]))
			return true;
	return false;
}

/* Compares in time that depends on the length sent only, never on where bytes differ. */
static bool token_matches(const struct auth *a, struct warren_str sent)
{
	unsigned char diff = sent.len != a->token_len;

	for (size_t i = 0; i < sent.len; i++)
		diff |= (unsigned char)sent.base[i] ^ (unsigned char)a->token[i % a->token_len];
	return diff == 0;
}

/*
 * The token of the request's one Authorization field when it uses the Bearer scheme.
 * Two Authorization fields are refused: proxies and handlers might read the other one.
 */
static bool bearer_token(const struct warren_request *r, struct warren_str *token)
{
	struct warren_str name, value;
	size_t count = 0, i = 6;

	for (size_t k = 0; warren_req_header_at(r, k, &name, NULL); k++)
		if (name.len == 13 && strncasecmp(name.base, "Authorization", 13) == 0)
			count++;
	if (count != 1 || !warren_req_header(r, "Authorization", &value))
		return false;
	if (value.len < 7 || strncasecmp(value.base, "Bearer", 6) != 0 || value.base[6] != ' ')
		return false;
	while (i < value.len && value.base[i] == ' ')
		i++;
	token->base = value.base + i;
	token->len = value.len - i;
	return true;
}

static int auth_request(struct warren_request *r, void *module_data)
{
	const struct auth *a = module_data;
	struct warren_str token;
	bool sent;
	int ret;

	if (!is_protected(r, a))
		return WARREN_DECLINED;
	sent = bearer_token(r, &token);
	if (sent && token_matches(a, token))
		return WARREN_DECLINED;
	ret = warren_resp_status(r, 401);
	if (ret == 0)
		ret = warren_resp_header(r, "WWW-Authenticate",
					 sent ? a->challenge_wrong : a->challenge);
	if (ret == 0)
		ret = warren_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (ret == 0)
		ret = warren_resp_body(r, "401 Unauthorized\n", 17);
	return ret < 0 ? ret : WARREN_DONE;
}

WARREN_MODULE(auth, .version = "1.0", .init = auth_init, .fini = auth_fini,
	      .on_request = auth_request, );
