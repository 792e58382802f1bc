/* model.h5: /model/layer{i}/weight (out, in) float32, /model/layer{i}/bias (out), each layer
 * group with an "activation" string attribute; root attributes format_version and
 * nntrain_version. Written collectively through MPI-IO: each rank writes a contiguous block
 * of every layer's rows (no gather to rank 0), to NAME.tmp, then renamed into place. */
#ifndef NT_MODELIO_H
#define NT_MODELIO_H
#include "comm.h"
#include "model.h"
#include "util.h"
#include <hdf5.h>

#define NT_MODEL_FORMAT_VERSION 1

/* The per-feature standardisation of the training data (/X attributes mean, std), recorded
 * in /model as attributes input_mean and input_std so a reader (eval, predict, PyTorch)
 * prepares inputs the same way; mean == NULL: the inputs were used as stored (x scale).
 * scale: the training data's /X@scale (1 without one), recorded as /model@input_scale so an
 * exported model can take the stored values themselves (nntrain export --raw-input); 0: not
 * known, not written. */
typedef struct { const float *mean, *std; int64_t d; float scale; } nt_input_norm;

/* Collective. Returns this rank's status; the caller agrees. */
int nt_model_save(const nn_model *m, const char *loss, const nt_input_norm *norm, const char *path,
                  comm_t *c, nt_err *e);

/* Collective read of a model.h5 into m's parameters (shapes must match). */
int nt_model_load(nn_model *m, const char *path, comm_t *c, nt_err *e);

/* Building blocks shared with checkpoints (all collective): create TMP / open PATH with the
 * MPI-IO driver; write the root attributes and the /model group; read /model (shapes must
 * match m, else an error naming PATH and the layer); close, agree and rename TMP to PATH. */
hid_t nt_h5_create(const char *tmp, comm_t *c);
hid_t nt_h5_open(const char *path, comm_t *c);
int nt_model_write(hid_t f, const nn_model *m, const char *loss, const nt_input_norm *norm, comm_t *c,
                   const char *path, nt_err *e);
/* Whether two standardisations are the same: both absent, or equal mean (and std, where both
 * have one). */
int nt_norm_equal(const nt_input_norm *a, const nt_input_norm *b);
/* Whether data standardised with (mean, std) (NULL: not standardised) is prepared as the
 * model in FILE f expects: 0, or -1 with a message naming model_path and data_path. */
int nt_model_check_norm(hid_t f, const char *model_path, const char *data_path, const float *mean,
                        const float *std, int64_t d, nt_err *e);
int nt_model_read(hid_t f, const char *path, nn_model *m, nt_err *e);
int nt_h5_commit(hid_t f, const char *tmp, const char *path, int status, comm_t *c, nt_err *e);
/* Attribute writers (collective). path names the file in e's message when a call fails. */
int nt_h5_attr_str(hid_t obj, const char *name, const char *val, const char *path, nt_err *e);
int nt_h5_attr_float(hid_t obj, const char *name, float val, const char *path, nt_err *e);
/* a scalar attribute of file type ftype from *v of memory type mtype (collective) */
int nt_h5_attr_num(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v,
                   const char *path, nt_err *e);
/* A numeric attribute `name` of obj holding exactly one value (scalar, or an array of one),
 * read as mtype into *v. A file's attribute of more values is an error, never read: it would
 * overrun *v. Returns 0 or -1 with e = "PATH: ..." (e may be NULL). */
int nt_h5_read_attr1(hid_t obj, const char *name, hid_t mtype, void *v, const char *path, nt_err *e);
/* a string attribute (fixed or variable length, one string), malloc'd; NULL when absent or
 * not one string */
char *nt_h5_read_str(hid_t obj, const char *name);
int nt_h5_attr_int(hid_t obj, const char *name, int val, const char *path, nt_err *e);
/* rows [lo, hi) of a (rows, cols) float tensor (cols 0: 1-D) to/from dataset d */
int nt_h5_rows_io(hid_t d, int write, float *buf, int64_t rows, int64_t cols, int64_t lo,
                  int64_t hi, hid_t xfer, const char *path, nt_err *e);

#endif
