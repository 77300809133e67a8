/*
 * Finding the checkout from a unit-test binary, for tests that run the
 * repository's helper scripts (e.g. the ethers vector generator).
 */
#ifndef FLYTRAP_TEST_ROOT_H
#define FLYTRAP_TEST_ROOT_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The checkout: $FLYTRAP_ROOT, else the nearest ancestor of this binary
 * holding `marker` (a path relative to the root), else ".".
 */
static inline void
test_find_repo_root(const char *marker, char *out, size_t len)
{
	const char *env = getenv("FLYTRAP_ROOT");
	char exe[PATH_MAX], probe[PATH_MAX + 128];
	ssize_t n;
	char *slash;

	if (env != NULL && env[0] != '\0') {
		snprintf(out, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		while ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			snprintf(probe, sizeof(probe), "%s/%s", exe, marker);
			if (access(probe, R_OK) == 0) {
				snprintf(out, len, "%s", exe);
				return;
			}
		}
	}
	snprintf(out, len, ".");
}

#endif
