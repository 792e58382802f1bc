/* nntrain export: a model.h5 or checkpoint (/model) as a standard ONNX model, opset 13:
 * input "input" (float, [N, D]) -> Sub input_mean / Div input_std (when the model records a
 * standardisation) -> per layer Gemm (transB = 1) and its activation as ONNX operators ->
 * optionally Softmax / Sigmoid -> output "logits" ("outputs" for regression, "probabilities").
 * The messages are the C structs protoc-c generated from Debian's onnx.proto at build time;
 * libprotobuf-c encodes them. Read serially (no MPI): HDF5 with its default driver. */
#include "export.h"
#include "cli.h"
#include "kernels.h"
#include "layout.h"
#include "modelio.h"
#include "util.h"
#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <onnx.pb-c.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* raw_data of an ONNX tensor is little-endian: the floats are passed as they are in memory */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nntrain export writes float tensors as raw little-endian bytes"
#endif

static const char *export_usage =
    "usage: nntrain export MODEL.h5 OUT.onnx [--probabilities] [--raw-input] [--overwrite]\n"
    "\n"
    "Writes the model in MODEL.h5 (model.h5 or a checkpoint) as an ONNX model (opset 13, IR\n"
    "version 7): input \"input\" (float32, [N, D], N dynamic) holding the features as nntrain\n"
    "reads them (stored value x /X@scale, before standardisation); the model's input\n"
    "standardisation as Sub/Div nodes; one Gemm per layer with its activation as ONNX\n"
    "operators; output \"logits\" (\"outputs\" for a regression model). No MPI.\n"
    "\n"
    "options:\n"
    "  --probabilities        end with Softmax (cross_entropy) or Sigmoid (bce_with_logits);\n"
    "                         the output is then \"probabilities\", as nntrain predict writes\n"
    "  --raw-input            the input is the stored values themselves (e.g. 0-255 pixels): the\n"
    "                         graph starts with Mul by the training data's /X@scale, which the\n"
    "                         model records as /model@input_scale\n"
    "  --overwrite            replace an existing OUT.onnx\n"
    "\n"
    "OUT.onnx is written to OUT.onnx.tmp and renamed when complete.\n"
    "exit codes: 0 ok, 1 OUT.onnx cannot be written, 2 usage error, 3 bad input (MODEL.h5 is\n"
    "            not an nntrain model or checkpoint, OUT.onnx exists)\n";

/* ---- the model as the file holds it --------------------------------------------------- */

typedef struct {
    int in, out;
    float *w, *b; /* (out, in), (out) or NULL */
    nn_act act;
    float p;      /* leaky_relu's negative_slope, elu's alpha */
} xlayer;

typedef struct {
    int n;
    xlayer *L;
    float *mean, *std; /* input standardisation (L[0].in values each) or NULL */
    float scale;       /* /model@input_scale: the training data's /X@scale */
    int has_scale;     /* the model records it (nntrain since input_scale was added) */
    nn_loss_kind loss;
    char *config;      /* /config text (checkpoints) or NULL */
    char *version;     /* the root attribute nntrain_version or NULL */
} xmodel;

static void xmodel_free(xmodel *m)
{
    for (int l = 0; l < m->n; l++) { free(m->L[l].w); free(m->L[l].b); }
    free(m->L);
    free(m->mean);
    free(m->std);
    free(m->config);
    free(m->version);
}

/* A float dataset NAME of group g with `rank` dimensions (each <= INT_MAX), read whole
 * into a malloc'd *out; dims receives its shape. 0 or an NT_EXIT_* code with e set. */
static int read_floats(hid_t g, const char *name, int rank, hsize_t dims[2], float **out,
                       const char *path, const char *where, nt_err *e)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), s = H5I_INVALID_HID, t = H5I_INVALID_HID;
    int st = 0;
    if (d < 0) return nt_fail(e, "%s: cannot open %s/%s", path, where, name), NT_EXIT_INPUT;
    if ((s = H5Dget_space(d)) < 0 || (t = H5Dget_type(d)) < 0 || H5Sget_simple_extent_ndims(s) != rank ||
        H5Sget_simple_extent_dims(s, dims, NULL) != rank) {
        st = nt_fail(e, "%s: %s/%s is not a %d-D dataset", path, where, name, rank);
    } else if (H5Tget_class(t) != H5T_FLOAT) {
        st = nt_fail(e, "%s: %s/%s is not floating point", path, where, name);
    } else {
        size_t n = 1;
        for (int i = 0; i < rank; i++) {
            if (dims[i] < 1 || dims[i] > INT_MAX) {
                st = nt_fail(e, "%s: %s/%s has a dimension of %llu", path, where, name,
                             (unsigned long long)dims[i]);
                break;
            }
            n *= (size_t)dims[i];
        }
        if (!st && !(*out = malloc(n * sizeof(float))))
            st = nt_fail(e, "%s: out of memory for %s/%s", path, where, name), st = NT_EXIT_RUNTIME;
        else if (!st && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
            st = nt_fail(e, "%s: cannot read %s/%s", path, where, name);
    }
    if (t >= 0) H5Tclose(t); /* read-only handles: a failed close changes nothing read */
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return st == NT_EXIT_RUNTIME ? st : st ? NT_EXIT_INPUT : 0;
}

/* /model/layer{l} (group lg): weight, bias, activation and its parameter. */
static int read_layer(hid_t lg, int l, int prev_out, xlayer *L, const char *path, nt_err *e)
{
    char where[64];
    snprintf(where, sizeof where, "/model/layer%d", l);
    hsize_t wd[2] = {0, 0}, bd[2] = {0, 0};
    int st = read_floats(lg, "weight", 2, wd, &L->w, path, where, e);
    if (st) return st;
    L->out = (int)wd[0];
    L->in = (int)wd[1];
    if (prev_out >= 0 && L->in != prev_out)
        return nt_fail(e, "%s: %s/weight has %d columns but the layer before has %d outputs", path,
                       where, L->in, prev_out), NT_EXIT_INPUT;
    htri_t hb = H5Lexists(lg, "bias", H5P_DEFAULT);
    if (hb < 0) return nt_fail(e, "%s: cannot look up %s/bias", path, where), NT_EXIT_INPUT;
    if (hb > 0) {
        if ((st = read_floats(lg, "bias", 1, bd, &L->b, path, where, e))) return st;
        if (bd[0] != (hsize_t)L->out)
            return nt_fail(e, "%s: %s/bias has %llu values, the weight has %d rows", path, where,
                           (unsigned long long)bd[0], L->out), NT_EXIT_INPUT;
    }
    /* no activation attribute (a file written with h5py): identity, as eval and predict read it */
    htri_t ha = H5Aexists(lg, "activation");
    char *act = ha > 0 ? nt_h5_read_str(lg, "activation") : NULL;
    if (ha < 0 || (ha > 0 && !act)) {
        st = nt_fail(e, "%s: %s: attribute activation is not one string", path, where);
    } else if (act && nn_act_parse(act, &L->act)) {
        char names[256] = "";
        for (int a = 0; a < NN_ACT_COUNT; a++) {
            size_t n = strlen(names);
            snprintf(names + n, sizeof names - n, "%s%s", a ? ", " : "", nn_act_name((nn_act)a));
        }
        st = nt_fail(e, "%s: %s: unknown activation '%s' (expected one of %s)", path, where, act, names);
    } else {
        if (!act) L->act = NN_ACT_IDENTITY;
        L->p = (float)nn_act_default_param(L->act);
        const char *pname = L->act == NN_ACT_LEAKY_RELU ? "negative_slope" : L->act == NN_ACT_ELU ? "alpha" : NULL;
        htri_t hp = pname ? H5Aexists(lg, pname) : 0;
        if (hp < 0 || (hp > 0 && nt_h5_read_attr1(lg, pname, H5T_NATIVE_FLOAT, &L->p, path, e)))
            st = e->msg[0] ? -1 : nt_fail(e, "%s: %s: cannot read attribute %s", path, where, pname);
        else if (!isfinite(L->p))
            st = nt_fail(e, "%s: %s: attribute %s is not finite", path, where, pname);
    }
    free(act);
    return st ? NT_EXIT_INPUT : 0;
}

/* The layers, standardisation and loss of /model (group mg). */
static int read_model_group(hid_t mg, const char *path, xmodel *m, nt_err *e)
{
    int st = 0;
    for (;;) {
        char name[32];
        snprintf(name, sizeof name, "layer%d", m->n);
        htri_t has = H5Lexists(mg, name, H5P_DEFAULT);
        if (has < 0) return nt_fail(e, "%s: cannot look up /model/%s", path, name), NT_EXIT_INPUT;
        if (has == 0) break;
        xlayer *L = realloc(m->L, sizeof *L * (size_t)(m->n + 1));
        if (!L) return nt_fail(e, "%s: out of memory", path), NT_EXIT_RUNTIME;
        m->L = L;
        memset(&L[m->n], 0, sizeof *L);
        m->n++;
        hid_t lg = H5Gopen2(mg, name, H5P_DEFAULT);
        if (lg < 0) return nt_fail(e, "%s: /model/%s is not a group", path, name), NT_EXIT_INPUT;
        st = read_layer(lg, m->n - 1, m->n > 1 ? L[m->n - 2].out : -1, &L[m->n - 1], path, e);
        H5Gclose(lg);
        if (st) return st;
    }
    if (m->n == 0) return nt_fail(e, "%s: /model has no layer0", path), NT_EXIT_INPUT;
    /* the one reader of 1-D float attributes (the dataset layout's): length D, finite */
    const int64_t d = m->L[0].in;
    if ((st = layout_read_vec(mg, path, "/model", "input_mean", d, &m->mean, e)) ||
        (st = layout_read_vec(mg, path, "/model", "input_std", d, &m->std, e)))
        return st;
    if (!m->mean != !m->std)
        return nt_fail(e, "%s: /model has only one of the attributes input_mean and input_std", path),
               NT_EXIT_INPUT;
    if (H5Aexists(mg, "input_scale") > 0) {
        if (nt_h5_read_attr1(mg, "input_scale", H5T_NATIVE_FLOAT, &m->scale, path, e)) return NT_EXIT_INPUT;
        if (!isfinite(m->scale) || m->scale <= 0)
            return nt_fail(e, "%s: /model@input_scale = %g is not a positive number", path, m->scale),
                   NT_EXIT_INPUT;
        m->has_scale = 1;
    }
    /* no loss attribute (h5py): one output is read as a binary logit, as eval and predict do */
    char *loss = nt_h5_read_str(mg, "loss");
    const char *lname = loss ? loss : m->L[m->n - 1].out == 1 ? "bce_with_logits" : "cross_entropy";
    if (nn_loss_parse(lname, &m->loss))
        st = nt_fail(e, "%s: /model: unknown loss '%s'", path, lname);
    free(loss);
    return st ? NT_EXIT_INPUT : 0;
}

/* MODEL.h5 into m: 0, or an NT_EXIT_* code with e naming the file. */
static int read_model(const char *path, xmodel *m, nt_err *e)
{
    memset(m, 0, sizeof *m);
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported once, through e */
    if (!nt_path_exists(path)) return nt_fail(e, "%s: no such file", path), NT_EXIT_INPUT;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return nt_fail(e, "%s: not an HDF5 file", path), NT_EXIT_INPUT;
    int st = 0;
    htri_t hm = H5Lexists(f, "model", H5P_DEFAULT);
    hid_t mg = hm > 0 ? H5Gopen2(f, "model", H5P_DEFAULT) : H5I_INVALID_HID;
    if (mg < 0) {
        st = nt_fail(e, "%s: no /model group (not an nntrain model or checkpoint)", path);
        st = NT_EXIT_INPUT;
    } else {
        st = read_model_group(mg, path, m, e);
        H5Gclose(mg);
    }
    if (!st) {
        m->version = nt_h5_read_str(f, "nntrain_version");
        hid_t cg = H5Lexists(f, "config", H5P_DEFAULT) > 0 ? H5Gopen2(f, "config", H5P_DEFAULT)
                                                            : H5I_INVALID_HID;
        if (cg >= 0) { m->config = nt_h5_read_str(cg, "text"); H5Gclose(cg); }
    }
    H5Fclose(f); /* opened read-only: nothing to lose */
    return st;
}

/* ---- the ONNX graph --------------------------------------------------------------------- */

/* Every protobuf-c struct, array and string of one export comes from here, freed together. */
typedef struct {
    void **p;
    size_t n, cap;
    int oom;
} arena;

static void *anew(arena *a, size_t bytes)
{
    if (a->oom) return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        void **p = realloc(a->p, cap * sizeof *p);
        if (!p) { a->oom = 1; return NULL; }
        a->p = p, a->cap = cap;
    }
    void *v = calloc(1, bytes ? bytes : 1);
    if (!v) { a->oom = 1; return NULL; }
    return a->p[a->n++] = v;
}

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->p[i]);
    free(a->p);
}

static char *astr(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *astr(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? anew(a, (size_t)n + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

typedef struct {
    arena *a;
    Onnx__NodeProto **node;
    size_t nnode, capnode;
    Onnx__TensorProto **init;
    size_t ninit, capinit;
} graph;

/* A float initializer NAME of shape dims[0..ndims) (ndims 0: a scalar) holding data (not
 * copied: it lives as long as the export). */
static const char *tensor(graph *g, const char *name, const float *data, int ndims, const int64_t *dims)
{
    Onnx__TensorProto *t = anew(g->a, sizeof *t);
    int64_t *dd = anew(g->a, sizeof *dd * (size_t)(ndims ? ndims : 1));
    char *nm = astr(g->a, "%s", name);
    if (!t || !dd || !nm || g->ninit == g->capinit) { g->a->oom = 1; return name; }
    onnx__tensor_proto__init(t);
    size_t n = 1;
    for (int i = 0; i < ndims; i++) n *= (size_t)(dd[i] = dims[i]);
    t->n_dims = (size_t)ndims;
    t->dims = dd;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->name = nm;
    t->has_raw_data = 1;
    t->raw_data.len = n * sizeof(float);
    t->raw_data.data = (uint8_t *)(uintptr_t)data; /* only read by the encoder */
    g->init[g->ninit++] = t;
    return nm;
}

/* The scalar constant NAME = v, created once. */
static const char *scalar(graph *g, const char *name, float v)
{
    for (size_t i = 0; i < g->ninit; i++)
        if (!strcmp(g->init[i]->name, name)) return g->init[i]->name;
    float *p = anew(g->a, sizeof *p);
    if (!p) return name;
    *p = v;
    return tensor(g, name, p, 0, NULL);
}

/* A node OP with inputs in[0..nin) and one output OUT; returns the node (NULL: out of
 * memory, recorded in the arena). Room for two attributes. */
static Onnx__NodeProto *node(graph *g, const char *op, const char *out, int nin, const char *const *in)
{
    Onnx__NodeProto *n = anew(g->a, sizeof *n);
    char **ins = anew(g->a, sizeof *ins * (size_t)nin), **outs = anew(g->a, sizeof *outs);
    Onnx__AttributeProto **at = anew(g->a, 2 * sizeof *at);
    if (!n || !ins || !outs || !at || g->nnode == g->capnode) { g->a->oom = 1; return NULL; }
    onnx__node_proto__init(n);
    for (int i = 0; i < nin; i++) ins[i] = astr(g->a, "%s", in[i]);
    outs[0] = astr(g->a, "%s", out);
    n->n_input = (size_t)nin, n->input = ins;
    n->n_output = 1, n->output = outs;
    n->op_type = astr(g->a, "%s", op);
    n->name = astr(g->a, "%s", out); /* one node per output: its name is the output's */
    n->attribute = at;
    g->node[g->nnode++] = n;
    return n;
}

static Onnx__AttributeProto *attr(graph *g, Onnx__NodeProto *n, const char *name)
{
    Onnx__AttributeProto *a = n ? anew(g->a, sizeof *a) : NULL;
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = astr(g->a, "%s", name);
    a->has_type = 1;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void attr_f(graph *g, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(g, n, name);
    if (a) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f = 1, a->f = v;
}

static void attr_i(graph *g, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(g, n, name);
    if (a) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i = 1, a->i = v;
}

/* name(x) -> output OUT, with one node. */
static const char *unary(graph *g, const char *op, const char *x, const char *out)
{
    const char *in[1] = {x};
    node(g, op, out, 1, in);
    return out;
}

static const char *binary(graph *g, const char *op, const char *x, const char *y, const char *out)
{
    const char *in[2] = {x, y};
    node(g, op, out, 2, in);
    return out;
}

/* Layer l's activation of x (the Gemm's output) as ONNX operators, each matching nntrain's
 * kernel (src/core/kernels_impl.h) at every input, 0 and the thresholds included. Returns
 * the name of the result. */
static const char *activation(graph *g, const xlayer *L, int l, const char *x)
{
    char *out = astr(g->a, "layer%d/%s", l, nn_act_name(L->act));
    char *t1 = astr(g->a, "layer%d/%s/1", l, nn_act_name(L->act));
    char *t2 = astr(g->a, "layer%d/%s/2", l, nn_act_name(L->act));
    char *t3 = astr(g->a, "layer%d/%s/3", l, nn_act_name(L->act));
    if (!out || !t1 || !t2 || !t3) return x;
    Onnx__NodeProto *n;
    switch (L->act) {
    case NN_ACT_IDENTITY:
        return x;
    case NN_ACT_RELU: /* x > 0 ? x : 0 */
        return unary(g, "Relu", x, out);
    case NN_ACT_SIGMOID:
        return unary(g, "Sigmoid", x, out);
    case NN_ACT_TANH:
        return unary(g, "Tanh", x, out);
    case NN_ACT_BINARY_STEP: /* x > 0 ? 1 : 0 (0 at 0 and for NaN) = Cast(Greater(x, 0)) */
        binary(g, "Greater", x, scalar(g, "const/zero", 0.0f), t1);
        attr_i(g, node(g, "Cast", out, 1, (const char *[]){t1}), "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
        return out;
    case NN_ACT_LEAKY_RELU: /* x > 0 ? x : slope x  (ONNX: x >= 0; the same value at 0) */
        n = node(g, "LeakyRelu", out, 1, (const char *[]){x});
        attr_f(g, n, "alpha", L->p);
        return out;
    case NN_ACT_ELU: /* x > 0 ? x : alpha (e^x - 1) */
        n = node(g, "Elu", out, 1, (const char *[]){x});
        attr_f(g, n, "alpha", L->p);
        return out;
    case NN_ACT_SELU: /* lambda (x > 0 ? x : alpha (e^x - 1)) with nntrain's float constants */
        n = node(g, "Selu", out, 1, (const char *[]){x});
        attr_f(g, n, "alpha", (float)NN_SELU_ALPHA);
        attr_f(g, n, "gamma", (float)NN_SELU_LAMBDA);
        return out;
    case NN_ACT_GELU: /* exact form, in nntrain's order: (0.5 x) (1 + erf(x 0.70710678)) */
        binary(g, "Mul", x, scalar(g, "const/half", 0.5f), t1);
        binary(g, "Mul", x, scalar(g, "const/inv_sqrt2", 0.70710678118654752440f), t2);
        unary(g, "Erf", t2, t3);
        t2 = astr(g->a, "layer%d/gelu/4", l);
        binary(g, "Add", t3, scalar(g, "const/one", 1.0f), t2);
        return binary(g, "Mul", t1, t2, out);
    case NN_ACT_SOFTPLUS: /* torch's threshold: x > 20 ? x : log(1 + e^x) */
        unary(g, "Softplus", x, t1);
        binary(g, "Greater", x, scalar(g, "const/softplus_threshold", 20.0f), t2);
        node(g, "Where", out, 3, (const char *[]){t2, x, t1});
        return out;
    default:
        return x;
    }
}

/* A graph input or output: float [N, width] with N a symbolic (dynamic) batch size. */
static Onnx__ValueInfoProto *value_info(arena *a, const char *name, int64_t width)
{
    Onnx__ValueInfoProto *v = anew(a, sizeof *v);
    Onnx__TypeProto *tp = anew(a, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = anew(a, sizeof *tt);
    Onnx__TensorShapeProto *sh = anew(a, sizeof *sh);
    Onnx__TensorShapeProto__Dimension *d0 = anew(a, sizeof *d0), *d1 = anew(a, sizeof *d1);
    Onnx__TensorShapeProto__Dimension **dims = anew(a, 2 * sizeof *dims);
    if (!v || !tp || !tt || !sh || !d0 || !d1 || !dims) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    onnx__tensor_shape_proto__dimension__init(d0);
    onnx__tensor_shape_proto__dimension__init(d1);
    d0->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d0->dim_param = astr(a, "N");
    d1->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d1->dim_value = width;
    dims[0] = d0, dims[1] = d1;
    sh->n_dim = 2, sh->dim = dims;
    tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, tp->tensor_type = tt;
    v->name = astr(a, "%s", name);
    v->type = tp;
    return v;
}

/* What the output holds: "logits" (classification), "outputs" (regression), "probabilities". */
static const char *output_name(const xmodel *m, int probabilities)
{
    return probabilities ? "probabilities" : nn_loss_is_regression(m->loss) ? "outputs" : "logits";
}

/* The nodes and initializers of m into g: standardisation, Gemm + activation per layer,
 * Softmax / Sigmoid; the last node's output is renamed to the graph's output. */
static void build_graph(const xmodel *m, int probabilities, int raw, graph *g)
{
    const char *x = "input";
    const int64_t d = m->L[0].in, one = 1;
    if (raw && m->scale != 1) /* stored values -> features, as nntrain converts a row */
        x = binary(g, "Mul", x, tensor(g, "input_scale", &m->scale, 1, &one), "scale");
    if (m->mean) { /* (x - mean) / std, in float, as nntrain standardises on read */
        x = binary(g, "Sub", x, tensor(g, "input_mean", m->mean, 1, &d), "standardise/sub");
        x = binary(g, "Div", x, tensor(g, "input_std", m->std, 1, &d), "standardise");
    }
    for (int l = 0; l < m->n; l++) {
        const xlayer *L = &m->L[l];
        const int64_t wd[2] = {L->out, L->in}, bd = L->out;
        const char *in[3] = {x, tensor(g, astr(g->a, "layer%d/weight", l), L->w, 2, wd),
                             L->b ? tensor(g, astr(g->a, "layer%d/bias", l), L->b, 1, &bd) : NULL};
        /* y = x W^T + b; a layer without bias has no C input (optional since opset 11) */
        Onnx__NodeProto *n = node(g, "Gemm", astr(g->a, "layer%d/linear", l), L->b ? 3 : 2, in);
        attr_i(g, n, "transB", 1);
        x = n ? n->output[0] : x;
        x = activation(g, L, l, x);
    }
    if (probabilities) {
        if (m->loss == NN_LOSS_BCE_WITH_LOGITS) {
            unary(g, "Sigmoid", x, "probabilities");
        } else {
            Onnx__NodeProto *n = node(g, "Softmax", "probabilities", 1, &x);
            attr_i(g, n, "axis", 1);
        }
    }
    /* the graph's output is the last node's; an identity last layer ends with its Gemm */
    if (!g->a->oom && g->nnode) {
        Onnx__NodeProto *last = g->node[g->nnode - 1];
        last->output[0] = last->name = astr(g->a, "%s", output_name(m, probabilities));
    }
}

/* metadata_props entry */
static Onnx__StringStringEntryProto *meta(arena *a, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *kv = anew(a, sizeof *kv);
    if (!kv) return NULL;
    onnx__string_string_entry_proto__init(kv);
    kv->key = astr(a, "%s", key);
    kv->value = astr(a, "%s", value);
    return kv;
}

/* "784-64-10" and "relu, identity" */
static void describe(const xmodel *m, char *sizes, size_t ns, char *acts, size_t na)
{
    snprintf(sizes, ns, "%d", m->L[0].in);
    acts[0] = 0;
    for (int l = 0; l < m->n; l++) {
        size_t k = strlen(sizes), j = strlen(acts);
        snprintf(sizes + k, ns - k, "-%d", m->L[l].out);
        if (m->L[l].act == NN_ACT_LEAKY_RELU || m->L[l].act == NN_ACT_ELU)
            snprintf(acts + j, na - j, "%s%s(%.9g)", l ? ", " : "", nn_act_name(m->L[l].act), m->L[l].p);
        else
            snprintf(acts + j, na - j, "%s%s", l ? ", " : "", nn_act_name(m->L[l].act));
    }
}

/* The whole ModelProto for m (everything in a). NULL: out of memory. */
static Onnx__ModelProto *build_model(const xmodel *m, int probabilities, int raw, const char *src,
                                     arena *a)
{
    graph g = {.a = a, .capnode = 4 + 7 * (size_t)m->n, .capinit = 8 + 2 * (size_t)m->n};
    g.node = anew(a, g.capnode * sizeof *g.node);
    g.init = anew(a, g.capinit * sizeof *g.init);
    Onnx__ModelProto *mp = anew(a, sizeof *mp);
    Onnx__GraphProto *gp = anew(a, sizeof *gp);
    Onnx__OperatorSetIdProto *ops = anew(a, sizeof *ops), **opsv = anew(a, sizeof *opsv);
    Onnx__ValueInfoProto **in = anew(a, sizeof *in), **out = anew(a, sizeof *out);
    Onnx__StringStringEntryProto **md = anew(a, 10 * sizeof *md);
    if (a->oom) return NULL;
    build_graph(m, probabilities, raw, &g);
    const char *oname = output_name(m, probabilities);
    in[0] = value_info(a, "input", m->L[0].in);
    out[0] = value_info(a, oname, m->L[m->n - 1].out);

    onnx__graph_proto__init(gp);
    gp->name = astr(a, "nntrain");
    gp->n_node = g.nnode, gp->node = g.node;
    gp->n_initializer = g.ninit, gp->initializer = g.init;
    gp->n_input = 1, gp->input = in;
    gp->n_output = 1, gp->output = out;

    onnx__operator_set_id_proto__init(ops);
    ops->domain = astr(a, "%s", ""); /* the default domain, ai.onnx */
    ops->has_version = 1, ops->version = NT_ONNX_OPSET;
    opsv[0] = ops;

    char sizes[1024], acts[2048];
    describe(m, sizes, sizeof sizes, acts, sizeof acts);
    size_t nmd = 0;
    md[nmd++] = meta(a, "nntrain_version", NN_VERSION);
    if (m->version) md[nmd++] = meta(a, "model_nntrain_version", m->version);
    md[nmd++] = meta(a, "source", src);
    md[nmd++] = meta(a, "layers", sizes);
    md[nmd++] = meta(a, "activations", acts);
    md[nmd++] = meta(a, "loss", nn_loss_name(m->loss));
    md[nmd++] = meta(a, "input_standardisation",
                     m->mean ? "(input - input_mean) / input_std, in the graph" : "none");
    char sc[64] = "unknown";
    if (m->has_scale) snprintf(sc, sizeof sc, "%.9g", m->scale);
    md[nmd++] = meta(a, "input_scale", sc);
    md[nmd++] = meta(a, "input", raw ? "the stored values (the graph multiplies them by input_scale)"
                                     : "the stored values times input_scale");
    if (m->config) md[nmd++] = meta(a, "config", m->config); /* a checkpoint's /config text */

    onnx__model_proto__init(mp);
    mp->has_ir_version = 1, mp->ir_version = NT_ONNX_IR_VERSION;
    mp->n_opset_import = 1, mp->opset_import = opsv;
    mp->producer_name = astr(a, "nntrain");
    mp->producer_version = astr(a, "%s", NN_VERSION);
    mp->has_model_version = 1, mp->model_version = 1;
    mp->doc_string = astr(a, "nntrain %s model %s (%s; loss %s) exported from %s; output %s",
                          NN_VERSION, sizes, acts, nn_loss_name(m->loss), src, oname);
    mp->graph = gp;
    mp->n_metadata_props = nmd, mp->metadata_props = md;
    return a->oom ? NULL : mp;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* protobuf-c's output callback, appending to a FILE; the first error is kept. */
typedef struct {
    ProtobufCBuffer base;
    FILE *f;
    int err;
} file_buffer;

static void file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    file_buffer *fb = (file_buffer *)b;
    if (!fb->err && len && fwrite(data, 1, len, fb->f) != len) fb->err = errno ? errno : EIO;
}

/* mp encoded into OUT through OUT.tmp (fsynced, then renamed); OUT.tmp is removed on failure. */
static int write_model(const Onnx__ModelProto *mp, const char *out, nt_err *e)
{
    /* one protobuf message cannot exceed 2 GiB (ONNX's external data is not used) */
    size_t size = onnx__model_proto__get_packed_size(mp);
    if (size > INT32_MAX)
        return nt_fail(e, "%s: the model needs %.1f GiB, more than one ONNX file holds (2 GiB)", out,
                       size / 1073741824.0), NT_EXIT_INPUT;
    char *tmp = malloc(strlen(out) + 5);
    if (!tmp) return nt_fail(e, "%s: out of memory", out), NT_EXIT_RUNTIME;
    sprintf(tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "wb");
    int st = 0;
    if (!f) {
        st = nt_fail(e, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        file_buffer fb = {{file_append}, f, 0};
        errno = 0;
        onnx__model_proto__pack_to_buffer(mp, &fb.base);
        if (!fb.err && fflush(f)) fb.err = errno;
        if (!fb.err && fsync(fileno(f))) fb.err = errno;
        if (fclose(f) && !fb.err) fb.err = errno ? errno : EIO;
        if (fb.err) st = nt_fail(e, "%s: cannot write: %s", tmp, strerror(fb.err));
        else if (rename(tmp, out)) st = nt_fail(e, "%s: cannot rename to %s: %s", tmp, out, strerror(errno));
        if (st) remove(tmp);
    }
    free(tmp);
    return st ? NT_EXIT_RUNTIME : 0;
}

/* ---- the command ------------------------------------------------------------------------ */

enum { O_PROBABILITIES = 0x100, O_OVERWRITE, O_RAW_INPUT };

typedef struct { int probabilities, overwrite, raw; } export_args;

static int export_opt(void *user, int val, const char *arg, nt_err *e)
{
    export_args *a = user;
    if (val == O_PROBABILITIES) a->probabilities = 1;
    else if (val == O_OVERWRITE) a->overwrite = 1;
    else if (val == O_RAW_INPUT) a->raw = 1;
    return 0;
}

int nt_export_main(int argc, char **argv)
{
    static const struct option opts[] = {{"probabilities", no_argument, NULL, O_PROBABILITIES},
                                         {"overwrite", no_argument, NULL, O_OVERWRITE},
                                         {"raw-input", no_argument, NULL, O_RAW_INPUT}, {0}};
    const char *pos[2] = {NULL, NULL};
    export_args a = {0, 0, 0};
    nn_cli cli = {.tool = "nntrain", .cmd = "export", .usage = export_usage, .longopts = opts,
                  .on_opt = export_opt, .user = &a, .maxpos = 2, .pos = pos};
    nt_err e = {{0}};
    int st = nn_cli_parse(&cli, argc, argv, &e);
    if (!st && cli.npos != 2)
        st = NT_EXIT_USAGE, nn_cli_fail(&cli, &e, "missing MODEL.h5 or OUT.onnx");
    if (st) return nn_cli_exit(&cli, st, &e);
    const char *src = pos[0], *out = pos[1];
    xmodel m;
    arena ar = {0};
    st = read_model(src, &m, &e);
    if (!st && a.probabilities && nn_loss_is_regression(m.loss))
        st = NT_EXIT_INPUT, nt_fail(&e, "%s: a regression model (loss %s) has no probabilities; "
                                        "export it without --probabilities", src, nn_loss_name(m.loss));
    if (!st && a.raw && !m.has_scale)
        st = NT_EXIT_INPUT, nt_fail(&e, "%s: --raw-input: the model does not record its training data's "
                                        "/X scale (/model@input_scale; models written before it was "
                                        "recorded); export without --raw-input and feed stored value x scale",
                                    src);
    if (!st && !a.overwrite && nt_path_exists(out))
        st = NT_EXIT_INPUT, nt_fail(&e, "%s: exists; pass --overwrite to replace it", out);
    Onnx__ModelProto *mp = NULL;
    if (!st && !(mp = build_model(&m, a.probabilities, a.raw, src, &ar)))
        st = NT_EXIT_RUNTIME, nt_fail(&e, "%s: out of memory", src);
    if (!st) st = write_model(mp, out, &e);
    arena_free(&ar);
    xmodel_free(&m);
    if (st) fprintf(stderr, "nntrain: error: %s\n", e.msg);
    return st;
}
