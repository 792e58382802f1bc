/* Fuzz harness: the configuration parser and the --set overrides.
 * Input: INI text, optionally a 0 byte, then --set arguments one per line. The text goes to
 * a file read by nt_config_load (as `nntrain train --config`), the lines are the overrides.
 * Errors are fine; crashes, leaks, hangs and sanitizer reports are findings. A configuration
 * that loads must also survive the round trip a checkpoint makes (nt_config_print, the text
 * parsed back, printed again: the same text), as config.h promises. */
#include "config.h"
#include "fuzz_util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    return 0;
}

static char *print_config(const nt_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) abort();
    nt_config_print(c, f);
    if (fclose(f) != 0) abort();
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static nt_config c, back; /* large (paths): not on the stack */
    const uint8_t *zero = memchr(data, 0, size);
    size_t ini_len = zero ? (size_t)(zero - data) : size;
    const char *path = fz_write(data, ini_len, "config.ini");

    /* the overrides: the bytes after the 0, split at newlines */
    char *rest = NULL, *sets[MAX_SETS];
    int nsets = 0;
    if (zero) {
        size_t n = size - ini_len - 1;
        rest = malloc(n + 1);
        if (!rest) return 0;
        memcpy(rest, zero + 1, n);
        rest[n] = 0;
        for (char *s = rest; s && nsets < MAX_SETS;) {
            char *nl = strchr(s, '\n');
            if (nl) *nl = 0;
            sets[nsets++] = s;
            s = nl ? nl + 1 : NULL;
        }
    }
    nt_err e = {{0}};
    int rc = nt_config_load(&c, path, sets, nsets, &e);
    fz_note("nt_config_load", rc, e.msg);
    if (rc == 0) {
        char *t1 = print_config(&c);
        nt_err e2 = {{0}};
        if (nt_config_parse_string(&back, t1, "printed", &e2) != 0) {
            fprintf(stderr, "fuzz: the printed configuration does not parse back: %s\n--\n%s--\n",
                    e2.msg, t1);
            abort();
        }
        char *t2 = print_config(&back);
        if (strcmp(t1, t2) != 0) {
            fprintf(stderr, "fuzz: the configuration changed in the round trip:\n--\n%s--\n%s--\n", t1, t2);
            abort();
        }
        free(t1);
        free(t2);
    }
    free(rest);
    return 0;
}
