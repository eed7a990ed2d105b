/* core/server/config_docs.h - the configuration reference, printed from config_table.c. */
#ifndef WARREN_CORE_CONFIG_DOCS_H
#define WARREN_CORE_CONFIG_DOCS_H

#include <stdio.h>

/*
 * Prints @format to @out: "readme", the markdown table of README.md's "Configuration"
 * section, or "schema", a JSON Schema (draft 2020-12) of the configuration file. Returns
 * -EINVAL for another format, -ENOMEM or -EIO on failure.
 */
int config_docs_print(const char *format, FILE *out);

#endif /* WARREN_CORE_CONFIG_DOCS_H */
