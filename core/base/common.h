/* core/base/common.h - small helpers shared by every core file (never installed). */
#ifndef WARREN_CORE_COMMON_H
#define WARREN_CORE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <warren/module.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* clang-format would glue the cast's operand to the minus sign. */
/* clang-format off */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* clang-format on */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* The value of a hexadecimal digit, or -1. */
static inline int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

#define WARREN_ERROR_MAX 512

/* The one error carrier of config loading and module callbacks. */
struct warren_error {
	char msg[WARREN_ERROR_MAX];
};

#endif /* WARREN_CORE_COMMON_H */
