/* Replays a committed corpus through a fuzz harness without libFuzzer (the normal gcc build,
 * CTest fuzz_replay_*): every file given, or every file in every directory given, goes
 * through LLVMFuzzerTestOneInput once. A crash, a sanitizer report or an abort of the harness
 * fails the test; the count of inputs is printed. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "replay: cannot open %s\n", path); return -1; }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) { fprintf(stderr, "replay: cannot read %s\n", path); free(buf); return -1; }
    /* libFuzzer hands over exactly size bytes: a copy of that size, so an overread shows */
    uint8_t *in = malloc(n ? n : 1);
    if (!in) { free(buf); return -1; }
    memcpy(in, buf, n);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(in, n);
    free(in);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    int total = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "replay: no such file %s\n", argv[i]); failed++; continue; }
        if (!S_ISDIR(st.st_mode)) { failed += run_file(argv[i]) != 0; total++; continue; }
        DIR *d = opendir(argv[i]);
        if (!d) { failed++; continue; }
        char **names = NULL;
        size_t nn = 0;
        for (struct dirent *de; (de = readdir(d));) {
            if (de->d_name[0] == '.') continue;
            char **g = realloc(names, sizeof *names * (nn + 1));
            if (!g) break;
            names = g;
            size_t len = strlen(argv[i]) + strlen(de->d_name) + 2;
            if (!(names[nn] = malloc(len))) break;
            snprintf(names[nn++], len, "%s/%s", argv[i], de->d_name);
        }
        closedir(d);
        qsort(names, nn, sizeof *names, cmp); /* the same order every time */
        for (size_t k = 0; k < nn; k++) {
            failed += run_file(names[k]) != 0;
            total++;
            free(names[k]);
        }
        free(names);
    }
    printf("replay: %d inputs, %d unreadable\n", total, failed);
    return failed || total == 0 ? 1 : 0;
}
