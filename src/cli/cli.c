/* getopt_long for every command of nntrain and nndata, with the tools' own messages
 * (opterr = 0), and the strict number parsers (see cli.h). */
#include "cli.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NN_VERSION
#define NN_VERSION "unknown"
#endif

/* getopt_long's val for --help, --version and vals[k] (OPT_VAL + k) */
enum { OPT_HELP = 'h', OPT_VERSION = 0x7f00, OPT_VAL = 0x7f10 };
#define MAX_OPTS 32

int nn_cli_fail(const nn_cli *cli, nt_err *e, const char *fmt, ...)
{
    char what[NT_ERRLEN / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!cli->cmd || !cli->cmd[0]) return nt_fail(e, "%s (try: %s --help)", what, cli->tool);
    return nt_fail(e, "%s for %s (try: %s %s --help)", what, cli->cmd, cli->tool, cli->cmd);
}

int nn_cli_exit(const nn_cli *cli, int rc, const nt_err *e)
{
    if (rc == NN_CLI_DONE) return NT_EXIT_OK;
    if (rc) fprintf(stderr, "%s: error: %s\n", cli->tool, e->msg);
    return rc;
}

/* The parse of one command line: the vector getopt sees ("-3" shown as "3" when numbers are
 * positionals) and the caller's. */
typedef struct {
    nn_cli *cli;
    const struct option *opts;
    int argc;
    char **av, **argv;
} parse;

/* The caller's string behind getopt's pointer s (undoes the shift of "-3" to "3"). */
static const char *orig(const parse *p, const char *s)
{
    for (int i = 0; i < p->argc; i++)
        if (p->av[i] != p->argv[i] && s == p->av[i]) return p->argv[i];
    return s;
}

static int looks_numeric(const char *a)
{
    return a[0] == '-' && (isdigit((unsigned char)a[1]) || a[1] == '.');
}

/* Does el ("--name" or "--name=value") spell the option's whole name? getopt_long also takes
 * unique abbreviations, which neither tool accepts: a script's "--conf" would change meaning
 * the day an option "--confirm" is added. */
static int exact(const char *el, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(el, "--", 2) && !strncmp(el + 2, name, n) &&
           (el[2 + n] == 0 || el[2 + n] == '=');
}

/* The message for getopt's '?' (unknown option, or a value given to a flag) and ':' (missing
 * value); `text` is the argument getopt stopped at. */
static int option_error(const parse *p, int c, const char *text, nt_err *e)
{
    if (c == ':') return nn_cli_fail(p->cli, e, "missing value after '%s'", text);
    if (optopt && optopt < 0x100 && strncmp(text, "--", 2) != 0)
        return nn_cli_fail(p->cli, e, "unknown option '-%c'", optopt);
    const char *eq = strchr(text, '=');
    if (!strncmp(text, "--", 2) && eq) {
        for (const struct option *o = p->opts; o->name; o++)
            if (o->has_arg == no_argument && strlen(o->name) == (size_t)(eq - text - 2) &&
                !strncmp(o->name, text + 2, strlen(o->name)))
                return nn_cli_fail(p->cli, e, "option '--%s' takes no value", o->name);
    }
    return nn_cli_fail(p->cli, e, "unknown option '%s'", text);
}

static int positional(nn_cli *cli, const char *arg, nt_err *e)
{
    if (cli->maxpos >= 0 && cli->npos >= cli->maxpos)
        return nn_cli_fail(cli, e, "unexpected argument '%s'", arg);
    if (cli->pos) {
        cli->pos[cli->npos++] = arg;
        return 0;
    }
    cli->npos++;
    return cli->on_opt(cli->user, NN_CLI_POS, arg, e);
}

/* One option c with value arg (NULL if none): stored, or given to on_opt. */
static int option(nn_cli *cli, int c, const char *arg, nt_err *e)
{
    if (c >= OPT_VAL) {
        const nn_cli_val *v = &cli->vals[c - OPT_VAL];
        *v->val = v->flag ? "" : arg;
        return 0;
    }
    return cli->on_opt(cli->user, c, arg, e);
}

int nn_cli_parse(nn_cli *cli, int argc, char **argv, nt_err *e)
{
    struct option opts[MAX_OPTS + 3];
    int n = 0;
    for (const struct option *o = cli->longopts; o && o->name && n < MAX_OPTS; o++) opts[n++] = *o;
    for (int k = 0; cli->vals && cli->vals[k].name && n < MAX_OPTS; k++)
        opts[n++] = (struct option){cli->vals[k].name,
                                    cli->vals[k].flag ? no_argument : required_argument, NULL,
                                    OPT_VAL + k};
    opts[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    opts[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    opts[n] = (struct option){0};
    /* '-': positional arguments come back in order as val 1; ':': ':' for a missing value */
    char shortopts[64];
    snprintf(shortopts, sizeof shortopts, "-:h%s", cli->shortopts ? cli->shortopts : "");

    parse p = {cli, opts, argc, argv, argv};
    if (cli->numbers_are_positional) {
        if (!(p.av = malloc(((size_t)argc + 1) * sizeof *p.av)))
            return nt_fail(e, "out of memory"), NT_EXIT_RUNTIME;
        for (int i = 0; i <= argc; i++)
            p.av[i] = i > 0 && i < argc && looks_numeric(argv[i]) ? argv[i] + 1 : argv[i];
    }
    cli->npos = 0;
    int status = 0, done = 0, c;
    opterr = 0;
    optind = 0; /* glibc: a full reset, so a second parse in one process starts afresh */
    for (;;) {
        int cur = optind > 0 ? optind : 1, li = -1; /* the element getopt looks at next */
        if ((c = getopt_long(argc, p.av, shortopts, opts, &li)) == -1) break;
        if (li >= 0 && cur < argc && !strncmp(p.av[cur], "--", 2) &&
            !exact(p.av[cur], opts[li].name)) {
            if (!status && !done) {
                status = NT_EXIT_USAGE;
                nn_cli_fail(cli, e, "unknown option '%s'", p.av[cur]);
            }
            continue;
        }
        if (c == OPT_HELP || c == OPT_VERSION) {
            if (done) continue;
            if (c == OPT_HELP) fputs(cli->usage, stdout);
            else printf("%s %s\n", cli->tool, NN_VERSION);
            done = 1;
        } else if (status) {
            continue; /* the first error is the one reported; --help may still follow */
        } else if (c == 1) {
            if (positional(cli, orig(&p, optarg), e)) status = NT_EXIT_USAGE;
        } else if (c == '?' || c == ':') {
            status = NT_EXIT_USAGE;
            option_error(&p, c, orig(&p, p.av[optind - 1 < argc ? optind - 1 : argc - 1]), e);
        } else if (option(cli, c, optarg ? orig(&p, optarg) : NULL, e)) {
            status = NT_EXIT_USAGE;
        }
    }
    /* after "--": the rest are positionals */
    for (int i = optind; !status && !done && i < argc; i++)
        if (positional(cli, argv[i], e)) status = NT_EXIT_USAGE;
    if (p.av != argv) free(p.av);
    return done ? NN_CLI_DONE : status;
}

/* ---- numbers ------------------------------------------------------------------------------- */

int nn_all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

int nn_parse_long(const char *s, long *out)
{
    /* strtol skips leading white space; the whole-string rule forbids it */
    if (!*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno) return -1;
    *out = v;
    return 0;
}

int nn_parse_u64(const char *s, uint64_t *out)
{
    /* digits only: strtoull alone would take " 7", "+7" and "-1" (as 2^64 - 1) */
    if (!nn_all_digits(s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

int nn_parse_double(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int nn_parse_count(const char *s, long long max, long long *out)
{
    if (!nn_all_digits(s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < 1 || v > max) return -1;
    *out = v;
    return 0;
}

char *nn_trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
}
