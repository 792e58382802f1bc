/* `nntrain summary --config FILE [--batch B]`: layers, shapes, parameter counts, bytes,
 * mult-adds, like torchinfo. Needs no data and no MPI. */
#ifndef NT_SUMMARY_H
#define NT_SUMMARY_H
#include "config.h"
#include <stdio.h>

void nt_summary_print(const nt_config *c, long batch, FILE *f);

#endif
