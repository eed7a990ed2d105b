/* core/server/pidfile.c - the master's pid file: checked before anything is bound, so that a
 * directory warren cannot write to, or a file naming a master that still runs, stops
 * start-up (and -t) with the reason instead of leaving "warren -s" unable to find the
 * server; written through a fresh temporary file, so no link planted there is followed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/pidfile.h"

/* Creates "@path.XXXXXX" with O_EXCL, so it is a new file and never a link's target. */
static int create_temp(const char *path, char *tmp, size_t size)
{
	int fd;

	if ((size_t)snprintf(tmp, size, "%s.XXXXXX", path) >= size)
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int pidfile_write(const char *path, const char *text)
{
	size_t len = strlen(text);
	char tmp[PATH_MAX + 8];
	int fd, ret = 0;

	fd = create_temp(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	if (fchmod(fd, 0644) < 0)
		ret = -errno;
	else if (write(fd, text, len) != (ssize_t)len)
		ret = -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* The command name of @pid ("self" for this process), or an empty string. */
static void comm_of(const char *pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * A second master started with the same config would take the pid file over and leave
 * the first one unreachable by "warren -s". A pid that is gone, or now belongs to some
 * other program, is stale and simply replaced.
 */
static int check_running(const char *path, struct warren_error *err)
{
	char mine[64], theirs[64], id[24];
	FILE *f = fopen(path, "re");
	int pid = 0, n;

	if (!f)
		return 0;
	n = fscanf(f, "%d", &pid);
	fclose(f);
	if (n != 1 || pid <= 1 || pid == (int)getpid() || (kill(pid, 0) < 0 && errno == ESRCH))
		return 0;
	snprintf(id, sizeof(id), "%d", pid);
	comm_of(id, theirs, sizeof(theirs));
	comm_of("self", mine, sizeof(mine));
	if (!*theirs || strcmp(mine, theirs) != 0)
		return 0;
	warren_error_set(err,
			 "pid_file: %s names pid %d, a master that is still running; stop it "
			 "first (warren -s stop), or remove the file if that process is not warren",
			 path, pid);
	return -EEXIST;
}

int pidfile_check(const struct config *cfg, bool test_only, struct warren_error *err)
{
	char tmp[PATH_MAX + 8];
	int fd;

	if (!cfg->pid_file)
		return 0;
	if (!test_only) {
		fd = check_running(cfg->pid_file, err);
		if (fd < 0)
			return fd;
	}
	/* Trying is the only reliable test: access() knows nothing of read-only mounts. */
	fd = create_temp(cfg->pid_file, tmp, sizeof(tmp));
	if (fd < 0) {
		warren_error_set(err, "pid_file: cannot create %s: %s", cfg->pid_file,
				 strerror(-fd));
		return fd;
	}
	close(fd);
	unlink(tmp);
	return 0;
}
