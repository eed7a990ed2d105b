/* tests/plugins/ctx_oversized.c - a module asking for more request context than warren
 * gives: the loader refuses it, naming the size and the limit. */
#include <warren/module.h>

WARREN_MODULE(ctx_oversized, .request_ctx_size = 1 << 20, );
