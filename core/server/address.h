/* core/server/address.h - listen addresses: parsed from the config's text, formatted for
 * messages, compared. */
#ifndef WARREN_CORE_ADDRESS_H
#define WARREN_CORE_ADDRESS_H

#include <sys/socket.h>

#include "base/common.h"

/*
 * Parses "host:port", "[v6]:port" or "unix:/path" (host: an IPv4 address, "*" or
 * "localhost"); port 0 is allowed. On failure returns -EINVAL with a message that quotes
 * @text and says what is wrong, without a JSON path (the caller prefixes it).
 */
int address_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
		  struct warren_error *err);

/* Formats a socket address as "127.0.0.1:8080", "[::1]:8080" or "unix:/path". */
void address_format(const struct sockaddr_storage *ss, char *buf, size_t len);

/* Whether two addresses are the same, byte for byte over their lengths. */
bool address_equal(const struct sockaddr_storage *a, socklen_t alen,
		   const struct sockaddr_storage *b, socklen_t blen);

/* Whether @ss asks the kernel for a port (TCP port 0): such addresses never collide. */
bool address_any_port(const struct sockaddr_storage *ss);

#endif /* WARREN_CORE_ADDRESS_H */
