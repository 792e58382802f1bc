/* nndata check: validate a file for nntrain, i.e. the layout (layout.h) plus every label and
 * every /X value, and print a one-line summary or the first problem. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "usage.h"
#include "h5in.h"

int nd_check(const char *path, int check_norm, char *summary, size_t len, nt_err *e)
{
    struct h5quiet q;
    struct h5in h;
    int64_t k = 0;
    h5in_quiet_on(&q);
    int rc = h5in_open(path, check_norm ? 0 : LAYOUT_SKIP_NORM, &h, e);
    if (rc == 0) rc = h5in_check_y(path, &h, &k, e);
    /* uint8 values are always finite */
    if (rc == 0 && !h.L.x_u8) rc = h5in_x_blocks(path, &h, "", NULL, NULL, e);
    if (rc == 0) {
        char sc[48] = "", dt[16];
        if (h.L.has_scale) snprintf(sc, sizeof sc, ", scale %g", h.L.scale);
        if (h.L.mean) snprintf(sc + strlen(sc), sizeof sc - strlen(sc), ", mean/std");
        snprintf(summary, len, "(%lld x %lld, %s%s, %s, %lld %s)", (long long)h.L.n,
                 (long long)h.L.d, h5in_x_dtype(&h, dt, sizeof dt), sc,
                 h.L.targets ? "regression" : "classification", (long long)k,
                 h.L.targets ? (k == 1 ? "target" : "targets") : (k == 1 ? "class" : "classes"));
    }
    h5in_close(&h);
    h5in_quiet_off(&q);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    const char *pos[ND_MAXPOS];
    nn_cli cli = {.tool = "nndata", .cmd = "check", .pos = pos,
                  .maxpos = 1, .numbers_are_positional = 1,
                  .usage = "usage: nndata check FILE.h5\n"};
    nt_err e = {{0}};
    int rc = nn_cli_parse(&cli, argc - 1, argv + 1, &e);
    if (rc) return nn_cli_exit(&cli, rc, &e);
    int npos = cli.npos;
    if (npos != 1)
        return nd_fail(NT_EXIT_USAGE, "check", "expected FILE.h5, got %d arguments", npos);
    char summary[256];
    if ((rc = nd_check(pos[0], 1, summary, sizeof summary, &e)) != 0) return nd_report(rc, &e);
    printf("%s: ok %s\n", pos[0], summary);
    return NT_EXIT_OK;
}
