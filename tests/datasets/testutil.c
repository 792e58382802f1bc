/* Test helpers for the dataset tests (see testutil.h): temp dirs (also as cmocka setup /
 * teardown), subprocesses with captured output, running nndata and checking its output and
 * error line, raw and gzip file writing, and an HDF5 read-back of the /X, /y layout (labels or
 * regression targets). */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    size_t len = strlen(base) + sizeof "/nndata-test-XXXXXX";
    char *dir = malloc(len);
    assert_non_null(dir);
    snprintf(dir, len, "%s/nndata-test-XXXXXX", base);
    if (!mkdtemp(dir)) fail_msg("mkdtemp %s: %s", dir, strerror(errno));
    return dir;
}

void tu_rmtree(const char *dir)
{
    const char *argv[] = {"/bin/rm", "-rf", "--", dir, NULL};
    char out[64], err[256];
    assert_int_equal(tu_run(argv, NULL, out, sizeof out, err, sizeof err), 0);
}

/* Every path ever returned, freed at exit: tests hold several paths at once, so a rotating
 * static buffer would be overwritten under them. */
static char **paths;
static size_t npaths;

static void free_paths(void)
{
    for (size_t i = 0; i < npaths; i++) free(paths[i]);
    free(paths);
}

const char *tu_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    char **grown = realloc(paths, (npaths + 1) * sizeof *paths);
    assert_non_null(p);
    assert_non_null(grown);
    if (npaths == 0) atexit(free_paths);
    paths = grown;
    paths[npaths++] = p;
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

/* Read a captured output file into buf (NUL-terminated, truncated to fit). */
static void slurp(int fd, char *buf, size_t len)
{
    size_t got = 0;
    if (lseek(fd, 0, SEEK_SET) < 0) fail_msg("lseek: %s", strerror(errno));
    while (got + 1 < len) {
        ssize_t r = read(fd, buf + got, len - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    buf[got] = '\0';
}

/* An unlinked temp file to capture a child's stream. */
static int capture_fd(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/nndata-out-XXXXXX", base && base[0] ? base : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0) fail_msg("mkstemp: %s", strerror(errno));
    unlink(tmpl);
    return fd;
}

int tu_run(const char *const argv[], const char *env_set, char *out, size_t outlen,
           char *errout, size_t errlen)
{
    int ofd = capture_fd(), efd = capture_fd();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        if (dup2(ofd, 1) < 0 || dup2(efd, 2) < 0) _exit(126);
        if (env_set) {
            char *copy = strdup(env_set), *eq = copy ? strchr(copy, '=') : NULL;
            if (!eq) _exit(126);
            *eq = '\0';
            if (setenv(copy, eq + 1, 1) != 0) _exit(126);
        }
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) fail_msg("waitpid: %s", strerror(errno));
    }
    slurp(ofd, out, outlen);
    slurp(efd, errout, errlen);
    close(ofd);
    close(efd);
    if (!WIFEXITED(status)) fail_msg("%s did not exit normally (status 0x%x)", argv[0], status);
    return WEXITSTATUS(status);
}

int tu_setup_tmpdir(void **state)
{
    *state = tu_mkdtemp();
    return 0;
}

int tu_teardown_tmpdir(void **state)
{
    tu_rmtree(*state);
    free(*state);
    return 0;
}

char tu_out[TU_OUT_SIZE], tu_err[TU_ERR_SIZE];

int tu_capture(const char *const argv[], const char *env_set)
{
    return tu_run(argv, env_set, tu_out, sizeof tu_out, tu_err, sizeof tu_err);
}

static const char *nndata_path;

void tu_set_nndata(const char *path) { nndata_path = path; }

const char *tu_nndata_path(void)
{
    if (!nndata_path) fail_msg("tu_set_nndata was not called");
    return nndata_path;
}

int tu_nndata(const char *a0, ...)
{
    const char *argv[16] = {tu_nndata_path(), a0};
    int argc = a0 ? 2 : 1;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0 ? va_arg(ap, const char *) : NULL; a; a = va_arg(ap, const char *)) {
        assert_true(argc < 15);
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    return tu_capture(argv, NULL);
}

/* stderr is one line: ends in its only newline. */
static void expect_one_line(void)
{
    char *nl = strchr(tu_err, '\n');
    if (!nl || nl[1] != '\0') fail_msg("stderr is not exactly one line: %s", tu_err);
}

void tu_expect_one_error(const char *what)
{
    if (strncmp(tu_err, "nndata: error: ", 15) != 0) fail_msg("stderr: %s", tu_err);
    expect_one_line();
    if (!strstr(tu_err, what)) fail_msg("stderr %s lacks \"%s\"", tu_err, what);
}

void tu_expect_error_line(const char *culprit, const char *what)
{
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "nndata: error: %s: ", culprit);
    if (strncmp(tu_err, prefix, strlen(prefix)) != 0)
        fail_msg("stderr %s does not start with \"%s\"", tu_err, prefix);
    expect_one_line();
    if (what && !strstr(tu_err, what)) fail_msg("stderr %s lacks \"%s\"", tu_err, what);
}

void tu_expect_usage(const char *msg)
{
    char want[4200];
    snprintf(want, sizeof want, "nndata: error: %s\n", msg);
    if (strcmp(tu_err, want) != 0) fail_msg("stderr %s, expected %s", tu_err, want);
}

void tu_expect_out(const char *what)
{
    if (!strstr(tu_out, what)) fail_msg("stdout lacks \"%s\":\n%s", what, tu_out);
}

void tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("%s: %s", path, strerror(errno));
    if (len && fwrite(data, 1, len, f) != len) fail_msg("%s: short write", path);
    if (fclose(f) != 0) fail_msg("%s: close: %s", path, strerror(errno));
}

void tu_write_gz(const char *path, const void *data, size_t len)
{
    gzFile f = gzopen(path, "wb");
    if (!f) fail_msg("%s: gzopen failed", path);
    if (len && gzwrite(f, data, (unsigned)len) != (int)len) fail_msg("%s: gzwrite", path);
    if (gzclose(f) != Z_OK) fail_msg("%s: gzclose", path);
}

void *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, got = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        size_t r = fread(buf + got, 1, cap - got, f);
        got += r;
        if (got < cap) break;
        cap *= 2;
        buf = realloc(buf, cap);
        assert_non_null(buf);
    }
    fclose(f);
    *len = got;
    return buf;
}

int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Open PATH and read /X and /X@scale into s (zeroed first); returns the open file. */
static hid_t read_x(const char *path, struct tu_set *s)
{
    memset(s, 0, sizeof *s);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) fail_msg("%s: cannot open as HDF5", path);

    hid_t xs = H5Dopen2(file, "X", H5P_DEFAULT);
    if (xs < 0) fail_msg("%s: no /X", path);
    hid_t xsp = H5Dget_space(xs);
    assert_true(xsp >= 0);
    assert_int_equal(H5Sget_simple_extent_ndims(xsp), 2);
    hsize_t dims[2], maxdims[2];
    assert_int_equal(H5Sget_simple_extent_dims(xsp, dims, maxdims), 2);
    s->n = (int64_t)dims[0];
    s->d = (int64_t)dims[1];
    s->unlimited_rows = maxdims[0] == H5S_UNLIMITED;
    hid_t xt = H5Dget_type(xs);
    assert_true(xt >= 0);
    if (H5Tequal(xt, H5T_STD_U8LE) > 0)
        s->is_u8 = 1;
    else if (H5Tequal(xt, H5T_IEEE_F32LE) > 0)
        s->is_u8 = 0;
    else
        fail_msg("%s: /X is neither uint8 nor float32 LE", path);
    H5Tclose(xt);

    hid_t dcpl = H5Dget_create_plist(xs);
    assert_true(dcpl >= 0);
    assert_int_equal(H5Pget_layout(dcpl), H5D_CHUNKED);
    hsize_t chunk[2];
    assert_int_equal(H5Pget_chunk(dcpl, 2, chunk), 2);
    assert_int_equal(chunk[1], dims[1]);
    s->chunk_rows = (int64_t)chunk[0];
    assert_int_equal(H5Pget_nfilters(dcpl), 0); /* no compression */
    H5Pclose(dcpl);

    size_t elem = s->is_u8 ? 1 : 4;
    size_t count = (size_t)(s->n * s->d);
    s->x = malloc(count ? count * elem : 1);
    assert_non_null(s->x);
    if (count)
        assert_true(H5Dread(xs, s->is_u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, H5S_ALL,
                            H5S_ALL, H5P_DEFAULT, s->x) >= 0);

    htri_t has = H5Aexists(xs, "scale");
    assert_true(has >= 0);
    s->has_scale = has > 0;
    if (s->has_scale) {
        hid_t a = H5Aopen(xs, "scale", H5P_DEFAULT);
        assert_true(a >= 0);
        hid_t at = H5Aget_type(a);
        assert_true(H5Tequal(at, H5T_IEEE_F32LE) > 0);
        H5Tclose(at);
        assert_true(H5Aread(a, H5T_NATIVE_FLOAT, &s->scale) >= 0);
        H5Aclose(a);
    }
    H5Sclose(xsp);
    H5Dclose(xs);
    return file;
}

void tu_read_set(const char *path, struct tu_set *s)
{
    hid_t file = read_x(path, s);
    hid_t ys = H5Dopen2(file, "y", H5P_DEFAULT);
    if (ys < 0) fail_msg("%s: no /y", path);
    hid_t ysp = H5Dget_space(ys);
    assert_int_equal(H5Sget_simple_extent_ndims(ysp), 1);
    hsize_t ny;
    assert_int_equal(H5Sget_simple_extent_dims(ysp, &ny, NULL), 1);
    assert_int_equal(ny, s->n);
    hid_t yt = H5Dget_type(ys);
    s->y_is_i32le = H5Tequal(yt, H5T_STD_I32LE) > 0;
    H5Tclose(yt);
    s->y = malloc(ny ? ny * sizeof *s->y : 1);
    assert_non_null(s->y);
    if (ny)
        assert_true(H5Dread(ys, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->y) >= 0);
    H5Sclose(ysp);
    H5Dclose(ys);
    assert_true(H5Fclose(file) >= 0);
}

void tu_read_regression(const char *path, struct tu_set *s)
{
    hid_t file = read_x(path, s);
    hid_t ys = H5Dopen2(file, "y", H5P_DEFAULT);
    if (ys < 0) fail_msg("%s: no /y", path);
    hid_t ysp = H5Dget_space(ys);
    assert_true(ysp >= 0);
    if (H5Sget_simple_extent_ndims(ysp) != 2) fail_msg("%s: /y is not 2-D", path);
    hsize_t dims[2], maxdims[2];
    assert_int_equal(H5Sget_simple_extent_dims(ysp, dims, maxdims), 2);
    assert_int_equal(dims[0], s->n);
    s->k = (int64_t)dims[1];
    s->y_unlimited_rows = maxdims[0] == H5S_UNLIMITED;
    hid_t yt = H5Dget_type(ys);
    assert_true(yt >= 0);
    s->y_is_f32le = H5Tequal(yt, H5T_IEEE_F32LE) > 0;
    H5Tclose(yt);

    hid_t dcpl = H5Dget_create_plist(ys);
    assert_true(dcpl >= 0);
    assert_int_equal(H5Pget_layout(dcpl), H5D_CHUNKED);
    hsize_t chunk[2];
    assert_int_equal(H5Pget_chunk(dcpl, 2, chunk), 2);
    assert_int_equal(chunk[1], dims[1]);
    s->y_chunk_rows = (int64_t)chunk[0];
    assert_int_equal(H5Pget_nfilters(dcpl), 0);
    H5Pclose(dcpl);

    size_t count = (size_t)(dims[0] * dims[1]);
    s->yf = malloc(count ? count * sizeof *s->yf : 1);
    assert_non_null(s->yf);
    if (count)
        assert_true(H5Dread(ys, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->yf) >= 0);
    H5Sclose(ysp);
    H5Dclose(ys);
    assert_true(H5Fclose(file) >= 0);
}

void tu_free_set(struct tu_set *s)
{
    free(s->x);
    free(s->y);
    free(s->yf);
    s->x = NULL;
    s->y = NULL;
    s->yf = NULL;
}
