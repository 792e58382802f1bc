/* Tests of nndata import-csv / import-npy (binary path in argv[1]) and of the pure parsers in
 * datasets/import_csv.c and import_npy.c: round trips compared element-wise with the HDF5
 * file read back; every
 * malformed input fails with exit 1, exactly one error line naming the file (and the line for
 * text), and no OUT (nor OUT.tmp) left, an existing OUT unchanged; usage errors exit 2. The
 * .npy files are built here byte by byte (no Python needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "testutil.h"

/* Run args (NULL-terminated, ending with OUT as the last positional, which this function
 * appends: pass args without OUT); expect exit code `code`, the error line, no OUT left;
 * then again with an existing OUT, which must be unchanged. */
static void expect_fail(const char *dir, int code, const char *const args[], const char *culprit,
                        const char *what)
{
    const char *outs[2] = {tu_path(dir, "bad-out.h5"), tu_path(dir, "keep.h5")};
    for (int pass = 0; pass < 2; pass++) {
        const char *argv[16] = {tu_nndata_path()};
        int argc = 1;
        for (int i = 0; args[i]; i++) argv[argc++] = args[i];
        /* OUT goes right after the inputs: before the first option. */
        int at = 1;
        while (at < argc && (at < 2 || argv[at][0] != '-')) at++;
        for (int i = argc; i > at; i--) argv[i] = argv[i - 1];
        argv[at] = outs[pass];
        argc++;
        argv[argc] = NULL;
        if (pass == 1) tu_write_file(outs[1], "precious", 8);
        int rc = tu_capture(argv, NULL);
        if (rc != code) fail_msg("exit %d, expected %d; stderr: %s", rc, code, tu_err);
        if (culprit) tu_expect_error_line(culprit, what);
        else tu_expect_usage(what);
        assert_string_equal(tu_out, "");
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", outs[pass]);
        assert_false(tu_exists(tmp));
        if (pass == 0) {
            assert_false(tu_exists(outs[0]));
        } else {
            size_t len;
            char *now = tu_read_file(outs[1], &len);
            assert_non_null(now);
            assert_int_equal(len, 8);
            assert_memory_equal(now, "precious", 8);
            free(now);
        }
    }
}

static void write_text(const char *path, const char *text)
{
    tu_write_file(path, text, strlen(text));
}

static void expect_f32(const struct tu_set *s, const float *want, int64_t count)
{
    assert_false(s->is_u8);
    const float *x = s->x;
    for (int64_t i = 0; i < count; i++)
        if (x[i] != want[i]) fail_msg("X[%lld] = %g, expected %g", (long long)i, x[i], want[i]);
}

/* ---- CSV round trips ----------------------------------------------------------------------- */

static const float csv_x[] = {1.5f, -2.0f, 0.25f, 3e-3f, 7.0f, -1e5f, 0.0f, 12.0f};
static const int32_t csv_y[] = {0, 2, 1, 2};

static void check_csv_set(const char *out, const char *summary)
{
    assert_string_equal(tu_out, summary);
    struct tu_set s;
    tu_read_set(out, &s);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.d, 2);
    assert_false(s.has_scale);
    assert_true(s.y_is_i32le);
    expect_f32(&s, csv_x, 8);
    assert_memory_equal(s.y, csv_y, sizeof csv_y);
    tu_free_set(&s);
}

static void test_csv_header_by_name_and_index(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "data.csv"), *out = tu_path(dir, "out.h5");
    write_text(in, "a,class,b\n1.5,0,-2\n0.25,2,3e-3\n7,1,-1e5\n 0 , 2 ,12\n");
    char want[4300];
    snprintf(want, sizeof want, "%s: 4 x 2 float32, 3 classes\n", out);
    if (tu_nndata("import-csv", in, out, "--label", "class", NULL) != 0) fail_msg("%s", tu_err);
    check_csv_set(out, want);
    if (tu_nndata("import-csv", in, out, "--label=1", NULL) != 0) fail_msg("%s", tu_err);
    check_csv_set(out, want);
}

static void test_csv_no_header(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "data.csv"), *out = tu_path(dir, "out.h5");
    write_text(in, "0,1.5,-2\n2,0.25,3e-3\n1,7,-1e5\n2,0,12\n");
    char want[4300];
    snprintf(want, sizeof want, "%s: 4 x 2 float32, 3 classes\n", out);
    /* auto-detected: the first row is all numbers */
    if (tu_nndata("import-csv", in, out, "--label", "0", NULL) != 0) fail_msg("%s", tu_err);
    check_csv_set(out, want);
    if (tu_nndata("import-csv", "--no-header", in, out, "--label", "0", NULL) != 0)
        fail_msg("%s", tu_err);
    check_csv_set(out, want);
}

static void test_csv_crlf_delimiter(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "data.csv"), *out = tu_path(dir, "out.h5");
    char want[4300];
    snprintf(want, sizeof want, "%s: 4 x 2 float32, 3 classes\n", out);
    /* CRLF, trailing blank lines */
    write_text(in, "a,b,y\r\n1.5,-2,0\r\n0.25,3e-3,2\r\n7,-1e5,1\r\n0,12,2\r\n\r\n\n");
    if (tu_nndata("import-csv", in, out, "--label", "y", NULL) != 0) fail_msg("%s", tu_err);
    check_csv_set(out, want);
    /* no trailing newline, semicolons */
    write_text(in, "a;b;y\n1.5;-2;0\n0.25;3e-3;2\n7;-1e5;1\n0;12;2");
    if (tu_nndata("import-csv", in, out, "--label", "y", "--delimiter", ";", NULL) != 0)
        fail_msg("%s", tu_err);
    check_csv_set(out, want);
    write_text(in, "y\ta\tb\r\n0\t1.5\t-2\r\n2\t0.25\t3e-3\r\n1\t7\t-1e5\r\n2\t0\t12\r\n");
    if (tu_nndata("import-csv", in, out, "--label", "y", "--delimiter=tab", NULL) != 0)
        fail_msg("%s", tu_err);
    check_csv_set(out, want);
}

static void test_csv_regression(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "data.csv"), *out = tu_path(dir, "out.h5");
    write_text(in, "a,target,b\n1.5,0.5,-2\n0.25,-3.25,3e-3\n7,1e3,-1e5\n0,0,12\n");
    if (tu_nndata("import-csv", in, out, "--label", "target", "--regression", NULL) != 0)
        fail_msg("%s", tu_err);
    char want[4300];
    snprintf(want, sizeof want, "%s: 4 x 2 float32, regression (1 target)\n", out);
    assert_string_equal(tu_out, want);
    struct tu_set s;
    tu_read_regression(out, &s);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.d, 2);
    assert_int_equal(s.k, 1);
    assert_true(s.y_is_f32le);
    expect_f32(&s, csv_x, 8);
    const float yw[] = {0.5f, -3.25f, 1e3f, 0.0f};
    for (int i = 0; i < 4; i++) assert_true(s.yf[i] == yw[i]);
    tu_free_set(&s);
}

/* Long lines and many rows: nothing is held in a fixed buffer. */
static void test_csv_large(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "big.csv"), *out = tu_path(dir, "out.h5");
    enum { R = 3000, C = 700 };
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    for (int j = 0; j < C; j++) fprintf(f, "%sfeature_with_a_long_name_%d", j ? "," : "", j);
    fputs(",label\n", f);
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < C; j++) fprintf(f, "%d.125,", (i * 31 + j) % 1000);
        fprintf(f, "%d\n", i % 5);
    }
    fclose(f);
    if (tu_nndata("import-csv", in, out, "--label", "label", NULL) != 0) fail_msg("%s", tu_err);
    struct tu_set s;
    tu_read_set(out, &s);
    assert_int_equal(s.n, R);
    assert_int_equal(s.d, C);
    const float *x = s.x;
    for (int i = 0; i < R; i++) {
        assert_int_equal(s.y[i], i % 5);
        for (int j = 0; j < C; j++)
            if (x[(size_t)i * C + j] != (float)((i * 31 + j) % 1000) + 0.125f)
                fail_msg("X[%d][%d] = %g", i, j, x[(size_t)i * C + j]);
    }
    tu_free_set(&s);
}

/* ---- CSV errors ------------------------------------------------------------------------------ */

/* import-csv on `text` with the options (NULL-terminated, up to 6) fails with exit 3 and an
 * error "<file>:<line>: ...what..." (line 0: no line number). */
static void csv_fails(const char *dir, const char *text, int line, const char *what, ...)
{
    const char *in = tu_path(dir, "data.csv");
    tu_write_file(in, text, strlen(text));
    const char *args[12] = {"import-csv", in};
    int n = 2;
    va_list ap;
    va_start(ap, what);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    char culprit[4200];
    if (line)
        snprintf(culprit, sizeof culprit, "%s:%d", in, line);
    else
        snprintf(culprit, sizeof culprit, "%s", in);
    expect_fail(dir, 3, args, culprit, what);
}

static void test_csv_errors(void **state)
{
    const char *dir = *state;
    csv_fails(dir, "a,b,c,d,y\n1,2,3,4,0\n1,2,3,0\n", 3, "4 fields, expected 5", "--label", "y",
              NULL);
    csv_fails(dir, "a,b,c,d,y\n1,2,3,4,0\n1,2,3,4,5,0\n", 3, "6 fields, expected 5", "--label",
              "y", NULL);
    csv_fails(dir, "age,b,y\n1,2,0\n3,4,1\nabc,4,1\n", 4, "column 'age': 'abc' is not a number",
              "--label", "y", NULL);
    csv_fails(dir, "1,2,0\n3,4,1\n3,,1\n", 3, "column 1: '' is not a number", "--label", "2",
              NULL);
    csv_fails(dir, "1,2,0\n3,4,1\n5,6,0\n1,2,nan\n", 4, "column 2: 'nan' is not a finite number",
              "--label", "0", NULL);
    csv_fails(dir, "1,2,0\ninf,4,1\n", 2, "column 0: 'inf' is not a finite number", "--label",
              "2", NULL);
    csv_fails(dir, "1,2,0\n1e39,4,1\n", 2, "'1e39' is not a finite number", "--label", "2",
              NULL);
    csv_fails(dir, "x,y\n1,0\n2,-1\n", 3, "'-1' is not a class label", "--label", "y", NULL);
    csv_fails(dir, "x,y\n1,0\n2,1.5\n", 3, "'1.5' is not a class label", "--label", "y", NULL);
    csv_fails(dir, "x,y\n1,0\n2,99999999999\n", 3, "'99999999999' is not a class label",
              "--label", "y", NULL);
    csv_fails(dir, "x,y\n1,0\n2,cat\n", 3, "'cat' is not a class label", "--label", "y", NULL);
    csv_fails(dir, "x,y\n1,0\n2,nan\n", 3, "label column 'y': 'nan' is not a finite number",
              "--label", "y", "--regression", NULL);
    csv_fails(dir, "x,y\n1,0\n", 1, "label column 'z' is not in the header", "--label", "z",
              NULL);
    csv_fails(dir, "x,y\n1,0\n", 1, "label column 5 does not exist (2 columns)", "--label", "5",
              NULL);
    csv_fails(dir, "1,0\n", 1, "must be a 0-based index, not 'y'", "--label", "y", NULL);
    csv_fails(dir, "x,y\n1,0\n", 1, "column 0: 'x' is not a number", "--label", "1", "--no-header",
              NULL);
    csv_fails(dir, "", 0, "empty file", "--label", "0", NULL);
    csv_fails(dir, "\n\r\n", 0, "empty file", "--label", "0", NULL);
    csv_fails(dir, "x,y\r\n", 0, "no data rows", "--label", "y", NULL);
    csv_fails(dir, "x,y\n1,0\n\n2,1\n", 3, "blank line", "--label", "y", NULL);
    csv_fails(dir, "x,y\n\"1\",0\n", 2, "quoted fields are not supported", "--label", "y", NULL);
    csv_fails(dir, "y\n1\n", 1, "at least one feature", "--label", "y", NULL);

    const char *none[] = {"import-csv", tu_path(dir, "missing.csv"), "--label", "0", NULL};
    expect_fail(dir, 3, none, tu_path(dir, "missing.csv"), "cannot open");
}

static void test_csv_usage(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "data.csv");
    write_text(in, "x,y\n1,0\n");
    const char *a1[] = {"import-csv", in, NULL};
    expect_fail(dir, 2, a1, "import-csv", "--label COLUMN is required");
    const char *a2[] = {"import-csv", in, "--label", "y", "--delimiter", "ab", NULL};
    expect_fail(dir, 2, a2, "ab", "--delimiter");
    const char *a3[] = {"import-csv", in, "--label", "y", "--bogus", NULL};
    expect_fail(dir, 2, a3, NULL,
                "unknown option '--bogus' for import-csv (try: nndata import-csv --help)");
    const char *a4[] = {"import-csv", in, "--label", "y", "--regression=1", NULL};
    expect_fail(dir, 2, a4, NULL,
                "option '--regression' takes no value for import-csv (try: nndata import-csv --help)");
    assert_int_equal(tu_nndata("import-csv", in, NULL), 2);
    tu_expect_error_line("import-csv", "expected IN.csv OUT.h5");
    assert_int_equal(tu_nndata("import-csv", in, "--label", NULL), 2);
    tu_expect_usage("missing value after '--label' for import-csv (try: nndata import-csv --help)");
    assert_int_equal(tu_nndata("--help", NULL), 0);
    assert_non_null(strstr(tu_out, "nndata import-csv IN.csv OUT.h5 --label COLUMN"));
    assert_non_null(strstr(tu_out, "nndata import-npy X.npy Y.npy OUT.h5"));
    assert_int_equal(tu_nndata("import-npy", "--help", NULL), 0);
    assert_non_null(strstr(tu_out, "import-npy"));
}

/* The parser itself: a pure function with the message in an nt_err. */
static void test_csv_parser_direct(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "data.csv");
    write_text(in, "f,y\n0.5,3\n-1,0\n");
    struct imp_data s;
    nt_err err;
    assert_int_equal(import_csv(in, "y", IMP_HEADER_AUTO, 0, ',', &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.d, 1);
    assert_null(s.x_u8);
    assert_true(s.x_f32[0] == 0.5f && s.x_f32[1] == -1.0f);
    assert_true(s.y[0] == 3 && s.y[1] == 0);
    imp_free(&s);
    /* forced header on an all-numeric first row; a header name wins over an index */
    write_text(in, "1,2\n0.5,3\n");
    assert_int_equal(import_csv(in, "1", IMP_HEADER_YES, 1, ',', &s, &err), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.k, 1);
    assert_true(s.yf[0] == 0.5f && s.x_f32[0] == 3.0f);
    imp_free(&s);
    write_text(in, "1,2\n0.5\n");
    /* a bad file is NT_EXIT_INPUT (the parsers return the kind of failure, usage.h) */
    assert_int_equal(import_csv(in, "1", IMP_HEADER_AUTO, 0, ',', &s, &err), NT_EXIT_INPUT);
    char want[4300];
    snprintf(want, sizeof want, "%s:2: 1 field, expected 2", in);
    assert_string_equal(err.msg, want);
}

/* ---- .npy construction -------------------------------------------------------------------- */

/* A .npy file: version 1 or 2 header with descr/fortran/shape, padded to 64 bytes, then data;
 * truncate_by drops bytes at the end; magic_ok 0 spoils the magic. */
static void write_npy(const char *path, int version, const char *descr, int fortran,
                      const char *shape, const void *data, size_t len, size_t truncate_by)
{
    char dict[512];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                      descr, fortran ? "True" : "False", shape);
    size_t pre = version == 1 ? 10 : 12;
    size_t hlen = (size_t)dl + 1;
    while ((pre + hlen) % 64) hlen++;
    size_t total = pre + hlen + len;
    uint8_t *b = malloc(total);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)version;
    b[7] = 0;
    if (version == 1) {
        b[8] = (uint8_t)hlen, b[9] = (uint8_t)(hlen >> 8);
    } else {
        b[8] = (uint8_t)hlen, b[9] = (uint8_t)(hlen >> 8), b[10] = (uint8_t)(hlen >> 16);
        b[11] = (uint8_t)(hlen >> 24);
    }
    memset(b + pre, ' ', hlen);
    memcpy(b + pre, dict, (size_t)dl);
    b[pre + hlen - 1] = '\n';
    if (len) memcpy(b + pre + hlen, data, len);
    assert_true(truncate_by <= total);
    tu_write_file(path, b, total - truncate_by);
    free(b);
}

enum { NN = 5, ND = 3 };

static void npy_inputs(float *xf, double *xd, uint8_t *xu, int32_t *y4, int64_t *y8)
{
    for (int i = 0; i < NN * ND; i++) {
        xf[i] = (float)i * 0.75f - 4.0f;
        xd[i] = (double)xf[i];
        xu[i] = (uint8_t)(i * 17);
    }
    for (int i = 0; i < NN; i++) y4[i] = (i * 3) % 4, y8[i] = (i * 3) % 4;
}

static void test_npy_round_trips(void **state)
{
    const char *dir = *state, *xp = tu_path(dir, "x.npy"), *yp = tu_path(dir, "y.npy"),
               *out = tu_path(dir, "out.h5");
    float xf[NN * ND];
    double xd[NN * ND];
    uint8_t xu[NN * ND];
    int32_t y4[NN];
    int64_t y8[NN];
    npy_inputs(xf, xd, xu, y4, y8);
    char want[4300];
    struct tu_set s;

    /* f4 X, i4 y */
    write_npy(xp, 1, "<f4", 0, "(5, 3)", xf, sizeof xf, 0);
    write_npy(yp, 1, "<i4", 0, "(5,)", y4, sizeof y4, 0);
    if (tu_nndata("import-npy", xp, yp, out, NULL) != 0) fail_msg("%s", tu_err);
    snprintf(want, sizeof want, "%s: 5 x 3 float32, 4 classes\n", out);
    assert_string_equal(tu_out, want);
    tu_read_set(out, &s);
    assert_int_equal(s.n, NN);
    assert_int_equal(s.d, ND);
    expect_f32(&s, xf, NN * ND);
    assert_memory_equal(s.y, y4, sizeof y4);
    assert_false(s.has_scale);
    tu_free_set(&s);

    /* f8 X (version 2.0 header), i8 y */
    write_npy(xp, 2, "<f8", 0, "(5, 3)", xd, sizeof xd, 0);
    write_npy(yp, 1, "<i8", 0, "(5,)", y8, sizeof y8, 0);
    if (tu_nndata("import-npy", xp, yp, out, NULL) != 0) fail_msg("%s", tu_err);
    tu_read_set(out, &s);
    expect_f32(&s, xf, NN * ND);
    assert_memory_equal(s.y, y4, sizeof y4);
    tu_free_set(&s);

    /* u1 X with scale, u1 y */
    uint8_t yu[NN];
    for (int i = 0; i < NN; i++) yu[i] = (uint8_t)y4[i];
    write_npy(xp, 1, "|u1", 0, "(5, 3)", xu, sizeof xu, 0);
    write_npy(yp, 1, "|u1", 0, "(5,)", yu, sizeof yu, 0);
    if (tu_nndata("import-npy", xp, yp, out, "--scale", "0.5", NULL) != 0) fail_msg("%s", tu_err);
    snprintf(want, sizeof want, "%s: 5 x 3 uint8, 4 classes\n", out);
    assert_string_equal(tu_out, want);
    tu_read_set(out, &s);
    assert_true(s.is_u8);
    assert_true(s.has_scale);
    assert_true(s.scale == 0.5f);
    assert_memory_equal(s.x, xu, sizeof xu);
    assert_memory_equal(s.y, y4, sizeof y4);
    tu_free_set(&s);
    /* without --scale: no attribute */
    if (tu_nndata("import-npy", xp, yp, out, NULL) != 0) fail_msg("%s", tu_err);
    tu_read_set(out, &s);
    assert_false(s.has_scale);
    tu_free_set(&s);
}

static void test_npy_regression(void **state)
{
    const char *dir = *state, *xp = tu_path(dir, "x.npy"), *yp = tu_path(dir, "y.npy"),
               *out = tu_path(dir, "out.h5");
    float xf[NN * ND], yf[NN * 2];
    double xd[NN * ND], yd[NN];
    uint8_t xu[NN * ND];
    int32_t y4[NN];
    int64_t y8[NN];
    npy_inputs(xf, xd, xu, y4, y8);
    for (int i = 0; i < NN; i++) yd[i] = i * 0.3 - 1.0, yf[2 * i] = (float)i, yf[2 * i + 1] = -i;
    struct tu_set s;
    char want[4300];

    write_npy(xp, 1, "<f4", 0, "(5, 3)", xf, sizeof xf, 0);
    write_npy(yp, 1, "<f8", 0, "(5, 1)", yd, sizeof yd, 0);
    if (tu_nndata("import-npy", xp, yp, out, "--regression", NULL) != 0) fail_msg("%s", tu_err);
    snprintf(want, sizeof want, "%s: 5 x 3 float32, regression (1 target)\n", out);
    assert_string_equal(tu_out, want);
    tu_read_regression(out, &s);
    assert_int_equal(s.k, 1);
    expect_f32(&s, xf, NN * ND);
    for (int i = 0; i < NN; i++) assert_true(s.yf[i] == (float)yd[i]);
    tu_free_set(&s);

    write_npy(yp, 1, "<f8", 0, "(5,)", yd, sizeof yd, 0);
    if (tu_nndata("import-npy", xp, yp, out, "--regression", NULL) != 0) fail_msg("%s", tu_err);
    tu_read_regression(out, &s);
    assert_int_equal(s.k, 1);
    for (int i = 0; i < NN; i++) assert_true(s.yf[i] == (float)yd[i]);
    tu_free_set(&s);

    write_npy(yp, 1, "<f4", 0, "(5, 2)", yf, sizeof yf, 0);
    if (tu_nndata("import-npy", xp, yp, out, "--regression", NULL) != 0) fail_msg("%s", tu_err);
    snprintf(want, sizeof want, "%s: 5 x 3 float32, regression (2 targets)\n", out);
    assert_string_equal(tu_out, want);
    tu_read_regression(out, &s);
    assert_int_equal(s.k, 2);
    assert_memory_equal(s.yf, yf, sizeof yf);
    tu_free_set(&s);
}

static void npy_fails(const char *dir, const char *culprit, const char *what, int regression)
{
    const char *args[] = {"import-npy", tu_path(dir, "x.npy"), tu_path(dir, "y.npy"),
                          regression ? "--regression" : NULL, NULL};
    expect_fail(dir, 3, args, culprit, what);
}

static void test_npy_errors(void **state)
{
    const char *dir = *state, *xp = tu_path(dir, "x.npy"), *yp = tu_path(dir, "y.npy");
    float xf[NN * ND];
    double xd[NN * ND];
    uint8_t xu[NN * ND];
    int32_t y4[NN];
    int64_t y8[NN];
    npy_inputs(xf, xd, xu, y4, y8);
    const void *good_x = xf, *good_y = y4;
#define GOOD_X() write_npy(xp, 1, "<f4", 0, "(5, 3)", good_x, sizeof xf, 0)
#define GOOD_Y() write_npy(yp, 1, "<i4", 0, "(5,)", good_y, sizeof y4, 0)

    GOOD_Y();
    tu_write_file(xp, "\x93NUMPZ\x01\x00\x10\x00", 10);
    npy_fails(dir, xp, "bad magic", 0);
    tu_write_file(xp, "", 0);
    npy_fails(dir, xp, "bad magic", 0);
    write_npy(xp, 1, "<f4", 0, "(5, 3)", xf, sizeof xf, 5);
    npy_fails(dir, xp, "truncated data (55 of 60 bytes)", 0);
    write_npy(xp, 1, "<f4", 1, "(5, 3)", xf, sizeof xf, 0);
    npy_fails(dir, xp, "fortran_order True is not supported", 0);
    write_npy(xp, 1, "<i4", 0, "(5, 3)", xf, sizeof xf, 0);
    npy_fails(dir, xp, "dtype '<i4' is not supported for X", 0);
    write_npy(xp, 1, ">f4", 0, "(5, 3)", xf, sizeof xf, 0);
    npy_fails(dir, xp, "dtype '>f4' is not supported", 0);
    write_npy(xp, 1, "<f4", 0, "(15,)", xf, sizeof xf, 0);
    npy_fails(dir, xp, "X must be 2-D (N, D)", 0);
    xf[4] = NAN;
    write_npy(xp, 1, "<f4", 0, "(5, 3)", xf, sizeof xf, 0);
    npy_fails(dir, xp, "row 1, column 1: nan is not a finite float32", 0);
    xf[4] = 0;

    GOOD_X();
    static const char zeros[20 * NN];
    write_npy(yp, 1, "<U5", 0, "(5,)", zeros, sizeof zeros, 0);
    char want[4300];
    snprintf(want, sizeof want, "nndata: error: %s: dtype '<U5' is not supported (int or float)\n",
             yp);
    npy_fails(dir, yp, "dtype '<U5' is not supported (int or float)", 0);
    assert_string_equal(tu_err, want);
    write_npy(yp, 1, "<f8", 0, "(5,)", xd, sizeof(double) * NN, 0);
    npy_fails(dir, yp, "use --regression", 0);
    write_npy(yp, 1, "<i4", 0, "(4,)", y4, sizeof(int32_t) * 4, 0);
    npy_fails(dir, yp, "4 rows, but", 0);
    write_npy(yp, 1, "<i4", 0, "(5,)", y4, sizeof y4, 3);
    npy_fails(dir, yp, "truncated data", 0);
    int32_t yneg[NN] = {0, 1, -1, 2, 0};
    write_npy(yp, 1, "<i4", 0, "(5,)", yneg, sizeof yneg, 0);
    npy_fails(dir, yp, "row 2: label -1 is negative", 0);
    int64_t ybig[NN] = {0, 1, 1, (int64_t)1 << 40, 0};
    write_npy(yp, 1, "<i8", 0, "(5,)", ybig, sizeof ybig, 0);
    npy_fails(dir, yp, "label 1099511627776 is too large", 0);
    write_npy(yp, 1, "<i4", 1, "(5,)", y4, sizeof y4, 0);
    npy_fails(dir, yp, "fortran_order True", 0);
    write_npy(yp, 1, "<i4", 0, "(5, 2)", xf, sizeof(int32_t) * 10, 0);
    npy_fails(dir, yp, "y must be 1-D (N,), got shape (5, 2)", 0);
    write_npy(yp, 1, "<f4", 0, "(4, 2)", xf, sizeof(float) * 8, 0);
    npy_fails(dir, yp, "4 rows, but", 1);
    tu_write_file(yp, "\x93NUMPY\x01\x00\x08\x00{'descr'", 18);
    npy_fails(dir, yp, "", 0);

    GOOD_Y();
    const char *a1[] = {"import-npy", xp, yp, "--scale", "0", NULL};
    expect_fail(dir, 2, a1, "0", "--scale must be a finite number > 0");
    const char *a2[] = {"import-npy", xp, NULL};
    expect_fail(dir, 2, a2, "import-npy", "expected X.npy Y.npy OUT.h5");
    const char *a3[] = {"import-npy", xp, yp, "--scale", "0.5", NULL};
    expect_fail(dir, 3, a3, xp, "--scale applies to uint8 X only");
#undef GOOD_X
#undef GOOD_Y
}

/* A good input but an OUT that cannot be created (a missing directory, a path under a regular
 * file): a write error, exit 1, one line naming OUT, nothing on stdout, nothing left. */
static void test_import_write_error(void **state)
{
    const char *dir = *state, *csv = tu_path(dir, "data.csv"), *xp = tu_path(dir, "x.npy"),
               *yp = tu_path(dir, "y.npy");
    write_text(csv, "f,y\n0.5,1\n-1,0\n");
    float xf[NN * ND];
    double xd[NN * ND];
    uint8_t xu[NN * ND];
    int32_t y4[NN];
    int64_t y8[NN];
    npy_inputs(xf, xd, xu, y4, y8);
    write_npy(xp, 1, "<f4", 0, "(5, 3)", xf, sizeof xf, 0);
    write_npy(yp, 1, "<i4", 0, "(5,)", y4, sizeof y4, 0);
    const char *file = tu_path(dir, "plain");
    tu_write_file(file, "x", 1);
    const char *outs[] = {tu_path(dir, "nodir/out.h5"), tu_path(dir, "plain/out.h5")};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tu_nndata("import-csv", csv, outs[i], "--label", "y", NULL), 1);
        tu_expect_error_line(outs[i], "cannot create");
        assert_string_equal(tu_out, "");
        assert_int_equal(tu_nndata("import-npy", xp, yp, outs[i], NULL), 1);
        tu_expect_error_line(outs[i], "cannot create");
        assert_string_equal(tu_out, "");
    }
    assert_false(tu_exists(tu_path(dir, "nodir")));
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
        T(test_csv_header_by_name_and_index), T(test_csv_no_header),
        T(test_csv_crlf_delimiter),           T(test_csv_regression),
        T(test_csv_large),                    T(test_csv_errors),
        T(test_csv_usage),                    T(test_csv_parser_direct),
        T(test_npy_round_trips),              T(test_npy_regression),
        T(test_npy_errors),                   T(test_import_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
