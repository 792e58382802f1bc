/* model.h5: /model/layer{i}/weight (out, in) float32, /model/layer{i}/bias (out), each layer
 * group with an "activation" string attribute; root attributes format_version and
 * nntrain_version. Written collectively through MPI-IO: each rank writes a contiguous block
 * of every layer's rows (no gather to rank 0), to NAME.tmp, then renamed into place. */
#ifndef NT_MODELIO_H
#define NT_MODELIO_H
#include "comm.h"
#include "model.h"
#include "util.h"

#define NT_MODEL_FORMAT_VERSION 1

/* Collective. Returns this rank's status; the caller agrees. */
int nt_model_save(const nn_model *m, const char *path, comm_t *c, nt_err *e);

/* Collective read of a model.h5 into m's parameters (shapes must match). */
int nt_model_load(nn_model *m, const char *path, comm_t *c, nt_err *e);

#endif
