/* src/worker/config.c: every key of the table round-trips through the printed /config text,
 * the documented defaults are the real ones, each configuration error gives its one message,
 * and README.md / docs/nntrain.1 carry the key reference generated from the table.
 * NT_SOURCE_DIR (set by CMake) is the source tree holding README.md and docs/nntrain.1. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* A non-default value for every key, with the context that makes the key matter (a key that
 * only applies to one optimizer, loss or schedule is printed only then). A key added to the
 * table without an example here fails test_every_key_round_trips. */
static const struct { const char *section, *key, *context, *value; } examples[] = {
    {"data", "train", "", "a.h5"},
    {"data", "test", "", "b.h5"},
    {"data", "val_fraction", "", "0.25"},
    {"data", "cache_mb", "", "64"},
    {"data", "permutation", "", "feistel"},
    {"data", "collective_reads", "", "true"},
    {"model", "layers", "", "5, 7, 3"},
    {"model", "activation", "", "tanh"},
    {"model", "activations", "", "tanh, gelu, identity"},
    {"model", "leaky_slope", "", "0.2"},
    {"model", "elu_alpha", "", "0.5"},
    {"model", "init", "", "xavier_normal"},
    {"model", "init_std", "", "0.05"},
    {"model", "bias", "", "false"},
    {"model", "dropout", "", "0.3, 0.1"},
    {"loss", "name", "", "huber"},
    {"loss", "label_smoothing", "", "0.1"},
    {"loss", "delta", "[loss]\nname = huber\n", "2.5"},
    {"loss", "beta", "[loss]\nname = smooth_l1\n", "0.5"},
    {"optimizer", "name", "", "sgd"},
    {"optimizer", "lr", "", "0.05"},
    {"optimizer", "weight_decay", "", "0.01"},
    {"optimizer", "l1", "", "0.001"},
    {"optimizer", "decay_biases", "", "false"},
    {"optimizer", "clip_grad_norm", "", "2"},
    {"optimizer", "momentum", "[optimizer]\nname = sgd\n", "0.9"},
    {"optimizer", "dampening", "[optimizer]\nname = sgd\n", "0.1"},
    {"optimizer", "nesterov", "[optimizer]\nname = sgd\nmomentum = 0.9\n", "true"},
    {"optimizer", "beta1", "", "0.8"},
    {"optimizer", "beta2", "", "0.99"},
    {"optimizer", "eps", "", "1e-6"},
    {"optimizer", "amsgrad", "", "true"},
    {"optimizer", "alpha", "[optimizer]\nname = rmsprop\n", "0.9"},
    {"optimizer", "centered", "[optimizer]\nname = rmsprop\n", "true"},
    {"optimizer", "lr_decay", "[optimizer]\nname = adagrad\n", "0.01"},
    {"optimizer", "initial_accumulator_value", "[optimizer]\nname = adagrad\n", "0.1"},
    {"optimizer", "rho", "[optimizer]\nname = adadelta\n", "0.95"},
    {"schedule", "name", "", "cosine"},
    {"schedule", "unit", "[schedule]\nname = cosine\n", "step"}, /* t_max left to train */
    {"schedule", "step_size", "[schedule]\nname = step\n", "3"},
    {"schedule", "gamma", "[schedule]\nname = step\n", "0.5"},
    {"schedule", "t_max", "[schedule]\nname = cosine\n", "7"},
    {"schedule", "eta_min", "[schedule]\nname = cosine\n", "1e-4"},
    {"schedule", "warmup", "", "5"},
    {"schedule", "warmup_start_factor", "", "0.5"},
    {"train", "epochs", "", "7"},
    {"train", "batch_size", "", "64"},
    {"train", "seed", "", "42"},
    {"train", "threads", "", "2"},
    {"train", "bucket_mb", "", "8"},
    {"train", "piece_mflop", "", "2.5"},
    {"train", "overlap", "", "off"},
    {"train", "exchange", "", "zero1"},
    {"train", "deterministic", "", "true"},
    {"train", "deterministic_chunk", "", "16"},
    {"train", "accumulate", "", "4"},
    {"train", "early_stopping_patience", "", "4"},
    {"train", "early_stopping_metric", "", "val_acc"},
    {"train", "early_stopping_min_delta", "", "0.001"},
    {"train", "flush_denormals", "", "false"},
    {"train", "timeout", "", "60"},
    {"output", "dir", "", "out/x"},
    {"checkpoint", "dir", "", "ck"},
    {"checkpoint", "every_steps", "", "10"},
    {"checkpoint", "every_epochs", "", "2"},
    {"checkpoint", "keep", "", "5"},
    {"checkpoint", "resume", "", "auto"},
};
#define NEXAMPLES (sizeof examples / sizeof examples[0])

static char *print_config(const nt_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    nt_config_print(c, f);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* base + context + "[section]\nkey = value" (a model unless the key is layers itself) */
static void example_ini(char *buf, size_t n, size_t x, int with_value)
{
    int layers = with_value && !strcmp(examples[x].section, "model") && !strcmp(examples[x].key, "layers");
    snprintf(buf, n, "%s%s[%s]\n%s = %s\n", layers ? "" : "[model]\nlayers = 4, 8, 6, 3\n",
             examples[x].context, examples[x].section, with_value ? examples[x].key : "; ",
             with_value ? examples[x].value : "");
}

static const nt_config_key *key_named(const char *section, const char *key)
{
    size_t n;
    const nt_config_key *k = nt_config_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k[i].section, section) && !strcmp(k[i].key, key)) return &k[i];
    return NULL;
}

static int field_equal(const nt_config *a, const nt_config *b, const nt_config_key *k)
{
    return memcmp((const char *)a + k->offset, (const char *)b + k->offset, k->size) == 0;
}

/* For each key: set its example value, print, parse the text again; every field of the
 * table must be equal in both, and the example must differ from the default. */
static void test_every_key_round_trips(void **state)
{
    (void)state;
    size_t nkeys;
    const nt_config_key *keys = nt_config_keys(&nkeys);
    int bad = 0;
    for (size_t i = 0; i < nkeys; i++) {
        size_t x = 0;
        while (x < NEXAMPLES && (strcmp(examples[x].section, keys[i].section) ||
                                 strcmp(examples[x].key, keys[i].key)))
            x++;
        if (x == NEXAMPLES) {
            print_error("[%s] %s has no example value in test_config.c\n", keys[i].section, keys[i].key);
            bad++;
            continue;
        }
        char ini[1024];
        nt_config c0, c1, c2;
        nt_err e = {{0}};
        example_ini(ini, sizeof ini, x, 0);
        assert_int_equal(nt_config_parse_string(&c0, ini, "base", &e), 0);
        example_ini(ini, sizeof ini, x, 1);
        if (nt_config_parse_string(&c1, ini, "example", &e)) {
            print_error("[%s] %s = %s: %s\n", keys[i].section, keys[i].key, examples[x].value, e.msg);
            bad++;
            continue;
        }
        char *t1 = print_config(&c1);
        if (nt_config_parse_string(&c2, t1, "printed", &e)) {
            print_error("[%s] %s: the printed configuration does not parse: %s\n%s",
                        keys[i].section, keys[i].key, e.msg, t1);
            bad++;
            free(t1);
            continue;
        }
        /* the example changes its own field (or, for a shorthand, the key that records it) */
        const nt_config_key *own = keys[i].printed_as
                                       ? key_named(keys[i].section, keys[i].printed_as) : &keys[i];
        assert_non_null(own);
        if (field_equal(&c0, &c1, own)) {
            print_error("[%s] %s = %s does not change [%s] %s\n", keys[i].section, keys[i].key,
                        examples[x].value, own->section, own->key);
            bad++;
        }
        for (size_t j = 0; j < nkeys; j++) {
            if (keys[j].printed_as || field_equal(&c1, &c2, &keys[j])) continue;
            print_error("with [%s] %s = %s: [%s] %s differs after printing and parsing:\n%s",
                        keys[i].section, keys[i].key, examples[x].value, keys[j].section,
                        keys[j].key, t1);
            bad++;
        }
        char *t2 = print_config(&c2);
        if (strcmp(t1, t2)) {
            print_error("[%s] %s: printing the parsed text gives another text\n", keys[i].section,
                        keys[i].key);
            bad++;
        }
        free(t1);
        free(t2);
    }
    assert_int_equal(bad, 0);
}

/* A default written as one literal (`0.1`) must be what the parser leaves when the key is
 * not given: the README's default column cannot drift from defaults(). */
static void test_documented_defaults(void **state)
{
    (void)state;
    size_t nkeys;
    const nt_config_key *keys = nt_config_keys(&nkeys);
    const char *base = "[model]\nlayers = 4, 8, 6, 3\n";
    nt_config c0, c1;
    nt_err e = {{0}};
    assert_int_equal(nt_config_parse_string(&c0, base, "base", &e), 0);
    int checked = 0, bad = 0;
    for (size_t i = 0; i < nkeys; i++) {
        const char *d = keys[i].def;
        size_t len = strlen(d);
        /* one literal; "`<output.dir>/checkpoints`" describes a value, it is not one */
        if (len < 3 || d[0] != '`' || d[len - 1] != '`' || memchr(d + 1, '`', len - 2) ||
            strchr(d, '<'))
            continue;
        char ini[512];
        snprintf(ini, sizeof ini, "%s[%s]\n%s = %.*s\n", base, keys[i].section, keys[i].key,
                 (int)len - 2, d + 1);
        if (nt_config_parse_string(&c1, ini, "default", &e)) continue; /* e.g. `1/3` */
        checked++;
        if (!field_equal(&c0, &c1, &keys[i])) {
            print_error("[%s] %s: documented default %s is not the default\n", keys[i].section,
                        keys[i].key, d);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    if (checked < 30) fail_msg("only %d documented defaults could be checked", checked);
}

/* ---- errors: one message naming the origin, [section] key and value ---------------------- */

static void expect_error(const char *ini, const char *msg)
{
    nt_config c;
    nt_err e = {{0}};
    assert_int_equal(nt_config_parse_string(&c, ini, "t.ini", &e), -1);
    assert_string_equal(e.msg, msg);
}

static void test_errors(void **state)
{
    (void)state;
    const char *m = "[model]\nlayers = 2, 8, 2\n";
    char ini[512];
#define WITH(extra) (snprintf(ini, sizeof ini, "%s%s", m, extra), ini)
    expect_error(WITH("[extra]\na = 1\n"), "t.ini: unknown section [extra]");
    expect_error(WITH("[optimizer]\nlearning_rate = 3\n"),
                 "t.ini: unknown key 'learning_rate' in [optimizer]");
    expect_error(WITH("[train]\nepochs = 2\nepochs = 3\n"), "t.ini: [train] epochs is set twice");
    expect_error(WITH("[optimizer]\nlr = fast\n"), "t.ini: [optimizer] lr = 'fast' must be a positive number");
    expect_error(WITH("[train]\nbatch_size = 0\n"), "t.ini: [train] batch_size = '0' must be an integer >= 1");
    expect_error(WITH("[data]\nval_fraction = 1\n"), "t.ini: [data] val_fraction = '1' must be a number in [0, 1)");
    expect_error(WITH("[model]\nbias = maybe\n"), "t.ini: [model] bias = 'maybe' must be true or false");
    expect_error(WITH("[data]\npermutation = random\n"),
                 "t.ini: [data] permutation = 'random' must be auto, table or feistel");
    expect_error(WITH("[schedule]\nunit = hour\n"), "t.ini: [schedule] unit = 'hour' must be epoch or step");
    expect_error("[model]\nlayers = 2, x, 2\n", "t.ini: [model] layers = '2, x, 2': 'x' is not a positive integer");
    expect_error("[model]\nlayers = 2\n", "t.ini: [model] layers = '2' needs at least an input and an output size");
    expect_error(WITH("[model]\ndropout = 0.1, 1.5\n"),
                 "t.ini: [model] dropout = '0.1, 1.5': '1.5' is not a probability in [0, 1)");
    expect_error(WITH("[optimizer]\nrho = 0.5\n"), "t.ini: [optimizer] rho does not apply to adam");
    expect_error(WITH("[optimizer]\nname = sgd\nbeta1 = 0.5\n"), "t.ini: [optimizer] beta1 does not apply to sgd");
    expect_error("[train]\nepochs = 2\n", "t.ini: [model] layers is required");
    expect_error(WITH("[train]\nepochs\n"), "t.ini:4: malformed line (expected [section] or key = value)");
    expect_error(WITH("[loss]\nname = mse\nlabel_smoothing = 0.1\n"),
                 "t.ini: [loss] label_smoothing applies to cross_entropy");
#undef WITH
}

/* The valid names in a message come from src/core's catalogues: all of them, every time. */
static void test_error_lists_every_name(void **state)
{
    (void)state;
    static const struct { const char *key, *prefix; int count; } cases[] = {
        {"model]\nactivation", "t.ini: [model] activation = 'x' is not an activation (", NN_ACT_COUNT},
        {"optimizer]\nname", "t.ini: [optimizer] name = 'x' is not one of ", NN_OPT_COUNT},
        {"loss]\nname", "t.ini: [loss] name = 'x' is not one of ", NN_LOSS_COUNT},
        {"model]\ninit", "t.ini: [model] init = 'x' is not one of ", NN_INIT_COUNT},
        {"schedule]\nname", "t.ini: [schedule] name = 'x' is not one of ", NN_SCHED_COUNT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ini[256];
        snprintf(ini, sizeof ini, "[model]\nlayers = 2, 8, 2\n[%s = x\n", cases[i].key);
        nt_config c;
        nt_err e = {{0}};
        assert_int_equal(nt_config_parse_string(&c, ini, "t.ini", &e), -1);
        assert_true(strncmp(e.msg, cases[i].prefix, strlen(cases[i].prefix)) == 0);
        for (int j = 0; j < cases[i].count; j++) {
            const char *n = i == 0 ? nn_act_name((nn_act)j) : i == 1 ? nn_opt_name((nn_opt_kind)j)
                          : i == 2 ? nn_loss_name((nn_loss_kind)j) : i == 3 ? nn_init_name((nn_init_kind)j)
                          : nn_sched_name((nn_sched_kind)j);
            if (!strstr(e.msg, n)) fail_msg("'%s' missing from: %s", n, e.msg);
        }
    }
}

/* nt_config_load: the file, then --set overrides through the same table and checks. */
static void test_load_and_set_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/nt_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("[model]\nlayers = 2, 8, 2\n", f);
    fclose(f);
    nt_config c;
    nt_err e = {{0}};
    char want[600];
    assert_int_equal(nt_config_load(&c, path, NULL, 0, &e), -1);
    snprintf(want, sizeof want, "%s: [data] train is required", path);
    assert_string_equal(e.msg, want);
    char *sets[][2] = {{"data.train=x.h5", "train.epochs=two"},
                       {"data.train=x.h5", "model.foo=1"},
                       {"data.train=x.h5", "nodot"},
                       {"data.train=x.h5", "optimizer.momentum=0.5"}};
    const char *msgs[] = {"--set: [train] epochs = 'two' must be an integer >= 1",
                          "--set 'model.foo=1': unknown key 'foo' in [model]",
                          "--set 'nodot': expected section.key=value", NULL};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(nt_config_load(&c, path, sets[i], 2, &e), -1);
        if (msgs[i]) assert_string_equal(e.msg, msgs[i]);
    }
    snprintf(want, sizeof want, "%s: [optimizer] momentum does not apply to adam", path);
    assert_string_equal(e.msg, want);
    assert_int_equal(nt_config_load(&c, path, sets[0], 1, &e), 0);
    assert_string_equal(c.train, "x.h5");
    /* blanks around section, key and value mean what they mean in the file (libinih trims) */
    char *spaced[] = {"data.train = y.h5", " train . batch_size=\t 4 "};
    assert_int_equal(nt_config_load(&c, path, spaced, 2, &e), 0);
    assert_string_equal(c.train, "y.h5");
    assert_int_equal(c.batch_size, 4);
    unlink(path);
    assert_int_equal(nt_config_load(&c, path, NULL, 0, &e), -1);
    snprintf(want, sizeof want, "%s: cannot open config: No such file or directory", path);
    assert_string_equal(e.msg, want);
}

/* ---- the generated key reference in README.md and docs/nntrain.1 is current --------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static void expect_doc_current(const char *rel, int format, const char *fmt_name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", NT_SOURCE_DIR, rel);
    char *text = slurp(path), *want = NULL;
    nt_err e = {{0}};
    if (nt_config_doc_splice(text, format, &want, &e)) fail_msg("%s: %s", rel, e.msg);
    if (strcmp(text, want)) {
        const char *a = text, *b = want;
        int line = 1;
        while (*a && *a == *b) line += *a++ == '\n', b++;
        fail_msg("%s: the configuration key reference (line %d) differs from the key table in "
                 "src/worker/config.c; regenerate it: build/nntrain config-keys --format %s "
                 "--update %s", rel, line, fmt_name, rel);
    }
    free(text);
    free(want);
}

static void test_readme_key_table_is_generated(void **state)
{
    (void)state;
    expect_doc_current("README.md", NT_DOC_MARKDOWN, "markdown");
}

static void test_man_key_list_is_generated(void **state)
{
    (void)state;
    expect_doc_current("docs/nntrain.1", NT_DOC_MAN, "man");
}

/* The splice replaces exactly the lines between the markers, and needs both markers. */
static void test_doc_splice(void **state)
{
    (void)state;
    char *out = NULL;
    nt_err e = {{0}};
    assert_int_equal(nt_config_doc_splice("a\n<!-- BEGIN config-keys -->\nOLDLINE\n<!-- END config-keys -->\nz\n",
                                          NT_DOC_MARKDOWN, &out, &e), 0);
    assert_true(!strncmp(out, "a\n<!-- BEGIN config-keys -->\n| key | default | meaning |\n", 55));
    assert_null(strstr(out, "OLDLINE"));
    assert_non_null(strstr(out, "| `collective_reads` | `false` |"));
    const char *tail = "<!-- END config-keys -->\nz\n";
    assert_true(strlen(out) > strlen(tail) && !strcmp(out + strlen(out) - strlen(tail), tail));
    free(out);
    assert_int_equal(nt_config_doc_splice("no markers\n", NT_DOC_MAN, &out, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_round_trips),
        cmocka_unit_test(test_documented_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_lists_every_name),
        cmocka_unit_test(test_load_and_set_errors),
        cmocka_unit_test(test_doc_splice),
        cmocka_unit_test(test_readme_key_table_is_generated),
        cmocka_unit_test(test_man_key_list_is_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
