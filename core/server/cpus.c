/* core/server/cpus.c - how many CPUs warren may really use, for "workers": "auto": the affinity
 * mask, capped by the CPU quota of the cgroup it runs in (cgroup v2 cpu.max, or v1's
 * cpu.cfs_quota_us), since containers limit CPU time that way, not with the mask. */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server/cpus.h"

#define PATH_LEN 4352

/* Whether the comma-separated @list holds @word. */
static bool has_token(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Where a cgroup hierarchy is mounted: cgroup2, or the v1 one that has the cpu controller. */
static bool find_mount(bool v2, char *out, size_t len)
{
	char line[PATH_LEN], mnt[PATH_LEN], fstype[64], opts[1024];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* "id parent maj:min root mountpoint options [optional...] - fstype source super" */
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %4351s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, opts) != 2)
			continue;
		if (v2)
			found = strcmp(fstype, "cgroup2") == 0;
		else
			found = strcmp(fstype, "cgroup") == 0 && has_token(opts, "cpu");
		if (found)
			snprintf(out, len, "%s", mnt);
	}
	fclose(f);
	return found;
}

/* This process's cgroup path in the v2 hierarchy or in the v1 cpu one. */
static bool find_cgroup(bool v2, char *out, size_t len)
{
	char line[PATH_LEN];
	bool found = false;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *path = ctrl ? strchr(ctrl + 1, ':') : NULL;

		if (!path)
			continue;
		*path++ = '\0';
		ctrl++;
		path[strcspn(path, "\n")] = '\0';
		if (v2) {
			found = *ctrl == '\0';
		} else {
			found = has_token(ctrl, "cpu");
		}
		if (found)
			snprintf(out, len, "%s", strcmp(path, "/") == 0 ? "" : path);
	}
	fclose(f);
	return found;
}

static bool read_two(const char *path, const char *fmt, long long *a, long long *b)
{
	FILE *f = fopen(path, "r");
	int n;

	if (!f)
		return false;
	n = fscanf(f, fmt, a, b);
	fclose(f);
	return n == 2;
}

static bool read_one(const char *path, long long *a)
{
	FILE *f = fopen(path, "r");
	int n;

	if (!f)
		return false;
	n = fscanf(f, "%lld", a);
	fclose(f);
	return n == 1;
}

/* The smallest quota from the cgroup up to the root, in whole CPUs; 0 = none. */
static unsigned quota_cpus(bool v2)
{
	char dir[2 * PATH_LEN], mnt[PATH_LEN], cg[PATH_LEN], file[2 * PATH_LEN + 32];
	unsigned best = 0;

	if (!find_mount(v2, mnt, sizeof(mnt)) || !find_cgroup(v2, cg, sizeof(cg)))
		return 0;
	snprintf(dir, sizeof(dir), "%s%s", mnt, cg);
	for (;;) {
		long long quota = -1, period = 0;
		char *slash;
		bool got;

		if (v2) {
			snprintf(file, sizeof(file), "%s/cpu.max", dir);
			got = read_two(file, "%lld %lld", &quota, &period);
		} else {
			snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
			got = read_one(file, &quota);
			snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
			got = got && read_one(file, &period);
		}
		/* "max" (v2) fails the scan and -1 (v1) is no quota. */
		if (got && quota > 0 && period > 0) {
			unsigned n = (unsigned)((quota + period - 1) / period);

			if (!best || n < best)
				best = n;
		}
		if (strlen(dir) <= strlen(mnt))
			break;
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return best;
}

unsigned cpus_usable(void)
{
	unsigned n = 1, quota;
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		n = (unsigned)CPU_COUNT(&set);
	quota = quota_cpus(true);
	if (!quota)
		quota = quota_cpus(false);
	return quota && quota < n ? quota : n;
}
