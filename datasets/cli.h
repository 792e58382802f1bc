/* Shared by the nndata commands (nndata.c, import.c, tools.c): exit codes, the one-line error
 * printer, and strict value parsing (the whole string must be the value). */
#ifndef NN_CLI_H
#define NN_CLI_H
#include <stdint.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Print "nndata: error: WHAT: MESSAGE" and return code. */
int nd_fail(int code, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Decimal digits only (no sign, no spaces): strtoull alone would accept " 7" and "-1". */
int nd_all_digits(const char *s);
/* An integer in [1, max]; returns 0 or -1. */
int nd_parse_count(const char *s, long long max, long long *out);
int nd_parse_u64(const char *s, uint64_t *out);
/* A finite number; no leading white space. */
int nd_parse_double(const char *s, double *out);
/* Number of classes K = max label + 1 (labels are 0..K-1 by the layout's convention). */
int nd_count_classes(const int32_t *y, int64_t n);

#endif
