/* `nntrain summary`: a torchinfo-style table of the configured model. */
#include "summary.h"
#include <stdio.h>

/* 1234567 -> "1,234,567" */
static const char *commas(long long v, char *buf, size_t n)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%lld", v < 0 ? -v : v), o = 0;
    if (v < 0 && o < (int)n - 1) buf[o++] = '-';
    for (int i = 0; i < len && o < (int)n - 1; i++) {
        buf[o++] = tmp[i];
        if ((len - i - 1) % 3 == 0 && i < len - 1 && o < (int)n - 1) buf[o++] = ',';
    }
    buf[o] = 0;
    return buf;
}

void nt_summary_print(const nt_config *c, long batch, FILE *f)
{
    const int L = c->nsizes - 1;
    long long total = 0, macs = 0;
    char b1[32], b2[32], in[48], out[48];
    const char *rule = "------------------------------------------------------------------------------------";
    fprintf(f, "%s\n%-16s %-15s %-15s %-12s %8s %12s\n%s\n", rule, "Layer (type)", "Input shape",
            "Output shape", "Activation", "Dropout", "Param #", rule);
    for (int l = 0; l < L; l++) {
        long long nin = c->sizes[l], nout = c->sizes[l + 1];
        long long params = nin * nout + (c->bias ? nout : 0);
        total += params;
        macs += nin * nout * batch;
        char name[32];
        snprintf(name, sizeof name, "layer%d (Linear)", l);
        snprintf(in, sizeof in, "[%ld, %lld]", batch, nin);
        snprintf(out, sizeof out, "[%ld, %lld]", batch, nout);
        double p = c->ndropout && l < L - 1 ? c->dropout[l] : 0;
        char drop[16] = "-";
        if (p > 0) snprintf(drop, sizeof drop, "%.2f", p);
        fprintf(f, "%-16s %-15s %-15s %-12s %8s %12s\n", name, in, out, nn_act_name(c->acts[l]),
                drop, commas(params, b1, sizeof b1));
    }
    fprintf(f, "%s\n", rule);
    fprintf(f, "Total params: %s (all trainable)\n", commas(total, b1, sizeof b1));
    int slots = nn_optim_slots(&c->opt);
    fprintf(f, "Parameter bytes: %.2f MiB float32; gradients %.2f MiB; %s state %.2f MiB "
               "(%d per parameter)\n", total * 4.0 / 1048576, total * 4.0 / 1048576,
            nn_opt_name(c->opt.kind), slots * total * 4.0 / 1048576, slots);
    fprintf(f, "Mult-adds per forward pass of %ld: %s (%.2f M)\n", batch, commas(macs, b2, sizeof b2),
            macs / 1e6);
    fprintf(f, "Loss: %s   Optimizer: %s lr %g   Init: %s%s\n", nn_loss_name(c->loss.kind),
            nn_opt_name(c->opt.kind), c->opt.lr, nn_init_name(c->init), c->bias ? "" : ", no bias");
    fprintf(f, "%s\n", rule);
}
