/* Test helper: writes deliberately bad dataset files that nndata refuses to produce.
 *   nt_mkdata badlabel OUT.h5   200 rows x 2, labels 0/1 except /y[150] = 7
 *   nt_mkdata empty OUT.h5      0 rows x 2
 *   nt_mkdata nan OUT.h5        200 rows x 2, labels 0/1, /X[123, 1] = NaN */
#include <math.h>
#include "h5data.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: nt_mkdata badlabel|empty|nan OUT.h5\n"); return 2; }
    static float x[200 * 2];
    static int32_t y[200];
    nt_err err;
    int64_t n = 0;
    if (!strcmp(argv[1], "badlabel") || !strcmp(argv[1], "nan")) {
        n = 200;
        for (int i = 0; i < 200; i++) {
            x[2 * i] = (float)i / 200;
            x[2 * i + 1] = (float)(i % 7) / 7;
            y[i] = i % 2;
        }
        if (!strcmp(argv[1], "badlabel")) y[150] = 7;
        else x[2 * 123 + 1] = NAN;
    } else if (strcmp(argv[1], "empty") != 0) {
        fprintf(stderr, "nt_mkdata: unknown kind %s\n", argv[1]);
        return 2;
    }
    if (h5data_write(argv[2], n, 2, NULL, x, 0, y, &err)) {
        fprintf(stderr, "nt_mkdata: %s\n", err.msg);
        return 1;
    }
    return 0;
}
