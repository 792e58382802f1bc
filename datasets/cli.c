/* nndata's shared command-line helpers (see cli.h). */
#include "cli.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int nd_fail(int code, const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "nndata: error: %s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int nd_all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

int nd_parse_count(const char *s, long long max, long long *out)
{
    if (!nd_all_digits(s)) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 1 || v > max) return -1;
    *out = v;
    return 0;
}

int nd_parse_u64(const char *s, uint64_t *out)
{
    if (!nd_all_digits(s)) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int nd_parse_double(const char *s, double *out)
{
    /* strtod skips leading white space; the whole-string rule forbids it. */
    if (!*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int nd_count_classes(const int32_t *y, int64_t n)
{
    int32_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (y[i] + 1 > k) k = y[i] + 1;
    return k;
}
