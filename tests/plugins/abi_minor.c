/* tests/plugins/abi_minor.c - a module built for a newer ABI minor: the loader must refuse it. */
#include <warren/module.h>

WARREN_API const struct warren_module warren_module = {
	.abi_major = WARREN_ABI_MAJOR,
	.abi_minor = WARREN_ABI_MINOR + 1,
	.struct_size = sizeof(struct warren_module),
	.handler_size = sizeof(struct warren_handler),
	.name = "abi_minor",
};
