/* End-to-end tests of the nndata CLI (binary path in argv[1]): import-idx round trips from IDX
 * files written here (plain and gzip); malformed inputs and bad arguments (exit code, one error
 * line naming the culprit, no OUT left, an existing OUT unchanged); make-moons/make-circles;
 * make-regression (compared with gen_regression called directly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "testutil.h"

#ifndef NN_VERSION
#error "NN_VERSION must be defined by the build"
#endif

/* ---- IDX file construction ---------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Header (magic + dims) followed by payload; returns malloc'd bytes, *len their count. */
static uint8_t *idx_bytes(uint32_t magic, int ndim, const uint32_t *dims, const uint8_t *data,
                          size_t datalen, size_t *len)
{
    *len = 4 + 4 * (size_t)ndim + datalen;
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    put_be32(b, magic);
    for (int i = 0; i < ndim; i++) put_be32(b + 4 + 4 * i, dims[i]);
    memcpy(b + 4 + 4 * ndim, data, datalen);
    return b;
}

struct synth {
    uint32_t n, rows, cols;
    uint8_t *pix, *lab;
};

/* Deterministic pseudo-random pixels and labels 0..classes-1 (an LCG is enough here). */
static struct synth synth_make(uint32_t n, uint32_t rows, uint32_t cols, int classes)
{
    struct synth s = {n, rows, cols, malloc((size_t)n * rows * cols + 1), malloc(n + 1)};
    assert_non_null(s.pix);
    assert_non_null(s.lab);
    uint32_t st = 12345;
    for (size_t i = 0; i < (size_t)n * rows * cols; i++) {
        st = st * 1664525u + 1013904223u;
        s.pix[i] = (uint8_t)(st >> 24);
    }
    for (uint32_t i = 0; i < n; i++) s.lab[i] = (uint8_t)((i * 7 + i / 3) % (uint32_t)classes);
    return s;
}

static void synth_free(struct synth *s)
{
    free(s->pix);
    free(s->lab);
}

/* Write s as IDX image and label files (gz or plain); truncate_by drops bytes from the end of
 * the (uncompressed) image file. */
static void write_idx(const struct synth *s, const char *img, const char *lab, int gz,
                      size_t truncate_by)
{
    uint32_t idims[3] = {s->n, s->rows, s->cols};
    size_t ilen, llen;
    uint8_t *ib = idx_bytes(0x803, 3, idims, s->pix, (size_t)s->n * s->rows * s->cols, &ilen);
    uint8_t *lb = idx_bytes(0x801, 1, &s->n, s->lab, s->n, &llen);
    assert_true(truncate_by <= ilen);
    (gz ? tu_write_gz : tu_write_file)(img, ib, ilen - truncate_by);
    (gz ? tu_write_gz : tu_write_file)(lab, lb, llen);
    free(ib);
    free(lb);
}

static void check_import(const char *dir, const struct synth *s, const char *img,
                         const char *lab, int classes)
{
    const char *out = tu_path(dir, "out.h5");
    int rc = tu_nndata("import-idx", img, lab, out, NULL);
    if (rc != 0) fail_msg("import-idx failed (%d): %s", rc, tu_err);
    char want[4300];
    snprintf(want, sizeof want, "%s: %u x %u uint8, %d classes\n", out, s->n,
             s->rows * s->cols, classes);
    assert_string_equal(tu_out, want);
    assert_string_equal(tu_err, "");

    struct tu_set set;
    tu_read_set(out, &set);
    assert_int_equal(set.n, s->n);
    assert_int_equal(set.d, s->rows * s->cols);
    assert_true(set.is_u8);
    assert_true(set.y_is_i32le);
    assert_true(set.has_scale);
    assert_true(set.scale == 1.0f / 255.0f);
    assert_memory_equal(set.x, s->pix, (size_t)s->n * s->rows * s->cols);
    for (uint32_t i = 0; i < s->n; i++) assert_int_equal(set.y[i], s->lab[i]);
    tu_free_set(&set);
    assert_false(tu_exists(tu_path(dir, "out.h5.tmp")));
}

static void test_import_plain(void **state)
{
    struct synth s = synth_make(7, 3, 5, 4);
    const char *img = tu_path(*state, "img.idx"), *lab = tu_path(*state, "lab.idx");
    write_idx(&s, img, lab, 0, 0);
    check_import(*state, &s, img, lab, 4);
    synth_free(&s);
}

static void test_import_gz(void **state)
{
    struct synth s = synth_make(2000, 28, 28, 10);
    const char *img = tu_path(*state, "img.gz"), *lab = tu_path(*state, "lab.gz");
    write_idx(&s, img, lab, 1, 0);
    check_import(*state, &s, img, lab, 10);
    synth_free(&s);
}

/* Mixed: gzipped images, plain labels; N = 1 image of 1 x 1. */
static void test_import_mixed_tiny(void **state)
{
    struct synth s = synth_make(1, 1, 1, 1);
    const char *img = tu_path(*state, "img.gz"), *lab = tu_path(*state, "lab.idx");
    const char *tmp = tu_path(*state, "lab-gz-unused.gz");
    write_idx(&s, img, tmp, 1, 0);
    write_idx(&s, tu_path(*state, "img-plain-unused"), lab, 0, 0);
    check_import(*state, &s, img, lab, 1);
    synth_free(&s);
}

/* ---- malformed inputs ------------------------------------------------------------------------ */

/* import-idx must fail with code 3 (bad input) and an error naming `culprit`; OUT must not exist
 * afterwards; then again with a pre-existing OUT, which must be left byte-for-byte. */
static void expect_import_fails(const char *dir, const char *img, const char *lab,
                                const char *culprit, const char *what)
{
    const char *out = tu_path(dir, "bad-out.h5");
    assert_int_equal(tu_nndata("import-idx", img, lab, out, NULL), 3);
    tu_expect_error_line(culprit, what);
    assert_string_equal(tu_out, "");
    assert_false(tu_exists(out));
    assert_false(tu_exists(tu_path(dir, "bad-out.h5.tmp")));

    const char *keep = tu_path(dir, "keep.h5");
    tu_write_file(keep, "precious", 8);
    assert_int_equal(tu_nndata("import-idx", img, lab, keep, NULL), 3);
    tu_expect_error_line(culprit, what);
    size_t len;
    char *now = tu_read_file(keep, &len);
    assert_non_null(now);
    assert_int_equal(len, 8);
    assert_memory_equal(now, "precious", 8);
    free(now);
    assert_false(tu_exists(tu_path(dir, "keep.h5.tmp")));
}

static void test_truncated(void **state)
{
    struct synth s = synth_make(20, 4, 4, 3);
    for (int gz = 0; gz < 2; gz++) {
        const char *img = tu_path(*state, gz ? "t.gz" : "t.idx");
        const char *lab = tu_path(*state, gz ? "l.gz" : "l.idx");
        write_idx(&s, img, lab, gz, 10); /* last image short by 10 bytes */
        expect_import_fails(*state, img, lab, img, "truncated file");
        write_idx(&s, img, lab, gz, 20 * 16 + 4); /* header cut inside the dimensions */
        expect_import_fails(*state, img, lab, img, "truncated file");
        write_idx(&s, img, lab, gz, 20 * 16 + 16); /* empty file */
        expect_import_fails(*state, img, lab, img, "truncated file");
    }
    synth_free(&s);
}

/* A gzip stream cut short (the compressed file itself truncated). */
static void test_truncated_gzip_stream(void **state)
{
    struct synth s = synth_make(300, 8, 8, 3);
    const char *img = tu_path(*state, "full.gz"), *lab = tu_path(*state, "l.gz");
    write_idx(&s, img, lab, 1, 0);
    size_t len;
    char *bytes = tu_read_file(img, &len);
    assert_non_null(bytes);
    const char *cut = tu_path(*state, "cut.gz");
    tu_write_file(cut, bytes, len / 2);
    free(bytes);
    expect_import_fails(*state, cut, lab, cut, NULL);
    /* gzip magic followed by garbage: a decompression error, not silently "empty" */
    const char *bad = tu_path(*state, "corrupt.gz");
    tu_write_file(bad, "\x1f\x8b\x63\x00garbage-garbage-garbage", 27);
    expect_import_fails(*state, bad, lab, bad, "read error");
    synth_free(&s);
}

static void test_wrong_magic(void **state)
{
    struct synth s = synth_make(5, 2, 2, 2);
    const char *img = tu_path(*state, "img.idx"), *lab = tu_path(*state, "lab.idx");
    write_idx(&s, img, lab, 0, 0);
    /* labels given where images are expected and vice versa */
    expect_import_fails(*state, lab, img, lab, "bad magic 0x00000801, expected 0x00000803");
    /* float32 element type (0x0d) instead of uint8 */
    uint32_t dims[3] = {5, 2, 2};
    size_t len;
    uint8_t *b = idx_bytes(0x00000d03, 3, dims, s.pix, 20, &len);
    const char *fimg = tu_path(*state, "float.idx");
    tu_write_file(fimg, b, len);
    free(b);
    expect_import_fails(*state, fimg, lab, fimg, "bad magic");
    /* not IDX at all */
    const char *txt = tu_path(*state, "text.idx");
    tu_write_file(txt, "hello world, not an idx file", 28);
    expect_import_fails(*state, img, txt, txt, "bad magic");
    synth_free(&s);
}

static void test_count_mismatch(void **state)
{
    struct synth a = synth_make(10, 3, 3, 2), b = synth_make(9, 3, 3, 2);
    const char *img = tu_path(*state, "img.idx"), *lab = tu_path(*state, "lab.idx");
    write_idx(&a, img, tu_path(*state, "unused"), 0, 0);
    write_idx(&b, tu_path(*state, "unused2"), lab, 0, 0);
    expect_import_fails(*state, img, lab, lab, "9 labels, but");
    synth_free(&a);
    synth_free(&b);
}

static void test_trailing_data(void **state)
{
    struct synth s = synth_make(4, 2, 2, 2);
    uint32_t dims[3] = {3, 2, 2}; /* header says 3 images, 4 follow */
    size_t len;
    uint8_t *b = idx_bytes(0x803, 3, dims, s.pix, 16, &len);
    const char *img = tu_path(*state, "img.idx"), *lab = tu_path(*state, "lab.idx");
    tu_write_file(img, b, len);
    free(b);
    write_idx(&s, tu_path(*state, "unused"), lab, 0, 0);
    expect_import_fails(*state, img, lab, img, "trailing data");
    synth_free(&s);
}

static void test_nonexistent(void **state)
{
    struct synth s = synth_make(3, 2, 2, 2);
    const char *img = tu_path(*state, "img.idx"), *lab = tu_path(*state, "lab.idx");
    write_idx(&s, img, lab, 0, 0);
    const char *missing = tu_path(*state, "missing.gz");
    expect_import_fails(*state, missing, lab, missing, "cannot open: No such file");
    missing = tu_path(*state, "missing-labels.gz");
    expect_import_fails(*state, img, missing, missing, "cannot open: No such file");
    synth_free(&s);
}

/* OUT cannot be written: runtime error naming OUT. */
static void test_unwritable_out(void **state)
{
    struct synth s = synth_make(3, 2, 2, 2);
    const char *img = tu_path(*state, "img.idx"), *lab = tu_path(*state, "lab.idx");
    write_idx(&s, img, lab, 0, 0);
    const char *out = tu_path(*state, "nodir/out.h5");
    assert_int_equal(tu_nndata("import-idx", img, lab, out, NULL), 1);
    tu_expect_error_line(out, "cannot create");
    assert_int_equal(tu_nndata("make-moons", "10", out, NULL), 1);
    tu_expect_error_line(out, "cannot create");
    synth_free(&s);
}

/* ---- usage errors (exit 2) ------------------------------------------------------------------ */

/* Run a generator command that must be rejected as a usage error naming `culprit`; OUT must
 * not be created, and a pre-existing OUT must be left alone. */
static void expect_usage(const char *dir, const char *culprit, const char *msg,
                         const char *const args[])
{
    const char *out = tu_path(dir, "u.h5");
    const char *argv[16] = {tu_nndata_path()};
    int argc = 1;
    for (int i = 0; args[i]; i++) argv[argc++] = strcmp(args[i], "OUT") == 0 ? out : args[i];
    argv[argc] = NULL;
    int rc = tu_capture(argv, NULL);
    if (rc != 2) fail_msg("exit %d (want 2) for %s; stderr: %s", rc, msg ? msg : culprit, tu_err);
    if (msg) tu_expect_usage(msg);
    else tu_expect_error_line(culprit, NULL);
    assert_false(tu_exists(out));

    tu_write_file(out, "keep", 4);
    assert_int_equal(tu_capture(argv, NULL), 2);
    size_t len;
    char *now = tu_read_file(out, &len);
    assert_non_null(now);
    assert_int_equal(len, 4);
    assert_memory_equal(now, "keep", 4);
    free(now);
    tu_rmtree(out);
}

/* A bad value: "nndata: error: CULPRIT: ..." */
#define USAGE(culprit, ...)                                                                   \
    do {                                                                                      \
        const char *const a_[] = {__VA_ARGS__, NULL};                                         \
        expect_usage(*state, culprit, NULL, a_);                                              \
    } while (0)
/* A command-line error from the shared helper: exactly "nndata: error: MSG" */
#define USAGE_MSG(msg, ...)                                                                   \
    do {                                                                                      \
        const char *const a_[] = {__VA_ARGS__, NULL};                                         \
        expect_usage(*state, NULL, msg, a_);                                                  \
    } while (0)
#define TRY(cmd) " for " cmd " (try: nndata " cmd " --help)"

static void test_bad_n(void **state)
{
    const char *bad[] = {"abc", "-3", "0", "1e3x", "", " 5", "5 ", "+5", "2.5", "0x10",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        USAGE(bad[i], "make-moons", bad[i], "OUT");
        assert_non_null(strstr(tu_err, "N must be a positive integer"));
        USAGE(bad[i], "make-circles", bad[i], "OUT");
    }
}

static void test_bad_options(void **state)
{
    const char *bad_noise[] = {"-0.1", "abc", "nan", "inf", "1x", "", " 1"};
    for (size_t i = 0; i < sizeof bad_noise / sizeof bad_noise[0]; i++)
        USAGE(bad_noise[i], "make-moons", "10", "OUT", "--noise", bad_noise[i]);
    USAGE("-1", "make-circles", "10", "OUT", "--noise=-1");
    const char *bad_seed[] = {"-1", "1.5", "x", "99999999999999999999999", "", "7 "};
    for (size_t i = 0; i < sizeof bad_seed / sizeof bad_seed[0]; i++)
        USAGE(bad_seed[i], "make-moons", "10", "OUT", "--seed", bad_seed[i]);
    const char *bad_factor[] = {"1", "-0.1", "1.5", "nan", "0.5z"};
    for (size_t i = 0; i < sizeof bad_factor / sizeof bad_factor[0]; i++)
        USAGE(bad_factor[i], "make-circles", "10", "OUT", "--factor", bad_factor[i]);
    USAGE_MSG("unknown option '--factor'" TRY("make-moons"), "make-moons", "10", "OUT", "--factor",
              "0.5"); /* circles only */
    USAGE_MSG("unknown option '--bogus'" TRY("make-moons"), "make-moons", "10", "OUT", "--bogus", "1");
    USAGE_MSG("unknown option '--noi'" TRY("make-moons"), "make-moons", "10", "OUT", "--noi",
              "1"); /* no getopt abbreviations */
    USAGE_MSG("unknown option '-x'" TRY("make-circles"), "make-circles", "10", "OUT", "-x");
    USAGE_MSG("missing value after '--noise'" TRY("make-moons"), "make-moons", "10", "OUT", "--noise");
    USAGE_MSG("unknown option '--noise'" TRY("import-idx"), "import-idx", "a", "b", "OUT", "--noise",
              "1"); /* not for import */
}

static void test_bad_arity_and_command(void **state)
{
    USAGE("make-moons", "make-moons", "10");
    USAGE_MSG("unexpected argument 'extra'" TRY("make-moons"), "make-moons", "10", "OUT", "extra");
    USAGE("make-circles", "make-circles");
    USAGE("import-idx", "import-idx", "a", "OUT");
    USAGE("-3", "make-moons", "--", "-3", "OUT"); /* "--" ends the options */
    USAGE_MSG("unknown option '-3'" TRY("import-csv"), "import-csv", "-3", "OUT", "--label", "0");
    USAGE_MSG("unknown command 'frobnicate' (try: nndata --help)", "frobnicate", "OUT");
    USAGE_MSG("unknown option '--bogus' (try: nndata --help)", "--bogus", "OUT");
    assert_int_equal(tu_nndata(NULL), 2);
    tu_expect_usage("no command given (try: nndata --help)");
}

static void test_help_version(void **state)
{
    assert_int_equal(tu_nndata("--help", NULL), 0);
    assert_non_null(strstr(tu_out, "usage: nndata"));
    assert_non_null(strstr(tu_out, "make-circles"));
    assert_non_null(strstr(tu_out, "make-regression N OUT.h5 [--features D]"));
    assert_non_null(strstr(tu_out, "y = sin(pi x0) + 0.5 x1^2 + 0.25 (x2 + ... + x{D-1})"));
    assert_int_equal(tu_nndata("make-moons", "--help", NULL), 0);
    assert_non_null(strstr(tu_out, "usage: nndata"));
    assert_int_equal(tu_nndata("make-moons", "--bogus", "--help", NULL), 0); /* --help wins */
    assert_non_null(strstr(tu_out, "usage: nndata COMMAND ARGS..."));
    assert_int_equal(tu_nndata("check", "-h", NULL), 0);
    assert_string_equal(tu_out, "usage: nndata check FILE.h5\n");
    assert_int_equal(tu_nndata("make-moons", "--version", NULL), 0);
    assert_string_equal(tu_out, "nndata " NN_VERSION "\n");
    assert_int_equal(tu_nndata("--version", NULL), 0);
    assert_string_equal(tu_out, "nndata " NN_VERSION "\n");
}

/* ---- generators through the CLI ----------------------------------------------------------- */

static void test_make_moons_cli(void **state)
{
    const char *a = tu_path(*state, "a.h5"), *b = tu_path(*state, "b.h5");
    const char *c = tu_path(*state, "c.h5");
    assert_int_equal(tu_nndata("make-moons", "101", a, "--seed", "5", NULL), 0);
    char want[4300];
    snprintf(want, sizeof want, "%s: 101 x 2 float32, 2 classes\n", a);
    assert_string_equal(tu_out, want);
    assert_int_equal(tu_nndata("make-moons", "--seed=5", "101", b, "--noise", "0.1", NULL), 0);
    assert_int_equal(tu_nndata("make-moons", "101", c, "--seed", "6", NULL), 0);

    struct tu_set sa, sb, sc;
    tu_read_set(a, &sa);
    tu_read_set(b, &sb);
    tu_read_set(c, &sc);
    assert_int_equal(sa.n, 101);
    assert_int_equal(sa.d, 2);
    assert_false(sa.is_u8);
    assert_false(sa.has_scale);
    assert_true(sa.y_is_i32le);
    int zeros = 0;
    for (int i = 0; i < 101; i++) zeros += sa.y[i] == 0;
    assert_int_equal(zeros, 50);
    /* default noise is 0.1: explicit 0.1 with the same seed gives identical data */
    assert_memory_equal(sa.x, sb.x, 101 * 2 * sizeof(float));
    assert_memory_equal(sa.y, sb.y, 101 * sizeof(int32_t));
    assert_memory_not_equal(sa.x, sc.x, 101 * 2 * sizeof(float));
    tu_free_set(&sa);
    tu_free_set(&sb);
    tu_free_set(&sc);
}

static void test_make_circles_cli(void **state)
{
    const char *a = tu_path(*state, "circ.h5");
    assert_int_equal(tu_nndata("make-circles", "40", a, "--noise", "0", "--factor", "0.5", NULL),
                     0);
    struct tu_set s;
    tu_read_set(a, &s);
    assert_int_equal(s.n, 40);
    assert_int_equal(s.d, 2);
    const float *x = s.x;
    for (int i = 0; i < 40; i++) {
        double r = hypot(x[2 * i], x[2 * i + 1]);
        assert_true(fabs(r - (s.y[i] == 0 ? 1.0 : 0.5)) < 1e-5);
    }
    tu_free_set(&s);
    /* N = 1 is the smallest valid set: one point of class 1 */
    assert_int_equal(tu_nndata("make-circles", "1", a, NULL), 0);
    tu_read_set(a, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.y[0], 1);
    tu_free_set(&s);
}

/* ---- make-regression ------------------------------------------------------------------------ */

/* OUT holds gen_regression(n, d, noise, seed) as /X float32 (n, d) and /y float32 (n, 1). */
static void expect_regression(const char *out, int64_t n, int64_t d, double noise,
                              uint64_t seed)
{
    float *x = malloc((size_t)(n * d) * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    gen_regression(n, d, noise, seed, x, y);
    struct tu_set s;
    tu_read_regression(out, &s);
    assert_int_equal(s.n, n);
    assert_int_equal(s.d, d);
    assert_int_equal(s.k, 1);
    assert_false(s.is_u8);
    assert_false(s.has_scale);
    assert_true(s.y_is_f32le);
    assert_memory_equal(s.x, x, (size_t)(n * d) * sizeof *x);
    assert_memory_equal(s.yf, y, (size_t)n * sizeof *y);
    tu_free_set(&s);
    free(x);
    free(y);
}

static void test_make_regression_cli(void **state)
{
    const char *a = tu_path(*state, "reg.h5");
    char want[4300];
    /* defaults: D = 2, noise 0.1, seed 1 */
    assert_int_equal(tu_nndata("make-regression", "300", a, NULL), 0);
    snprintf(want, sizeof want, "%s: 300 x 2 float32, regression (1 target)\n", a);
    assert_string_equal(tu_out, want);
    assert_string_equal(tu_err, "");
    assert_false(tu_exists(tu_path(*state, "reg.h5.tmp")));
    expect_regression(a, 300, 2, 0.1, 1);
    /* every option, both spellings, in any position */
    assert_int_equal(
        tu_nndata("make-regression", "--features=5", "120", a, "--noise", "0", "--seed", "9", NULL),
        0);
    snprintf(want, sizeof want, "%s: 120 x 5 float32, regression (1 target)\n", a);
    assert_string_equal(tu_out, want);
    expect_regression(a, 120, 5, 0.0, 9);
    assert_int_equal(tu_nndata("make-regression", "1", a, "--features", "1", "--noise=2.5", NULL),
                     0);
    expect_regression(a, 1, 1, 2.5, 1);
}

/* Same seed, same file contents; another seed, other data. */
static void test_make_regression_seed(void **state)
{
    const char *a = tu_path(*state, "a.h5"), *b = tu_path(*state, "b.h5");
    const char *c = tu_path(*state, "c.h5");
    assert_int_equal(tu_nndata("make-regression", "200", a, "--seed", "3", "--features", "3", NULL),
                     0);
    assert_int_equal(tu_nndata("make-regression", "200", b, "--seed", "3", "--features", "3", NULL),
                     0);
    assert_int_equal(tu_nndata("make-regression", "200", c, "--seed", "4", "--features", "3", NULL),
                     0);
    struct tu_set sa, sb, sc;
    tu_read_regression(a, &sa);
    tu_read_regression(b, &sb);
    tu_read_regression(c, &sc);
    assert_memory_equal(sa.x, sb.x, 200 * 3 * sizeof(float));
    assert_memory_equal(sa.yf, sb.yf, 200 * sizeof(float));
    assert_memory_not_equal(sa.x, sc.x, 200 * 3 * sizeof(float));
    assert_memory_not_equal(sa.yf, sc.yf, 200 * sizeof(float));
    tu_free_set(&sa);
    tu_free_set(&sb);
    tu_free_set(&sc);
}

static void test_make_regression_bad_args(void **state)
{
    const char *bad_n[] = {"abc", "-3", "0", "", " 5", "+5", "2.5", "0x10",
                           "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_n / sizeof bad_n[0]; i++) {
        USAGE(bad_n[i], "make-regression", bad_n[i], "OUT");
        assert_non_null(strstr(tu_err, "N must be a positive integer"));
    }
    const char *bad_d[] = {"0", "-1", "abc", "1.5", "", " 2", "2 ", "+2", "1e2", "0x4",
                           "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_d / sizeof bad_d[0]; i++) {
        USAGE(bad_d[i], "make-regression", "10", "OUT", "--features", bad_d[i]);
        assert_non_null(strstr(tu_err, "--features must be a positive integer"));
    }
    USAGE("-2", "make-regression", "10", "OUT", "--features=-2");
    USAGE_MSG("missing value after '--features'" TRY("make-regression"), "make-regression", "10",
              "OUT", "--features");
    USAGE("-0.5", "make-regression", "10", "OUT", "--noise", "-0.5");
    USAGE("nan", "make-regression", "10", "OUT", "--noise", "nan");
    USAGE("x", "make-regression", "10", "OUT", "--seed", "x");
    USAGE_MSG("unknown option '--factor'" TRY("make-regression"), "make-regression", "10", "OUT",
              "--factor", "0.5");
    USAGE_MSG("unknown option '--features'" TRY("make-moons"), "make-moons", "10", "OUT",
              "--features", "2"); /* regression only */
    USAGE_MSG("unknown option '--features'" TRY("make-circles"), "make-circles", "10", "OUT",
              "--features", "2");
    USAGE("make-regression", "make-regression", "10");
    USAGE_MSG("unexpected argument 'extra'" TRY("make-regression"), "make-regression", "10",
              "OUT", "extra");
}

/* Runtime errors (exit 1): N x D beyond what can be allocated, and an unwritable OUT. One
 * error line, nothing on stdout, no OUT or OUT.tmp. */
static void test_make_regression_runtime_errors(void **state)
{
    const char *out = tu_path(*state, "big.h5");
    assert_int_equal(
        tu_nndata("make-regression", "1099511627776", out, "--features", "1099511627776", NULL), 1);
    tu_expect_error_line("1099511627776", "out of memory for 1099511627776 x 1099511627776");
    assert_string_equal(tu_out, "");
    assert_false(tu_exists(out));
    assert_false(tu_exists(tu_path(*state, "big.h5.tmp")));

    const char *bad = tu_path(*state, "nodir/out.h5");
    assert_int_equal(tu_nndata("make-regression", "10", bad, NULL), 1);
    tu_expect_error_line(bad, "cannot create");
    assert_string_equal(tu_out, "");
    assert_false(tu_exists(bad));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-TO-NNDATA\n", argv[0]);
        return 2;
    }
    tu_set_nndata(argv[1]);
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_tmpdir, tu_teardown_tmpdir)
    const struct CMUnitTest tests[] = {
        T(test_import_plain),     T(test_import_gz),
        T(test_import_mixed_tiny), T(test_truncated),
        T(test_truncated_gzip_stream), T(test_wrong_magic),
        T(test_count_mismatch),   T(test_trailing_data),
        T(test_nonexistent),      T(test_unwritable_out),
        T(test_bad_n),            T(test_bad_options),
        T(test_bad_arity_and_command), T(test_help_version),
        T(test_make_moons_cli),   T(test_make_circles_cli),
        T(test_make_regression_cli), T(test_make_regression_seed),
        T(test_make_regression_bad_args), T(test_make_regression_runtime_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
