/* Real-data test (argv: NNDATA fashion-mnist.sh): the script converts Debian's Fashion-MNIST
 * into 60000 / 10000 x 784 uint8, scale 1/255, 10 classes of exactly n/10; reruns skip; a
 * missing package is a clear error. Fails, never skips, without dataset-fashion-mnist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *nndata, *script;

static int run_script(const char *outdir, const char *env_set)
{
    const char *argv[] = {"/bin/bash", script, nndata, outdir, NULL};
    return tu_capture(argv, env_set);
}

static void check_split(const char *path, int64_t n)
{
    struct tu_set s;
    tu_read_set(path, &s);
    assert_int_equal(s.n, n);
    assert_int_equal(s.d, 784);
    assert_true(s.is_u8);
    assert_true(s.has_scale);
    assert_true(s.scale == 1.0f / 255.0f);
    assert_true(s.y_is_i32le);
    int64_t count[10] = {0};
    for (int64_t i = 0; i < n; i++) {
        if (s.y[i] < 0 || s.y[i] > 9) fail_msg("%s: label %d at row %lld", path, s.y[i],
                                                (long long)i);
        count[s.y[i]]++;
    }
    /* Fashion-MNIST is exactly balanced: n/10 images per class in both splits. */
    for (int k = 0; k < 10; k++) assert_int_equal(count[k], n / 10);
    /* Real images, not zeros: both black and (near) white pixels occur. */
    const uint8_t *x = s.x;
    int have0 = 0, have255 = 0;
    for (int64_t i = 0; i < n * 784; i++) have0 |= x[i] == 0, have255 |= x[i] == 255;
    assert_true(have0 && have255);
    tu_free_set(&s);
}

static void test_convert(void **state)
{
    const char *dir = tu_path(*state, "data");
    int rc = run_script(dir, NULL);
    if (rc != 0) fail_msg("fashion-mnist.sh exit %d: %s", rc, tu_err);
    const char *train = tu_path(dir, "fashion-train.h5"), *test = tu_path(dir, "fashion-test.h5");
    char want[9000];
    snprintf(want, sizeof want, "%s: 60000 x 784 uint8, 10 classes\n"
                                "%s: 10000 x 784 uint8, 10 classes\n", train, test);
    assert_string_equal(tu_out, want);
    check_split(train, 60000);
    check_split(test, 10000);

    /* Second run: both outputs exist and are skipped. */
    assert_int_equal(run_script(dir, NULL), 0);
    snprintf(want, sizeof want, "%s exists, skipping\n%s exists, skipping\n", train, test);
    assert_string_equal(tu_out, want);
}

static void test_missing_package(void **state)
{
    const char *dir = tu_path(*state, "data");
    int rc = run_script(dir, "FASHION_MNIST_DIR=/nonexistent/fashion-mnist");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(tu_err, "/nonexistent/fashion-mnist"));
    assert_non_null(strstr(tu_err, "apt-get install dataset-fashion-mnist"));
    assert_false(tu_exists(tu_path(dir, "fashion-train.h5")));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PATH-TO-NNDATA PATH-TO-fashion-mnist.sh\n", argv[0]);
        return 2;
    }
    nndata = argv[1];
    script = argv[2];
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_tmpdir, tu_teardown_tmpdir)
    const struct CMUnitTest tests[] = {
        T(test_convert),
        T(test_missing_package),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
