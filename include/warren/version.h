/* warren/version.h - the one place where warren's release and ABI versions live.
 *
 * configure reads WARREN_VERSION from here; plugins compare WARREN_ABI_* at build
 * time and the loader compares the copy stored in each module descriptor at load time.
 */
#ifndef WARREN_VERSION_H
#define WARREN_VERSION_H

/** Release version, "major.minor.patch". */
#define WARREN_VERSION "0.1.0"

/**
 * ABI major version. A module built against another major is refused: a change of
 * major means a descriptor or API call changed meaning.
 */
#define WARREN_ABI_MAJOR 0

/**
 * ABI minor version. Grows when the descriptor or API gains something at the end;
 * the loader accepts modules built against the same major and a minor up to this one.
 */
#define WARREN_ABI_MINOR 5

#endif /* WARREN_VERSION_H */
