/* nndata import-idx, import-csv and import-npy: parse the input (idx.h, import.h), write the
 * nntrain layout (h5data.h) and print a one-line summary. The readers' and the writer's
 * return values are the exit status (usage.h): NT_EXIT_INPUT for a bad input, NT_EXIT_RUNTIME
 * for a write error or out of memory. */
#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "usage.h"
#include "h5data.h"
#include "idx.h"
#include "import.h"

int cmd_import_idx(int argc, char **argv)
{
    const char *pos[ND_MAXPOS];
    nn_cli cli = {.tool = "nndata", .cmd = "import-idx", .usage = nd_usage_text, .pos = pos,
                  .maxpos = 3, .numbers_are_positional = 1};
    nt_err e = {{0}};
    int rc = nn_cli_parse(&cli, argc - 1, argv + 1, &e);
    if (rc) return nn_cli_exit(&cli, rc, &e);
    int npos = cli.npos;
    if (npos != 3)
        return nd_fail(NT_EXIT_USAGE, "import-idx", "expected IMAGES LABELS OUT.h5, got %d argument%s",
                       npos, npos == 1 ? "" : "s");
    const char *images = pos[0], *labels = pos[1], *out = pos[2];

    uint8_t *pix = NULL, *lab = NULL;
    int32_t *y = NULL;
    int64_t n = 0, rows = 0, cols = 0, nl = 0;
    if ((rc = idx_read_images(images, &pix, &n, &rows, &cols, &e)) != 0 ||
        (rc = idx_read_labels(labels, &lab, &nl, &e)) != 0)
        goto done;
    rc = NT_EXIT_INPUT;
    if (nl != n) {
        nt_fail(&e, "%s: %lld labels, but %s has %lld images", labels, (long long)nl, images,
                (long long)n);
        goto done;
    }
    if (rows * cols == 0) {
        nt_fail(&e, "%s: empty images (%lld x %lld pixels)", images, (long long)rows,
                (long long)cols);
        goto done;
    }
    y = malloc((n > 0 ? (size_t)n : 1) * sizeof *y);
    if (!y) {
        nt_fail(&e, "%s: out of memory", labels);
        rc = NT_EXIT_RUNTIME;
        goto done;
    }
    for (int64_t i = 0; i < n; i++) y[i] = lab[i];
    /* Pixels stay uint8 on disk (4x smaller than float); the reader multiplies by 1/255. */
    if ((rc = h5data_write(out, n, rows * cols, pix, NULL, 1.0f / 255.0f, y, &e)) != 0)
        goto done;
    printf("%s: %lld x %lld uint8, %d classes\n", out, (long long)n, (long long)(rows * cols),
           nd_count_classes(y, n));
    rc = 0;
done:
    free(pix);
    free(lab);
    free(y);
    return rc ? nd_report(rc, &e) : NT_EXIT_OK;
}

/* Write s to out and print the one-line summary. */
static int write_out(const char *out, struct imp_data *s, float scale)
{
    nt_err e;
    int r = s->yf ? h5data_write_regression(out, s->n, s->d, s->x_u8, s->x_f32, scale, s->yf,
                                            s->k, &e)
                  : h5data_write(out, s->n, s->d, s->x_u8, s->x_f32, scale, s->y, &e);
    if (r != 0) return nd_report(r, &e);
    printf("%s: %lld x %lld %s, ", out, (long long)s->n, (long long)s->d,
           s->x_u8 ? "uint8" : "float32");
    if (s->yf)
        printf("regression (%lld target%s)\n", (long long)s->k, s->k == 1 ? "" : "s");
    else
        printf("%d classes\n", nd_count_classes(s->y, s->n));
    return NT_EXIT_OK;
}

int cmd_import_csv(int argc, char **argv)
{
    const char *cmd = "import-csv", *label = NULL, *delim_s = NULL, *no_header = NULL,
               *regression = NULL, *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"label", 0, &label},
                               {"delimiter", 0, &delim_s},
                               {"no-header", 1, &no_header},
                               {"regression", 1, &regression},
                               {NULL, 0, NULL}};
    nn_cli cli = {.tool = "nndata", .cmd = cmd, .usage = nd_usage_text, .vals = opts,
                  .pos = pos, .maxpos = 2};
    nt_err e = {{0}};
    int rc = nn_cli_parse(&cli, argc - 1, argv + 1, &e);
    if (rc) return nn_cli_exit(&cli, rc, &e);
    int npos = cli.npos;
    if (npos != 2)
        return nd_fail(NT_EXIT_USAGE, cmd, "expected IN.csv OUT.h5, got %d argument%s", npos,
                       npos == 1 ? "" : "s");
    if (!label) return nd_fail(NT_EXIT_USAGE, cmd, "--label COLUMN is required");
    if (!*label) return nd_fail(NT_EXIT_USAGE, "--label", "must not be empty");
    char delim = ',';
    if (delim_s) {
        if (strcmp(delim_s, "\\t") == 0 || strcmp(delim_s, "tab") == 0)
            delim = '\t';
        else if (strlen(delim_s) == 1 && !strchr("\"\r\n", delim_s[0]))
            delim = delim_s[0];
        else
            return nd_fail(NT_EXIT_USAGE, delim_s,
                           "--delimiter must be one character (not a quote), or 'tab'");
    }
    struct imp_data s;
    if ((rc = import_csv(pos[0], label, no_header ? IMP_HEADER_NO : IMP_HEADER_AUTO,
                         regression != NULL, delim, &s, &e)) != 0)
        return nd_report(rc, &e);
    rc = write_out(pos[1], &s, 0.0f);
    imp_free(&s);
    return rc;
}

int cmd_import_npy(int argc, char **argv)
{
    const char *cmd = "import-npy", *scale_s = NULL, *regression = NULL, *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"scale", 0, &scale_s}, {"regression", 1, &regression},
                               {NULL, 0, NULL}};
    nn_cli cli = {.tool = "nndata", .cmd = cmd, .usage = nd_usage_text, .vals = opts,
                  .pos = pos, .maxpos = 3};
    nt_err e = {{0}};
    int rc = nn_cli_parse(&cli, argc - 1, argv + 1, &e);
    if (rc) return nn_cli_exit(&cli, rc, &e);
    int npos = cli.npos;
    if (npos != 3)
        return nd_fail(NT_EXIT_USAGE, cmd, "expected X.npy Y.npy OUT.h5, got %d argument%s", npos,
                       npos == 1 ? "" : "s");
    float scale = 0.0f;
    if (scale_s) {
        char *end = NULL;
        errno = 0;
        double v = 0;
        if (*scale_s && !isspace((unsigned char)*scale_s)) v = strtod(scale_s, &end);
        if (!end || errno || *end || !isfinite(v) || v <= 0 || v > FLT_MAX)
            return nd_fail(NT_EXIT_USAGE, scale_s, "--scale must be a finite number > 0");
        scale = (float)v;
    }
    struct imp_data s;
    if ((rc = import_npy(pos[0], pos[1], regression != NULL, &s, &e)) != 0)
        return nd_report(rc, &e);
    if (scale_s && !s.x_u8) { /* a value that does not fit the input file: bad input */
        imp_free(&s);
        return nd_fail(NT_EXIT_INPUT, pos[0], "--scale applies to uint8 X only (this X is float)");
    }
    rc = write_out(pos[2], &s, scale);
    imp_free(&s);
    return rc;
}
