/* Error, logging and filesystem helpers for the worker layer (number parsing: src/cli). */
#define _GNU_SOURCE /* fallocate, FALLOC_FL_KEEP_SIZE */
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

void log0(const comm_t *c, const char *fmt, ...)
{
    if (c && c->rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* comm_agree, letting only documented exit codes out: a helper's -1, or the MPI error code
 * comm_agree returns when agreeing itself failed, is a runtime failure (1) */
static int agree_code(comm_t *c, int status, int *first)
{
    int g = comm_agree(c, status, first);
    return g < 0 || g > NT_EXIT_INPUT ? NT_EXIT_RUNTIME : g;
}

int nt_agree_quiet(comm_t *c, int status, nt_err *e)
{
    int first;
    int g = agree_code(c, status, &first);
    if (g != 0 && first >= 0 && comm_bcast_bytes(c, e->msg, sizeof e->msg, first) != MPI_SUCCESS)
        snprintf(e->msg, sizeof e->msg, "failure on rank %d", first);
    return g;
}

int nt_agree(comm_t *c, int status, const nt_err *e)
{
    int first;
    int g = agree_code(c, status, &first);
    if (g != 0 && c->rank == first) {
        fprintf(stderr, "nntrain: error: %s\n",
                e && e->msg[0] ? e->msg : "failure on another rank");
        fflush(stderr);
    }
    return g;
}

double nt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int nt_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int nt_mkdirs(const char *path, nt_err *e)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return nt_fail(e, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return nt_fail(e, "%s: cannot create directory: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return nt_fail(e, "%s: not a directory", path);
    return 0;
}

volatile sig_atomic_t nt_stop_signal = 0;

/* the marker file a stop signal leaves (nt_set_signal_mark); written in the handler */
static char signal_mark[PATH_MAX + 32];
static volatile sig_atomic_t signal_mark_set = 0;

void nt_set_signal_mark(const char *path)
{
    signal_mark_set = 0;
    if (!path) return;
    snprintf(signal_mark, sizeof signal_mark, "%s", path);
    signal_mark_set = 1;
}

static void on_signal(int sig)
{
    if (signal_mark_set) { /* open and close are async-signal-safe */
        int saved = errno, fd = open(signal_mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
        errno = saved;
    }
    if (sig == SIGTERM && nt_stop_signal) {
        /* second SIGTERM: leave now (async-signal-safe calls only) */
        static const char msg[] = "nntrain: second SIGTERM, exiting without a checkpoint\n";
        ssize_t r = write(2, msg, sizeof msg - 1);
        (void)r;
        _exit(143);
    }
    nt_stop_signal = sig;
}

void nt_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

void nt_write_status(const comm_t *c, const char *dir, const char *fmt, ...)
{
    if (c->rank != 0 || !dir || !dir[0]) return;
    char line[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    nt_write_status_line(dir, "status.tmp", line);
}

void nt_write_status_line(const char *dir, const char *tmp_name, const char *line)
{
    char tmp[4200], path[4200];
    snprintf(path, sizeof path, "%s/status", dir);
    snprintf(tmp, sizeof tmp, "%s/%s", dir, tmp_name);
    FILE *f = fopen(tmp, "w");
    if (!f) return; /* the status file is advisory; the run itself must not fail over it */
    fprintf(f, "%s\n", line);
    if (fclose(f) == 0) rename(tmp, path);
    else remove(tmp);
}

int nt_disk_free(const char *dir, uint64_t *bytes)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return errno;
    /* root may also fill the blocks kept back for it */
    *bytes = (uint64_t)(geteuid() == 0 ? v.f_bfree : v.f_bavail) * (uint64_t)v.f_frsize;
    return 0;
}

int nt_disk_reserve(const char *path, uint64_t bytes)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0) return errno;
    int err = 0;
    if (bytes > 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) != 0) err = errno;
    if (err == ENOSYS || err == EINVAL) err = EOPNOTSUPP; /* this file system cannot */
    if (close(fd) != 0 && !err) err = errno;
    return err;
}

int nt_fsync_file(const char *path)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) return errno;
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : 0;
    /* give back what nt_disk_reserve held beyond the end */
    if (!err && ftruncate(fd, st.st_size) != 0) err = errno;
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    return err;
}

int nt_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return errno;
    /* some file systems cannot fsync a directory (EINVAL): their renames are as durable as
     * they get */
    int err = fsync(fd) != 0 && errno != EINVAL ? errno : 0;
    if (close(fd) != 0 && !err) err = errno;
    return err;
}
