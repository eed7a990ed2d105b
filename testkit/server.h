/* testkit/server.h - what the kit's client needs of a server beyond the public API. */
#ifndef WARREN_TESTKIT_SERVER_H
#define WARREN_TESTKIT_SERVER_H

struct warren_test_server;

/* The server's timeout for each step, in ms, already stretched. */
int kit_server_timeout(const struct warren_test_server *srv);

#endif /* WARREN_TESTKIT_SERVER_H */
