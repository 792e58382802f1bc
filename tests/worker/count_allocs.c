/* LD_PRELOAD helper for tests/worker/allocs.sh: counts heap allocations (malloc, calloc,
 * realloc, aligned_alloc, posix_memalign, memalign) made on the process's main thread (the
 * training thread), split by who called: the MPI runtime (any frame of the call stack in libmpi,
 * libopen-pal, libopen-rte, Open MPI's mca_* components, PMIx, libevent or hwloc) or anything
 * else (nntrain, HDF5, OpenBLAS, libc); allocations on other threads (MPI's and PMIx's progress threads, the
 * watchdog) are counted apart. At exit appends "<pid> <other> <mpi> <other-threads>" to
 * $COUNT_ALLOCS_OUT. Not part of nntrain. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic long long other, mpi, threads;
static pid_t main_tid;
static __thread int inside; /* dladdr may allocate */

static int runtime_lib(const void *addr)
{
    Dl_info info;
    const char *f = dladdr(addr, &info) && info.dli_fname ? info.dli_fname : "";
    return strstr(f, "libmpi") || strstr(f, "libopen-pal") || strstr(f, "libopen-rte") ||
           strstr(f, "openmpi") || strstr(f, "pmix") || strstr(f, "libevent") || strstr(f, "hwloc");
}

/* MPI's when any frame of the call stack is in the MPI runtime (it also allocates through
 * libc, e.g. name lookups), else the training code's. */
static void count(const void *caller)
{
    if (inside) return;
    if (main_tid && gettid() != main_tid) {
        atomic_fetch_add(&threads, 1);
        return;
    }
    inside = 1;
    int in_mpi = runtime_lib(caller);
    if (!in_mpi) {
        void *frames[32];
        int n = backtrace(frames, 32);
        for (int i = 0; i < n && !in_mpi; i++) in_mpi = runtime_lib(frames[i]);
    }
    atomic_fetch_add(in_mpi ? &mpi : &other, 1);
    inside = 0;
}

#define CALLER __builtin_return_address(0)
void *malloc(size_t s) { count(CALLER); return __libc_malloc(s); }
void *calloc(size_t a, size_t b) { count(CALLER); return __libc_calloc(a, b); }
void *realloc(void *p, size_t s) { count(CALLER); return __libc_realloc(p, s); }
void *aligned_alloc(size_t a, size_t s) { count(CALLER); return __libc_memalign(a, s); }
void *memalign(size_t a, size_t s) { count(CALLER); return __libc_memalign(a, s); }
int posix_memalign(void **p, size_t a, size_t s)
{
    count(CALLER);
    *p = __libc_memalign(a, s);
    return *p ? 0 : 12;
}

__attribute__((constructor)) static void start(void) { main_tid = getpid(); }

__attribute__((destructor)) static void report(void)
{
    const char *out = getenv("COUNT_ALLOCS_OUT");
    if (!out || !*out) return;
    FILE *f = fopen(out, "a");
    if (!f) return;
    fprintf(f, "%d %lld %lld %lld\n", (int)getpid(), (long long)atomic_load(&other), (long long)atomic_load(&mpi),
            (long long)atomic_load(&threads));
    fclose(f);
}
