/* tests/plugins/abi_major.c - a module claiming another ABI major: the loader must refuse it. */
#include <warren/module.h>

WARREN_API const struct warren_module warren_module = {
	.abi_major = WARREN_ABI_MAJOR + 1,
	.abi_minor = 0,
	.struct_size = sizeof(struct warren_module),
	.handler_size = sizeof(struct warren_handler),
	.name = "abi_major",
};
