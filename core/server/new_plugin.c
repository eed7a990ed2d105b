/* core/server/new_plugin.c - `warren new-plugin NAME [DIR]`: checks NAME, then writes the
 * templates of templates/plugin (embedded in the binary at build time, so the command works
 * from the build tree and from any install alike) into a new directory, NAME in place of
 * their "skeleton". */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/config_table.h"
#include "server/new_plugin.h"

/* Names the generated code cannot start its identifiers with: C keywords, up to C23. */
static const char *const c_keywords[] = {
	"alignas",	 "alignof",	 "asm",	     "auto",	      "bool",
	"break",	 "case",	 "char",     "const",	      "constexpr",
	"continue",	 "default",	 "do",	     "double",	      "else",
	"enum",		 "extern",	 "false",    "float",	      "for",
	"goto",		 "if",		 "inline",   "int",	      "long",
	"nullptr",	 "register",	 "restrict", "return",	      "short",
	"signed",	 "sizeof",	 "static",   "static_assert", "struct",
	"switch",	 "thread_local", "true",     "typedef",	      "typeof",
	"typeof_unqual", "union",	 "unsigned", "void",	      "volatile",
	"while",
};

/* Sets @why to "\"NAME\": message"; returns false. */
static bool fail_name(char *why, size_t whylen, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool fail_name(char *why, size_t whylen, const char *name, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(why, whylen, "\"%s\": %s", name, msg);
	return false;
}

bool new_plugin_name_ok(const char *name, char *why, size_t whylen)
{
	size_t len = strlen(name);

	if (len == 0) {
		snprintf(why, whylen,
			 "the name is empty: expected a C identifier of a-z, 0-9 and _");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if ((c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9' && i > 0))
			continue;
		if (c >= '0' && c <= '9')
			return fail_name(why, whylen, name,
					 "starts with the digit '%c': a C identifier "
					 "starts with a letter",
					 c);
		if (c >= 'A' && c <= 'Z')
			return fail_name(why, whylen, name,
					 "has the capital '%c' at position %zu: warren "
					 "module names are lowercase (a-z, 0-9, _)",
					 c, i + 1);
		if (c == ' ')
			return fail_name(why, whylen, name,
					 "has a space at position %zu: a C identifier has only "
					 "a-z, 0-9 and _",
					 i + 1);
		if (c > ' ' && c < 0x7f)
			return fail_name(why, whylen, name,
					 "has '%c' at position %zu: a C identifier has "
					 "only a-z, 0-9 and _%s",
					 c, i + 1, c == '-' || c == '.' ? " (try _ instead)" : "");
		return fail_name(why, whylen, name,
				 "has the byte 0x%02x at position %zu: a C identifier "
				 "has only a-z, 0-9 and _",
				 c, i + 1);
	}
	if (len > CONFIG_MAX_NAME)
		return fail_name(why, whylen, name,
				 "%zu characters, more than the %d of a module name", len,
				 CONFIG_MAX_NAME);
	if (name[0] == '_')
		return fail_name(why, whylen, name,
				 "starts with _: C reserves such names at file scope");
	if (strncmp(name, "warren", 6) == 0)
		return fail_name(why, whylen, name,
				 "starts with \"warren\", the prefix of warren's own API");
	for (size_t i = 0; i < sizeof(c_keywords) / sizeof(*c_keywords); i++)
		if (strcmp(name, c_keywords[i]) == 0)
			return fail_name(why, whylen, name, "is a C keyword");
	return true;
}

/* @text with every TEMPLATE_NAME replaced by @name; NULL when out of memory. */
static char *instantiate(const char *text, const char *name)
{
	size_t tlen = strlen(TEMPLATE_NAME), nlen = strlen(name), count = 0;
	const char *p, *q;
	char *out, *o;

	for (p = text; (p = strstr(p, TEMPLATE_NAME)); p += tlen)
		count++;
	out = malloc(strlen(text) + count * nlen + 1);
	if (!out)
		return NULL;
	o = out;
	for (q = text; (p = strstr(q, TEMPLATE_NAME)); q = p + tlen) {
		memcpy(o, q, (size_t)(p - q));
		o += p - q;
		memcpy(o, name, nlen);
		o += nlen;
	}
	strcpy(o, q);
	return out;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes template @t as file @name of @dir, which is new; sets *@written to its name. */
static int write_file(const struct template_file *t, const char *name, const char *dir,
		      char **written, char *why, size_t whylen)
{
	char *file = NULL, *text = NULL, *path = NULL;
	int fd, ret = -ENOMEM;

	*written = NULL;
	file = strcmp(t->name, "gitignore") == 0 ? strdup(".gitignore") :
						   instantiate(t->name, name);
	text = instantiate(t->text, name);
	if (!file || !text || asprintf(&path, "%s/%s", dir, file) < 0) {
		path = NULL;
		snprintf(why, whylen, "out of memory");
		goto out_free;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, whylen, "cannot create %s: %s", path, strerror(errno));
		goto out_free;
	}
	*written = path;
	path = NULL;
	ret = write_all(fd, text, strlen(text));
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		snprintf(why, whylen, "cannot write %s: %s", *written, strerror(-ret));
out_free:
	free(path);
	free(file);
	free(text);
	return ret;
}

int new_plugin_create(const char *name, const char *dir, char *why, size_t whylen)
{
	char *written[32] = {NULL};
	size_t n = 0;
	int ret = 0;

	if (!new_plugin_name_ok(name, why, whylen))
		return -EINVAL;
	if (mkdir(dir, 0777) < 0) {
		ret = -errno;
		if (errno == EEXIST)
			snprintf(why, whylen,
				 "%s already exists: new-plugin writes a new directory and "
				 "overwrites nothing (remove it or name another)",
				 dir);
		else
			snprintf(why, whylen, "cannot create directory %s: %s", dir,
				 strerror(errno));
		return ret;
	}
	for (const struct template_file *t = template_files; t->name && ret == 0; t++) {
		if (n == sizeof(written) / sizeof(*written)) {
			snprintf(why, whylen, "more templates than new-plugin can track");
			ret = -E2BIG;
			break;
		}
		ret = write_file(t, name, dir, &written[n], why, whylen);
		if (written[n])
			n++;
	}
	/* Half a plugin directory would only be in the way of the next try. */
	for (size_t i = 0; i < n; i++) {
		if (ret < 0)
			unlink(written[i]);
		free(written[i]);
	}
	if (ret < 0)
		rmdir(dir);
	return ret;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: warren new-plugin NAME [DIR]\n"
		"\n"
		"Writes a new directory DIR (default: NAME) with a plugin to start from: NAME.c\n"
		"(config parsing and a handler), test_NAME.c (a Check test using the warren test\n"
		"kit), NAME.json (a config serving it), a Makefile (make, make check, make run) and\n"
		"a README. NAME is the module name: a C identifier of a-z, 0-9 and _.\n");
}

int new_plugin_main(int argc, char **argv)
{
	const char *name, *dir;
	char why[512];

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "warren new-plugin: %s\n",
			argc < 2 ? "expected the plugin's NAME" : "expected at most NAME and DIR");
		usage(stderr);
		return 1;
	}
	name = argv[1];
	dir = argc == 3 ? argv[2] : name;
	if (new_plugin_create(name, dir, why, sizeof(why)) < 0) {
		fprintf(stderr, "warren new-plugin: %s\n", why);
		return 1;
	}
	printf("warren new-plugin: wrote %s/:", dir);
	for (const struct template_file *t = template_files; t->name; t++) {
		char *file = strcmp(t->name, "gitignore") == 0 ? strdup(".gitignore") :
								 instantiate(t->name, name);

		printf(" %s", file ? file : t->name);
		free(file);
	}
	printf("\nnext: cd %s && make check   (builds %s.so, runs its tests against warren)\n", dir,
	       name);
	return 0;
}
