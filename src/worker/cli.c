/* getopt_long for every nntrain command, with nntrain's own messages (opterr = 0). */
#include "cli.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { OPT_HELP = 'h', OPT_VERSION = 0x7f00 };
#define MAX_OPTS 32

int nt_cli_fail(const nt_cli *cli, nt_err *e, const char *fmt, ...)
{
    char what[NT_ERRLEN / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!cli->cmd[0]) return nt_fail(e, "%s (try: nntrain --help)", what);
    return nt_fail(e, "%s for %s (try: nntrain %s --help)", what, cli->cmd, cli->cmd);
}

/* The message for getopt's '?' (unknown option, or a value given to a flag) and ':' (missing
 * value); `text` is the argument getopt stopped at. */
static int option_error(const nt_cli *cli, int c, const char *text, nt_err *e)
{
    if (c == ':') return nt_cli_fail(cli, e, "missing value after '%s'", text);
    if (optopt && optopt < 0x100 && strncmp(text, "--", 2) != 0)
        return nt_cli_fail(cli, e, "unknown option '-%c'", optopt);
    const char *eq = strchr(text, '=');
    if (!strncmp(text, "--", 2) && eq) {
        for (const struct option *o = cli->longopts; o && o->name; o++)
            if (o->has_arg == no_argument && strlen(o->name) == (size_t)(eq - text - 2) &&
                !strncmp(o->name, text + 2, strlen(o->name)))
                return nt_cli_fail(cli, e, "option '--%s' takes no value", o->name);
    }
    return nt_cli_fail(cli, e, "unknown option '%s'", text);
}

/* Does el ("--name" or "--name=value") spell the option's whole name? getopt_long also takes
 * unique abbreviations, which neither tool accepts: a script's "--conf" would change meaning
 * the day an option "--confirm" is added (datasets/cli.c refuses them the same way). */
static int exact(const char *el, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(el, "--", 2) && !strncmp(el + 2, name, n) && (el[2 + n] == 0 || el[2 + n] == '=');
}

int nt_cli_parse(const nt_cli *cli, int argc, char **argv, nt_err *e)
{
    struct option opts[MAX_OPTS + 3];
    int n = 0;
    for (const struct option *o = cli->longopts; o && o->name && n < MAX_OPTS; o++) opts[n++] = *o;
    opts[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    opts[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    opts[n] = (struct option){0};
    /* '-': positional arguments come back in order as val 1; ':': ':' for a missing value */
    char shortopts[64];
    snprintf(shortopts, sizeof shortopts, "-:h%s", cli->shortopts ? cli->shortopts : "");

    int status = 0, done = 0, c;
    opterr = 0;
    optind = 0; /* glibc: a full reset, so a second parse in one process starts afresh */
    for (;;) {
        int cur = optind > 0 ? optind : 1, li = -1; /* the element getopt looks at next */
        if ((c = getopt_long(argc, argv, shortopts, opts, &li)) == -1) break;
        if (li >= 0 && cur < argc && !strncmp(argv[cur], "--", 2) && !exact(argv[cur], opts[li].name)) {
            if (!status && !done) {
                status = NT_EXIT_USAGE;
                nt_cli_fail(cli, e, "unknown option '%s'", argv[cur]);
            }
            continue;
        }
        if (c == OPT_HELP || c == OPT_VERSION) {
            if (done) continue;
            if (c == OPT_HELP) fputs(cli->usage, stdout);
            else printf("nntrain %s\n", NN_VERSION);
            done = 1;
        } else if (status) {
            continue; /* the first error is the one reported; --help may still follow */
        } else if (c == 1 && !cli->positional) {
            status = NT_EXIT_USAGE;
            nt_cli_fail(cli, e, "unexpected argument '%s'", optarg);
        } else if (c == '?' || c == ':') {
            status = NT_EXIT_USAGE;
            option_error(cli, c, argv[optind - 1 < argc ? optind - 1 : argc - 1], e);
        } else if (cli->on_opt(cli->user, c, optarg, e)) {
            status = NT_EXIT_USAGE;
        }
    }
    return done ? NT_CLI_DONE : status;
}
