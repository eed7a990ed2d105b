/* core/server/new_plugin.h - `warren new-plugin NAME [DIR]`: writes a plugin directory to
 * start from (source, Makefile, sample config, README, a Check test using the test kit). */
#ifndef WARREN_SERVER_NEW_PLUGIN_H
#define WARREN_SERVER_NEW_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

/* One file of templates/plugin, embedded at build time (build/gen/plugin_templates.c). */
struct template_file {
	const char *name;
	const char *text;
};

/* The templates, ended by a NULL name. */
extern const struct template_file template_files[];

/* The word of the templates that new-plugin replaces with the plugin's name. */
#define TEMPLATE_NAME "skeleton"

/*
 * Whether @name can name a plugin: a warren module name (1 to CONFIG_MAX_NAME of a-z,
 * 0-9, _) that is also a C identifier the generated code can start its names with. If
 * not, @why says exactly what is wrong with it.
 */
bool new_plugin_name_ok(const char *name, char *why, size_t whylen);

/*
 * Creates directory @dir (it must not exist) holding the templates made for plugin @name.
 * Returns 0, or -errno with @why set; on failure nothing it wrote is left behind.
 */
int new_plugin_create(const char *name, const char *dir, char *why, size_t whylen);

/* The command: argv[0] is "new-plugin". Returns the exit status. */
int new_plugin_main(int argc, char **argv);

#endif /* WARREN_SERVER_NEW_PLUGIN_H */
