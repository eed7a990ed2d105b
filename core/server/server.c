/* core/server/server.c - turns a parsed config into a runnable server generation: loads
 * plugins with dlopen (built-ins from the generated table), checks their ABI, runs their
 * init hooks and resolves every route to a handler, all in the master before fork. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/mman.h>

#include "base/crash_thread.h"
#include "server/crash.h"
#include "base/log.h"
#include "server/config_table.h"
#include "server/config_value.h"
#include "server/module_conf.h"
#include "server/server.h"
#include "base/shm.h"

/* Where a module left out of "modules" is looked for: the directories of this many plugins. */
#define UNLISTED_DIRS_MAX 16
/* ... and how much of the path found is shown. */
#define UNLISTED_PATH_SHOWN 200

/* The smallest descriptor and handler entry any ABI 0.x module may have. */
#define MODULE_MIN_SIZE (offsetof(struct warren_module, fini) + sizeof(void *))
#define HANDLER_MIN_SIZE (offsetof(struct warren_handler, release) + sizeof(void *))

/* Fields added in later ABI minors exist only in descriptors that are large enough. */
#define FIELD(desc, field, absent)                                                                 \
	((desc)->struct_size >= offsetof(struct warren_module, field) + sizeof((desc)->field) ?    \
		 (desc)->field :                                                                   \
		 (absent))
#define HOOK(desc, field) FIELD(desc, field, NULL)

/* A module's request context comes from the request's pool, with every other module's. */
#define REQUEST_CTX_MAX 65536

static const struct warren_module *find_builtin(const char *name)
{
	for (size_t i = 0; warren__builtin_modules[i]; i++)
		if (strcmp(warren__builtin_modules[i]->name, name) == 0)
			return warren__builtin_modules[i];
	return NULL;
}

static const struct warren_handler *handler_at(const struct warren_module *m, size_t i)
{
	/* Step by the size the module was built with: entries only grow at the end. */
	return (const struct warren_handler *)((const char *)m->handlers + i * m->handler_size);
}

static int check_descriptor(const struct warren_module *m, const char *what,
			    struct warren_error *err)
{
	if (m->abi_major != WARREN_ABI_MAJOR) {
		warren_error_set(
			err,
			"%s was built for warren ABI %u.%u, but this warren " WARREN_VERSION
			" has ABI %d.%d: rebuild it against warren " WARREN_VERSION " headers",
			what, m->abi_major, m->abi_minor, WARREN_ABI_MAJOR, WARREN_ABI_MINOR);
		return -ENOEXEC;
	}
	if (m->abi_minor > WARREN_ABI_MINOR) {
		warren_error_set(
			err,
			"%s was built for warren ABI %u.%u, newer than this warren " WARREN_VERSION
			" (ABI %d.%d): upgrade warren or rebuild it against warren " WARREN_VERSION
			" headers",
			what, m->abi_major, m->abi_minor, WARREN_ABI_MAJOR, WARREN_ABI_MINOR);
		return -ENOEXEC;
	}
	if (m->struct_size < MODULE_MIN_SIZE || m->handler_size < HANDLER_MIN_SIZE) {
		warren_error_set(err,
				 "%s has a malformed descriptor (sizes %u/%u); define it with "
				 "WARREN_MODULE()",
				 what, m->struct_size, m->handler_size);
		return -ENOEXEC;
	}
	if (FIELD(m, request_ctx_size, 0) > REQUEST_CTX_MAX) {
		warren_error_set(err,
				 "%s asks for %zu bytes of request context (request_ctx_size); "
				 "the most is %d",
				 what, m->request_ctx_size, REQUEST_CTX_MAX);
		return -ENOEXEC;
	}
	if (!m->name || !*m->name) {
		warren_error_set(err, "%s has a descriptor without a name", what);
		return -ENOEXEC;
	}
	for (size_t i = 0; m->handlers && handler_at(m, i)->name; i++) {
		const struct warren_handler *h = handler_at(m, i);

		if (!h->handle) {
			warren_error_set(err, "%s: handler \"%s\" has no handle function", what,
					 h->name);
			return -ENOEXEC;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(handler_at(m, j)->name, h->name) == 0) {
				warren_error_set(err, "%s: handler \"%s\" is defined twice", what,
						 h->name);
				return -ENOEXEC;
			}
		}
	}
	return 0;
}

/*
 * Plugins are loaded from a private copy, the file's bytes in a memfd:
 * - glibc hands back the object already mapped for a path it has open, so a plugin
 *   rebuilt in place would keep running its old code after a reload;
 * - a file overwritten in place (cp) under a running server would change the code of
 *   every worker that maps it, and crash them.
 * The memfd stays open as long as the module is loaded: closed, its /proc/self/fd/N
 * name would be reused by the next copy and glibc would match that name to this one.
 */
static int copy_to_memfd(const char *path, struct warren_error *err, size_t idx)
{
	char buf[65536];
	int src, dst;
	ssize_t n;

	src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		warren_error_set(err,
				 "modules[%zu].path: cannot load module: %s: cannot open shared "
				 "object file: %s",
				 idx, path, strerror(errno));
		return -errno;
	}
	/* Named after the file, so /proc/PID/maps and profilers still say which. */
	dst = memfd_create(strrchr(path, '/') ? strrchr(path, '/') + 1 : path, MFD_CLOEXEC);
	if (dst < 0)
		goto out_error;
	while ((n = read(src, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(dst, buf, (size_t)n) != n)
			goto out_error;
	}
	close(src);
	return dst;

out_error:
	warren_error_set(err, "modules[%zu].path: cannot copy %s for loading: %s", idx, path,
			 strerror(errno));
	if (dst >= 0)
		close(dst);
	close(src);
	return -EIO;
}

/* dlerror() names the memfd; the user wants the file they configured. */
static void dl_error(struct warren_error *err, size_t idx, const char *shown, const char *real)
{
	const char *msg = dlerror(), *at = strstr(msg, shown);

	if (at && shown != real)
		warren_error_set(err, "modules[%zu].path: cannot load module: %.*s%s%s", idx,
				 (int)(at - msg), msg, real, at + strlen(shown));
	else
		warren_error_set(err, "modules[%zu].path: cannot load module: %s", idx, msg);
}

static int load_plugin(struct loaded_module *lm, const struct module_conf *mc, size_t idx,
		       struct warren_error *err)
{
	char what[300], fdpath[64];
	int ret;

	lm->memfd = copy_to_memfd(mc->path, err, idx);
	if (lm->memfd < 0)
		return lm->memfd;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", lm->memfd);
	lm->dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
	if (!lm->dl) {
		dl_error(err, idx, fdpath, mc->path);
		return -ENOENT;
	}
	lm->desc = dlsym(lm->dl, "warren_module");
	if (!lm->desc) {
		warren_error_set(err,
				 "modules[%zu].path: \"%s\" is not a warren module (it exports no "
				 "\"warren_module\"; define one with WARREN_MODULE())",
				 idx, mc->path);
		return -ENOEXEC;
	}
	snprintf(what, sizeof(what), "modules[%zu].path: \"%s\"", idx, mc->path);
	ret = check_descriptor(lm->desc, what, err);
	if (ret < 0)
		return ret;
	if (strcmp(lm->desc->name, mc->name) != 0) {
		warren_error_set(err, "modules[%zu].name: \"%s\" defines module \"%s\", not \"%s\"",
				 idx, mc->path, lm->desc->name, mc->name);
		return -EINVAL;
	}
	return 0;
}

static void list_builtins(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; warren__builtin_modules[i] && n < len; i++) {
		int k = snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
				 warren__builtin_modules[i]->name);

		if (k < 0)
			break;
		n += (size_t)k;
	}
}

static int init_module(struct server *srv, struct loaded_module *lm, const char *base,
		       struct warren_error *err)
{
	char where[WARREN_ERROR_MAX];
	const char *refusal;
	int ret;

	if (!lm->desc->init) {
		lm->initialized = true;
		return 0;
	}
	module_conf_error_clear(err);
	/* Shared zones can only be made here, before the workers fork. */
	shm_begin(&srv->zones);
	hook_enter(lm->desc->name, "init");
	ret = lm->desc->init(lm->config, &lm->data, err);
	hook_leave();
	shm_end();
	if (ret < 0) {
		/* warren_shm_zone() has no @err: its module can only say "File exists". */
		refusal = shm_refusal();
		if (!err->msg[0])
			warren_error_set(err, "%s", refusal[0] ? refusal : strerror(-ret));
		module_conf_where(err, lm->config, base, where, sizeof(where));
		if (refusal[0] && !strstr(err->msg, refusal)) {
			size_t n = strlen(err->msg);

			snprintf(err->msg + n, sizeof(err->msg) - n, " (%s)", refusal);
		}
		warren__error_prefix(err, "%s: module \"%s\" failed to start: ", where,
				     lm->desc->name);
		return ret;
	}
	lm->initialized = true;
	return 0;
}

static struct loaded_module *find_loaded(struct server *srv, const char *name, size_t len)
{
	for (size_t i = 0; i < srv->nmods; i++)
		if (strlen(srv->mods[i].desc->name) == len &&
		    memcmp(srv->mods[i].desc->name, name, len) == 0)
			return &srv->mods[i];
	return NULL;
}

/* Appends "module.handler" ids of @m to @buf, comma separated. */
static void list_handlers(const struct warren_module *m, char *buf, size_t len, size_t *n)
{
	for (size_t i = 0; m->handlers && handler_at(m, i)->name && *n < len; i++) {
		int k = snprintf(buf + *n, len - *n, "%s%s.%s", *n ? ", " : "", m->name,
				 handler_at(m, i)->name);

		if (k < 0)
			return;
		*n += (size_t)k;
	}
}

/*
 * The handler of the list @avail ("a.b, c.d") that @id most likely misspells, or NULL; the
 * list is split in @avail itself, which the result points into.
 */
static const char *suggest_handler(const char *id, char *avail)
{
	const char *cand[64];
	size_t n = 0;
	char *p = avail;

	while (*p && n + 1 < ARRAY_SIZE(cand)) {
		char *sep = strstr(p, ", ");

		cand[n++] = p;
		if (!sep)
			break;
		*sep = '\0';
		p = sep + 2;
	}
	cand[n] = NULL;
	return config_suggest(id, cand);
}

/* @unloaded: the module @id names, when no module of that name is loaded or built in. */
static void no_handler_error(struct server *srv, size_t idx, const char *id, const char *unloaded,
			     struct warren_error *err)
{
	char avail[300], ids[sizeof(avail)];
	const char *suggestion;
	size_t n = 0;

	avail[0] = '\0';
	for (size_t i = 0; i < srv->nmods; i++)
		list_handlers(srv->mods[i].desc, avail, sizeof(avail), &n);
	for (size_t i = 0; warren__builtin_modules[i]; i++) {
		const struct warren_module *b = warren__builtin_modules[i];

		if (!find_loaded(srv, b->name, strlen(b->name)))
			list_handlers(b, avail, sizeof(avail), &n);
	}
	if (n >= sizeof(avail) - 1)
		strcpy(avail + sizeof(avail) - 5, "...");
	memcpy(ids, avail, sizeof(ids));
	suggestion = suggest_handler(id, ids);
	if (suggestion)
		warren_error_set(
			err, "routes[%zu].handler: no handler \"%.100s\" (did you mean \"%s\"?)",
			idx, id, suggestion);
	else if (unloaded)
		warren_error_set(err,
				 "routes[%zu].handler: module \"%s\" is not loaded (add it to "
				 "\"modules\": {\"name\": \"%s\", \"path\": \"PATH/%s.so\"}; "
				 "handlers available now: %s)",
				 idx, unloaded, unloaded, unloaded, n ? avail : "none");
	else
		warren_error_set(err, "routes[%zu].handler: no handler \"%.100s\" (available: %s)",
				 idx, id, n ? avail : "none");
}

/* Where @lm's request context lies in each request's block of them (as in req_hook). */
static uint32_t ctx_slot(struct server *srv, struct loaded_module *lm)
{
	size_t size = FIELD(lm->desc, request_ctx_size, 0);

	if (size && !lm->ctx) {
		lm->ctx = (uint32_t)srv->ctx_size + 1;
		/* Each context aligned for any type, as the block is. */
		srv->ctx_size += (size + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
	}
	return lm->ctx;
}

/* Whether @name (@len bytes) could be a module's name: what config.c allows in "modules". */
static bool plausible_module_name(const char *name, size_t len)
{
	if (len == 0 || len > CONFIG_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return false;
	return true;
}

/*
 * A route naming a module that is not loaded is most often a module left out of "modules":
 * look for NAME.so where this config's plugins are, and next to the config file, so that
 * the message can say exactly what to add.
 */
static bool find_unlisted_plugin(const struct config *cfg, const char *name, size_t len, char *path,
				 size_t size)
{
	const char *dirs[UNLISTED_DIRS_MAX], *slash;
	size_t n = 0;

	for (size_t i = 0; i < cfg->nmodules && n + 1 < ARRAY_SIZE(dirs); i++)
		if (cfg->modules[i].path)
			dirs[n++] = cfg->modules[i].path;
	/* A config read from a file (not a string): its directory too. */
	if (strcmp(cfg->file, "<string>") != 0)
		dirs[n++] = cfg->file;
	for (size_t i = 0; i < n; i++) {
		slash = strrchr(dirs[i], '/');
		if (snprintf(path, size, "%.*s%.*s.so", slash ? (int)(slash - dirs[i]) + 1 : 0,
			     dirs[i], (int)len, name) >= (int)size)
			continue;
		if (access(path, R_OK) == 0)
			return true;
	}
	return false;
}

static int resolve_route(struct server *srv, size_t idx, json_t *empty, struct warren_error *err)
{
	struct route_conf *rc = &srv->cfg->routes[idx];
	const char *dot = strchr(rc->handler, '.');
	const struct warren_handler *h = NULL;
	struct loaded_module *lm;
	void *data = NULL;
	char *id;
	int ret;

	if (!dot) {
		no_handler_error(srv, idx, rc->handler, NULL, err);
		return -ENOENT;
	}
	lm = find_loaded(srv, rc->handler, (size_t)(dot - rc->handler));
	if (!lm) {
		/* Built-ins need no "modules" entry: they load on first reference. */
		char name[128];
		const struct warren_module *b;

		snprintf(name, sizeof(name), "%.*s", (int)(dot - rc->handler), rc->handler);
		b = find_builtin(name);
		if (!b && plausible_module_name(rc->handler, (size_t)(dot - rc->handler))) {
			char path[PATH_MAX], q[UNLISTED_PATH_SHOWN * 4 + 8];

			if (find_unlisted_plugin(srv->cfg, rc->handler, (size_t)(dot - rc->handler),
						 path, sizeof(path))) {
				warren__quote(q, sizeof(q), path, strlen(path),
					      UNLISTED_PATH_SHOWN);
				warren_error_set(
					err,
					"routes[%zu].handler: module \"%s\" is not loaded "
					"(add {\"name\": \"%s\", \"path\": %s} to \"modules\")",
					idx, name, name, q);
				return -ENOENT;
			}
			no_handler_error(srv, idx, rc->handler, name, err);
			return -ENOENT;
		}
		if (b) {
			lm = &srv->mods[srv->nmods++];
			lm->memfd = -1;
			lm->desc = b;
			lm->config = empty;
			ret = init_module(srv, lm, "routes", err);
			if (ret < 0)
				return ret;
		}
	}
	for (size_t i = 0; lm && lm->desc->handlers && handler_at(lm->desc, i)->name; i++) {
		if (strcmp(handler_at(lm->desc, i)->name, dot + 1) == 0) {
			h = handler_at(lm->desc, i);
			break;
		}
	}
	if (!h) {
		no_handler_error(srv, idx, rc->handler, NULL, err);
		return -ENOENT;
	}
	if (h->configure) {
		module_conf_error_clear(err);
		hook_enter(lm->desc->name, "configure");
		ret = h->configure(rc->config, lm->data, &data, err);
		hook_leave();
		if (ret < 0) {
			char base[64], where[WARREN_ERROR_MAX];

			if (!err->msg[0])
				warren_error_set(err, "%s", strerror(-ret));
			snprintf(base, sizeof(base), "routes[%zu].config", idx);
			module_conf_where(err, rc->config, base, where, sizeof(where));
			warren__error_prefix(err, "%s: ", where);
			return ret;
		}
	} else if (json_object_size(rc->config) > 0) {
		warren_error_set(err, "routes[%zu].config: handler \"%s\" takes no config", idx,
				 rc->handler);
		return -EINVAL;
	}
	id = strdup(rc->handler);
	if (!id) {
		ret = -ENOMEM;
		goto out_release;
	}
	/* The pattern config.c compiled moves into the router; the config keeps its text. */
	ret = router_add(&srv->router, &rc->pattern, rc->methods, h, data, id);
	if (ret < 0)
		goto out_free_id;
	/* Read only from handler entries large enough to have the field (ABI 0.3). */
	srv->router.routes[srv->router.nroutes - 1].stream_body =
		lm->desc->handler_size >=
			offsetof(struct warren_handler, stream_body) + sizeof(h->stream_body) &&
		h->stream_body;
	if (rc->max_body_size != SIZE_MAX)
		router_set_body_limit(&srv->router, rc->max_body_size);
	srv->router.routes[srv->router.nroutes - 1].ctx = ctx_slot(srv, lm);
	srv->router.routes[srv->router.nroutes - 1].key = lm->key;
	return 0;

out_free_id:
	free(id);
out_release:
	if (h->release && data)
		h->release(data);
	if (ret == -ENOMEM)
		warren_error_set(err, "routes[%zu]: out of memory", idx);
	return ret;
}

/* ---- Module config keys (struct warren_module.config_key) ------------------------- */

static const char *config_key_of(const struct loaded_module *lm)
{
	return FIELD(lm->desc, config_key, NULL);
}

static struct loaded_module *key_owner(struct server *srv, const char *key)
{
	for (size_t i = 0; i < srv->nmods; i++) {
		const char *k = config_key_of(&srv->mods[i]);

		if (k && strcmp(k, key) == 0)
			return &srv->mods[i];
	}
	return NULL;
}

static const struct config_ext *top_level_ext(const struct config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->next && cfg->ext[i].route < 0; i++)
		if (strcmp(cfg->ext[i].key, key) == 0)
			return &cfg->ext[i];
	return NULL;
}

/*
 * A module listed in "modules" that owns a top-level key takes its config from there; a
 * "config" in its entry as well would leave one of the two unread.
 */
static int take_top_level_config(struct server *srv, struct loaded_module *lm, size_t idx,
				 struct warren_error *err)
{
	const char *key = config_key_of(lm);
	const struct config_ext *ext = key ? top_level_ext(srv->cfg, key) : NULL;

	if (!ext)
		return 0;
	if (json_object_size(lm->config) > 0) {
		warren_error_set(err,
				 "modules[%zu].config: module \"%s\" takes its config from the "
				 "top-level \"%s\"; give it there only",
				 idx, lm->desc->name, key);
		return -EINVAL;
	}
	lm->config = ext->value;
	return 0;
}

/*
 * Finds the module of every key that the config loader could not place: a loaded one, or
 * a built-in, which loads now with the top-level value as its config. Then gives each
 * module whose key stands in a route a slot in the routes' keyconf.
 */
static int load_key_owners(struct server *srv, struct warren_error *err)
{
	const struct config *cfg = srv->cfg;
	struct loaded_module *lm;

	for (size_t i = 0; i < cfg->next; i++) {
		const struct config_ext *ext = &cfg->ext[i];
		const struct warren_module *b = NULL;
		int ret;

		lm = key_owner(srv, ext->key);
		for (size_t j = 0; !lm && !b && warren__builtin_modules[j]; j++)
			if (warren__builtin_modules[j]->config_key &&
			    strcmp(warren__builtin_modules[j]->config_key, ext->key) == 0)
				b = warren__builtin_modules[j];
		if (!lm && b) {
			const struct config_ext *top = top_level_ext(cfg, ext->key);

			lm = &srv->mods[srv->nmods++];
			lm->memfd = -1;
			lm->desc = b;
			lm->config = top ? top->value : srv->empty;
			ret = init_module(srv, lm, top ? ext->key : "", err);
			if (ret < 0)
				return ret;
		}
		if (!lm) {
			const char *more[33];
			size_t n = 0;

			for (size_t j = 0; j < srv->nmods && n + 1 < ARRAY_SIZE(more); j++)
				if (config_key_of(&srv->mods[j]))
					more[n++] = config_key_of(&srv->mods[j]);
			more[n] = NULL;
			return config_unknown_key(ext, more, err);
		}
		if (ext->route >= 0 && !lm->key) {
			struct loaded_module **grown =
				realloc(srv->keymods, (srv->nkeys + 1) * sizeof(*grown));

			if (!grown) {
				warren_error_set(err, "out of memory");
				return -ENOMEM;
			}
			srv->keymods = grown;
			srv->keymods[srv->nkeys++] = lm;
			lm->key = (uint16_t)srv->nkeys;
		}
	}
	return 0;
}

/* Runs configure_route for every module key that stands in a route. */
static int configure_route_keys(struct server *srv, struct warren_error *err)
{
	const struct config *cfg = srv->cfg;

	for (size_t i = 0; i < cfg->next; i++) {
		const struct config_ext *ext = &cfg->ext[i];
		struct loaded_module *lm;
		struct route *rt;
		char base[128], where[WARREN_ERROR_MAX];
		int (*configure)(const json_t *, void *, void **, struct warren_error *);
		int ret;

		if (ext->route < 0)
			continue;
		lm = key_owner(srv, ext->key);
		rt = &srv->router.routes[ext->route];
		snprintf(base, sizeof(base), "routes[%ld].%s", ext->route, ext->key);
		configure = FIELD(lm->desc, configure_route, NULL);
		if (!configure) {
			warren_error_set(err,
					 "%s: module \"%s\" takes \"%s\" only at the top level",
					 base, lm->desc->name, ext->key);
			return -EINVAL;
		}
		if (!rt->keyconf) {
			rt->keyconf = calloc(srv->nkeys, sizeof(*rt->keyconf));
			if (!rt->keyconf) {
				warren_error_set(err, "out of memory");
				return -ENOMEM;
			}
		}
		module_conf_error_clear(err);
		hook_enter(lm->desc->name, "configure_route");
		ret = configure(ext->value, lm->data, &rt->keyconf[lm->key - 1], err);
		hook_leave();
		if (ret < 0) {
			if (!err->msg[0])
				warren_error_set(err, "%s", strerror(-ret));
			module_conf_where(err, ext->value, base, where, sizeof(where));
			warren__error_prefix(err, "%s: ", where);
			return ret;
		}
	}
	return 0;
}

/* Frees what configure_route made, before the modules' fini. */
static void release_route_keys(struct server *srv)
{
	for (size_t i = 0; i < srv->router.nroutes; i++) {
		struct route *rt = &srv->router.routes[i];

		for (size_t k = 0; rt->keyconf && k < srv->nkeys; k++) {
			void (*release)(void *) = FIELD(srv->keymods[k]->desc, release_route, NULL);

			if (rt->keyconf[k] && release)
				release(rt->keyconf[k]);
		}
		free(rt->keyconf);
		rt->keyconf = NULL;
	}
	free(srv->keymods);
}

static int add_hook(struct server *srv, struct req_hook **list, size_t *n, struct loaded_module *lm,
		    const char *what)
{
	struct req_hook *grown = realloc(*list, (*n + 1) * sizeof(**list));
	char *id;

	if (!grown)
		return -ENOMEM;
	*list = grown;
	if (asprintf(&id, "%s.%s", lm->desc->name, what) < 0)
		return -ENOMEM;
	grown[*n] = (struct req_hook){.id = id,
				      .data = lm->data,
				      .ctx = ctx_slot(srv, lm),
				      .key = lm->key};
	(*n)++;
	return 0;
}

static void free_hooks(struct req_hook *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)list[i].id);
	free(list);
}

/* Lists the request hooks of every module, in module order, for the workers. */
static int collect_hooks(struct server *srv)
{
	for (size_t i = 0; i < srv->nmods; i++) {
		struct loaded_module *lm = &srv->mods[i];
		const struct warren_module *d = lm->desc;

		if (HOOK(d, on_request)) {
			if (add_hook(srv, &srv->on_request, &srv->n_on_request, lm, "on_request") <
			    0)
				return -ENOMEM;
			srv->on_request[srv->n_on_request - 1].on_request = d->on_request;
			srv->on_request[srv->n_on_request - 1].may_hold = d->abi_minor >= 4;
		}
		if (HOOK(d, on_response)) {
			if (add_hook(srv, &srv->on_response, &srv->n_on_response, lm,
				     "on_response") < 0)
				return -ENOMEM;
			srv->on_response[srv->n_on_response - 1].on_response = d->on_response;
		}
		if (HOOK(d, on_complete)) {
			if (add_hook(srv, &srv->on_complete, &srv->n_on_complete, lm,
				     "on_complete") < 0)
				return -ENOMEM;
			srv->on_complete[srv->n_on_complete - 1].on_complete = d->on_complete;
		}
	}
	return 0;
}

int server_load(struct config *cfg, unsigned generation, struct server **out,
		struct warren_error *err)
{
	struct server *srv = calloc(1, sizeof(*srv));
	char where[64];
	int ret;

	if (!srv) {
		config_free(cfg);
		warren_error_set(err, "out of memory");
		return -ENOMEM;
	}
	srv->cfg = cfg;
	srv->generation = generation;
	srv->zones.generation = generation;
	srv->zones.recreate = cfg->zones_recreate;
	router_init(&srv->router);
	/* Room for every declared module plus one implicit built-in per route and per key. */
	srv->mods = calloc(cfg->nmodules + cfg->nroutes + cfg->next + 1, sizeof(*srv->mods));
	srv->empty = json_object();
	if (!srv->mods || !srv->empty) {
		warren_error_set(err, "out of memory");
		ret = -ENOMEM;
		goto out_free_server;
	}
	for (size_t i = 0; i < cfg->nmodules; i++) {
		const struct module_conf *mc = &cfg->modules[i];
		struct loaded_module *lm = &srv->mods[srv->nmods++];

		lm->memfd = -1;
		lm->config = mc->config;
		lm->path = mc->path;
		if (mc->path) {
			ret = load_plugin(lm, mc, i, err);
		} else {
			lm->desc = find_builtin(mc->name);
			ret = 0;
			if (!lm->desc) {
				char names[200];

				list_builtins(names, sizeof(names));
				warren_error_set(err,
						 "modules[%zu].name: no built-in module \"%s\" "
						 "(built in: %s); give a \"path\" to load a plugin",
						 i, mc->name, names[0] ? names : "none");
				ret = -ENOENT;
			}
		}
		if (ret < 0)
			goto out_free_server;
		ret = take_top_level_config(srv, lm, i, err);
		if (ret < 0)
			goto out_free_server;
		if (lm->config == mc->config)
			snprintf(where, sizeof(where), "modules[%zu].config", i);
		else
			snprintf(where, sizeof(where), "%s", config_key_of(lm));
		ret = init_module(srv, lm, where, err);
		if (ret < 0)
			goto out_free_server;
	}
	ret = load_key_owners(srv, err);
	if (ret < 0)
		goto out_free_server;
	for (size_t i = 0; i < cfg->nroutes; i++) {
		ret = resolve_route(srv, i, srv->empty, err);
		if (ret < 0)
			goto out_free_server;
	}
	ret = configure_route_keys(srv, err);
	if (ret < 0)
		goto out_free_server;
	ret = collect_hooks(srv);
	if (ret < 0) {
		warren_error_set(err, "out of memory");
		goto out_free_server;
	}
	*out = srv;
	return 0;

out_free_server:
	server_free(srv);
	return ret;
}

void server_print_modules(const struct server *srv, FILE *out, const char *prefix)
{
	for (size_t i = 0; i < srv->nmods; i++) {
		const struct loaded_module *lm = &srv->mods[i];
		const char *version = lm->desc->version;

		fprintf(out, "%smodule %s: %s%s, ABI %u.%u, %s\n", prefix, lm->desc->name,
			version && *version ? "version " : "no version",
			version && *version ? version : "", lm->desc->abi_major,
			lm->desc->abi_minor, lm->path ? lm->path : "built-in");
	}
}

void server_free(struct server *srv)
{
	if (!srv)
		return;
	for (size_t i = 0; i < srv->router.nroutes; i++) {
		const struct route *rt = &srv->router.routes[i];

		if (rt->handler->release && rt->data)
			rt->handler->release(rt->data);
	}
	release_route_keys(srv);
	router_free(&srv->router);
	free_hooks(srv->on_request, srv->n_on_request);
	free_hooks(srv->on_response, srv->n_on_response);
	free_hooks(srv->on_complete, srv->n_on_complete);
	for (size_t i = srv->nmods; i-- > 0;) {
		struct loaded_module *lm = &srv->mods[i];

		if (lm->initialized && lm->desc->fini) {
			hook_enter(lm->desc->name, "fini");
			lm->desc->fini(lm->data);
			hook_leave();
		}
		if (lm->dl)
			dlclose(lm->dl);
		if (lm->memfd >= 0)
			close(lm->memfd);
	}
	/* After fini, which may still use them. */
	shm_gen_release(&srv->zones);
	for (size_t i = 0; i < srv->nlisteners; i++)
		if (srv->listeners[i].fd >= 0)
			close(srv->listeners[i].fd);
	free(srv->listeners);
	free(srv->mods);
	json_decref(srv->empty);
	config_free(srv->cfg);
	free(srv);
}

int server_worker_init(struct server *srv, struct warren_error *err)
{
	for (size_t i = 0; i < srv->nmods; i++) {
		struct loaded_module *lm = &srv->mods[i];
		int ret;

		if (!lm->desc->worker_init) {
			lm->worker_initialized = true;
			continue;
		}
		crash_thread_enter(lm->desc->name, ".worker_init");
		ret = lm->desc->worker_init(lm->data);
		crash_thread_leave();
		if (ret < 0) {
			warren_error_set(err, "module \"%s\": worker_init failed: %s",
					 lm->desc->name, strerror(-ret));
			server_worker_exit(srv);
			return ret;
		}
		lm->worker_initialized = true;
	}
	return 0;
}

void server_worker_exit(struct server *srv)
{
	for (size_t i = srv->nmods; i-- > 0;) {
		struct loaded_module *lm = &srv->mods[i];

		if (lm->worker_initialized && lm->desc->worker_exit) {
			crash_thread_enter(lm->desc->name, ".worker_exit");
			lm->desc->worker_exit(lm->data);
			crash_thread_leave();
		}
		lm->worker_initialized = false;
	}
}

void server_hook_child_spawn(struct server *srv, pid_t pid)
{
	for (size_t i = 0; i < srv->nmods; i++)
		if (HOOK(srv->mods[i].desc, on_child_spawn))
			srv->mods[i].desc->on_child_spawn(srv->mods[i].data, pid);
}

void server_hook_master_ready(struct server *srv, const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < srv->nmods; i++)
		if (HOOK(srv->mods[i].desc, on_master_ready))
			srv->mods[i].desc->on_master_ready(srv->mods[i].data, pids, n);
}

void server_hook_child_recover(struct server *srv, pid_t old_pid, pid_t new_pid)
{
	for (size_t i = 0; i < srv->nmods; i++)
		if (HOOK(srv->mods[i].desc, on_child_recover))
			srv->mods[i].desc->on_child_recover(srv->mods[i].data, old_pid, new_pid);
}

void server_hook_reopen(struct server *srv, bool in_worker)
{
	for (size_t i = 0; i < srv->nmods; i++) {
		const struct loaded_module *lm = &srv->mods[i];

		/* Read only from descriptors large enough to have the field (ABI 0.4). */
		if (!lm->initialized || !HOOK(lm->desc, on_reopen))
			continue;
		if (in_worker)
			crash_thread_enter(lm->desc->name, ".on_reopen");
		else
			hook_enter(lm->desc->name, "on_reopen");
		lm->desc->on_reopen(lm->data);
		if (in_worker)
			crash_thread_leave();
		else
			hook_leave();
	}
}

void server_hook_master_death(struct server *srv)
{
	for (size_t i = 0; i < srv->nmods; i++)
		if (HOOK(srv->mods[i].desc, on_master_death))
			srv->mods[i].desc->on_master_death(srv->mods[i].data);
}
