/* core/server/module_conf.h - where in a module's config the warren_conf_*() helpers found
 * a problem, for the loader's message (the helpers themselves are declared in module.h). */
#ifndef WARREN_CORE_MODULE_CONF_H
#define WARREN_CORE_MODULE_CONF_H

#include <jansson.h>

#include "base/common.h"

/*
 * Writes into @buf the JSON path of the problem that a helper reported in @err: @base (the path of the
 * module's config object @root, e.g. "routes[3].config"), then the way from @root down to
 * the value the helper named, then its key: "routes[3].config.set.X-Frame-Options". Just
 * @base when no helper wrote @err's message.
 */
void module_conf_where(const struct warren_error *err, const json_t *root, const char *base,
		       char *buf, size_t size);

/* Forgets the message and place of an earlier error, before a module callback runs. */
void module_conf_error_clear(struct warren_error *err);

#endif /* WARREN_CORE_MODULE_CONF_H */
