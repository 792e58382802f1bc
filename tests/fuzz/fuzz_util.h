/* Shared by the fuzz harnesses (tests/fuzz/README in the top README's Tests section):
 * the input bytes go to a per-process temporary file; the MPI harnesses start a singleton
 * MPI (no mpirun) once; after every input no HDF5 identifier may be left open (a leaked
 * hid_t is a leak LeakSanitizer cannot see: HDF5 keeps it reachable). */
#ifndef NT_FUZZ_UTIL_H
#define NT_FUZZ_UTIL_H
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
/* HDF5 allocates what a malformed file declares (a metadata entry of 2^62 bytes): a failing
 * malloc it handles is no finding, so malloc returns NULL instead of aborting the run
 * (libFuzzer's -malloc_limit_mb still reports allocations above its limit). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
/* HDF5 1.10.8 leaks in H5Fopen on some malformed files (H5G_mkroot -> H5O_protect, seen
 * in the first runs): memory HDF5 allocated is not reported. What nntrain leaves open
 * through HDF5 is still found, by fz_ids_check. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5_openmpi.so\n"; }
#endif
#endif

/* Writes data to a file named after this process and `tag` (e.g. "model.h5"); returns its
 * path (static) or aborts: a harness that cannot write its input tests nothing. */
static inline const char *fz_write(const uint8_t *data, size_t size, const char *tag)
{
    static char path[256];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/ntfuzz-%ld-%s", dir && *dir ? dir : "/tmp", (long)getpid(), tag);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
    return path;
}

/* Open HDF5 identifiers of the kinds a reader creates, counted per kind. */
enum { FZ_NKINDS = 6 };
static const H5I_type_t fz_kinds[FZ_NKINDS] = {H5I_FILE, H5I_GROUP, H5I_DATATYPE,
                                               H5I_DATASPACE, H5I_DATASET, H5I_ATTR};
static const char *const fz_kind_names[FZ_NKINDS] = {"file", "group", "datatype",
                                                     "dataspace", "dataset", "attribute"};
static hsize_t fz_baseline[FZ_NKINDS];

static inline void fz_count_ids(hsize_t n[FZ_NKINDS])
{
    for (int i = 0; i < FZ_NKINDS; i++) {
        n[i] = 0;
        if (H5Inmembers(fz_kinds[i], &n[i]) < 0) n[i] = 0;
    }
}

/* Call once after start-up (HDF5 holds predefined datatypes open). */
static inline void fz_ids_baseline(void)
{
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the code under test reports its errors */
    fz_count_ids(fz_baseline);
}

/* Aborts (a finding) when an input left HDF5 identifiers open. */
static inline void fz_ids_check(const char *where)
{
    hsize_t n[FZ_NKINDS];
    fz_count_ids(n);
    for (int i = 0; i < FZ_NKINDS; i++)
        if (n[i] != fz_baseline[i]) {
            fprintf(stderr, "fuzz: %s left %lld HDF5 %s identifier(s) open\n", where,
                    (long long)n[i] - (long long)fz_baseline[i], fz_kind_names[i]);
            abort();
        }
}

/* With NT_FUZZ_VERBOSE set: one line per step of a harness, its result and message (to see
 * which steps a corpus file gets through). */
static inline void fz_note(const char *step, int rc, const char *msg)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("NT_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "  %s: %s%s%s\n", step, rc ? "error" : "ok", rc ? ": " : "", rc ? msg : "");
}

#endif
