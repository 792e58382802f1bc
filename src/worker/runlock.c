/* The run-directory lock (runlock.h). fcntl (POSIX record) locks rather than flock: NFS
 * forwards them to the server's lock manager (lockd, or NFSv4's own), so runs on different
 * nodes exclude each other too. Their one trap: closing *any* descriptor of the file releases
 * the process's lock, so nothing else in nntrain opens .lock. */
#define _GNU_SOURCE
#include "runlock.h"
#include "util.h" /* nt_mkdirs */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The holder's "host H pid P" from fd into host, pid ("?" each when unreadable). The holder
 * writes it just after locking: a file read in between is empty, so read again for a while. */
static void read_holder(int fd, char *host, size_t hostlen, char *pid, size_t pidlen)
{
    snprintf(host, hostlen, "?");
    snprintf(pid, pidlen, "?");
    for (int tries = 0; tries < 50; tries++) {
        char buf[512], h[256], p[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        if (sscanf(buf, "host %255s pid %31[0-9]", h, p) == 2) {
            snprintf(host, hostlen, "%s", h);
            snprintf(pid, pidlen, "%s", p);
            return;
        }
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL); /* 20 ms, up to 1 s */
    }
}

int nt_run_lock(const char *dir, nt_err *e)
{
    char path[PATH_MAX + 8];
    if (nt_mkdirs(dir, e)) return -1;
    if (snprintf(path, sizeof path, "%s/.lock", dir) >= (int)sizeof path)
        return nt_fail(e, "%s: path too long", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return nt_fail(e, "%s: cannot create the run's lock file: %s", path, strerror(errno));
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &l) != 0) {
        const int err = errno;
        if (err == EACCES || err == EAGAIN) {
            char host[256], pid[32];
            read_holder(fd, host, sizeof host, pid, sizeof pid);
            close(fd);
            return nt_fail(e, "%s: another run (host %s, pid %s) is using this output directory; "
                           "wait for it to end, or choose another [output] dir", dir, host, pid);
        }
        close(fd); /* ENOLCK, EOPNOTSUPP, ...: a file system without locks */
        nt_fail(e, "%s: cannot lock (%s); a second run into %s would not be refused", path,
                strerror(err), dir);
        return -2;
    }
    char host[256] = "?", line[320];
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "?");
    host[sizeof host - 1] = 0;
    int n = snprintf(line, sizeof line, "host %s pid %ld\n", host, (long)getpid());
    /* only the refusal's message reads it: a failed write (disk full) costs nothing else */
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) { /* nothing to do */ }
    return fd;
}

void nt_run_unlock(int fd)
{
    if (fd >= 0) close(fd);
}

int nt_run_lock_holder(const char *dir, char *host, size_t hostlen, char *pid, size_t pidlen)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    const int held = fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK;
    if (held) read_holder(fd, host, hostlen, pid, pidlen);
    close(fd);
    return held;
}
