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

static int parse_token(struct auth *a, const json_t *config, struct warren_error *err)
{
	const char *token = NULL;

	if (warren_conf_string(config, "token", WARREN_CONF_REQUIRED, 0, &token, err) < 0)
		return -EINVAL;
	if (!is_token68(token, strlen(token)))
		return warren_conf_error(err, config, "token",
					 "only letters, digits, -._~+/ and trailing '=' can be "
					 "sent as a bearer token");
	a->token = strdup(token);
	if (!a->token)
		return -ENOMEM;
	a->token_len = strlen(token);
	return 0;
}

static int parse_realm(struct auth *a, const json_t *config, struct warren_error *err)
{
	const char *realm = "warren";

	if (warren_conf_string(config, "realm", 0, 0, &realm, err) < 0)
		return -EINVAL;
	if (!is_plain_quoted_text(realm))
		return warren_conf_error(err, config, "realm",
					 "must not contain '\"', '\\' or control characters");
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

static int parse_paths(struct auth *a, const json_t *config, struct warren_error *err)
{
	const json_t *paths = NULL, *p;
	const char *s;
	size_t i;

	if (warren_conf_array(config, "paths", 0, 0, 0, &paths, err) < 0)
		return -EINVAL;
	if (!paths)
		return 0;
	if (json_array_size(paths) == 0)
		return warren_conf_error(err, config, "paths",
					 "empty, so nothing would be protected (leave \"paths\" "
					 "out to protect every path)");
	a->paths = calloc(json_array_size(paths), sizeof(*a->paths));
	if (!a->paths)
		return -ENOMEM;
	json_array_foreach(paths, i, p) {
		if (warren_conf_string(p, NULL, 0, 0, &s, err) < 0)
			return -EINVAL;
		if (s[0] != '/')
			return warren_conf_error(
				err, p, NULL, "\"%s\" is not a path (it must start with '/')", s);
		a->paths[i] = strdup(s);
		if (!a->paths[i])
			return -ENOMEM;
		a->npaths++;
	}
	return 0;
}

static int auth_init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"token", "realm", "paths", NULL};
	struct auth *a;
	int ret;

	if (warren_conf_keys(config, keys, err) < 0)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	ret = parse_token(a, config, err);
	if (ret == 0)
		ret = parse_realm(a, config, err);
	if (ret == 0)
		ret = parse_paths(a, config, err);
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
