/* Using a trained model: `nntrain eval` (loss, accuracy or RMSE/MAE, per-class precision and
 * recall, confusion matrix) and `nntrain predict` (/probabilities or /outputs and /predictions
 * in a new HDF5 file, written collectively), both sharded across ranks. The model comes from
 * a checkpoint (its /config) or a model.h5 (/model shapes and attributes). */
#ifndef NT_INFER_H
#define NT_INFER_H
#include "comm.h"
#include "config.h"
#include "util.h"

typedef struct {
    const char *checkpoint, *data, *out;
    const char *loss;  /* override when the file does not say (e.g. exported from PyTorch) */
    int overwrite, quiet;
    double cache_mb;        /* bound on the rows read at once (MiB; 0: 1024) */
} nt_infer_opts;

/* Collective: the configuration of the model stored in path. */
int nt_model_config_from_file(const char *path, const char *loss_override, nt_config *cfg,
                              comm_t *c, nt_err *e);
int nt_eval(const nt_infer_opts *o, comm_t *c);
int nt_predict(const nt_infer_opts *o, comm_t *c);

#endif
