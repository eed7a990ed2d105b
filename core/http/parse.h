/* core/http/parse.h - http-parser callbacks and the RFC checks http-parser leaves out. */
#ifndef WARREN_CORE_HTTP_PARSE_H
#define WARREN_CORE_HTTP_PARSE_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

struct conn;

/* The callbacks that record the request of the connection that owns the parser. */
extern const http_parser_settings parse_settings;

/* True when @s is a non-empty RFC 9110 token (a valid field name or method). */
bool parse_is_token(const char *s, size_t len);
/* The status to answer a request the parser refused with. */
int parse_error_status(const struct conn *c);

#endif /* WARREN_CORE_HTTP_PARSE_H */
