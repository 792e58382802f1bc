/* LD_PRELOAD helper for tests/worker/row_cache.sh: counts the bytes this process reads from
 * files whose path ends in $COUNT_READS_SUFFIX (through read, pread, pread64, preadv, preadv64
 * and readv; MPI-IO's ROMIO and nntrain's reader thread use pread), and at exit appends
 * "<pid> <bytes>" to $COUNT_READS_OUT. Not part of nntrain. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static _Atomic long long counted;

static int watched(int fd)
{
    const char *suffix = getenv("COUNT_READS_SUFFIX");
    char link[64], path[PATH_MAX];
    if (!suffix || !*suffix) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    size_t ls = strlen(suffix);
    return (size_t)n >= ls && !strcmp(path + n - ls, suffix);
}

static void add(int fd, ssize_t r)
{
    if (r > 0 && watched(fd)) atomic_fetch_add(&counted, (long long)r);
}

#define REAL(name, ...) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)

ssize_t read(int fd, void *buf, size_t n)
{
    REAL(read);
    ssize_t r = real(fd, buf, n);
    add(fd, r);
    return r;
}
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    REAL(pread);
    ssize_t r = real(fd, buf, n, off);
    add(fd, r);
    return r;
}
ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
    REAL(pread64);
    ssize_t r = real(fd, buf, n, off);
    add(fd, r);
    return r;
}
ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    REAL(readv);
    ssize_t r = real(fd, iov, cnt);
    add(fd, r);
    return r;
}
ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(preadv);
    ssize_t r = real(fd, iov, cnt, off);
    add(fd, r);
    return r;
}
ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    REAL(preadv64);
    ssize_t r = real(fd, iov, cnt, off);
    add(fd, r);
    return r;
}

__attribute__((destructor)) static void report(void)
{
    const char *out = getenv("COUNT_READS_OUT");
    if (!out || !*out) return;
    FILE *f = fopen(out, "a");
    if (!f) return;
    fprintf(f, "%d %lld\n", (int)getpid(), (long long)atomic_load(&counted));
    fclose(f);
}
