/* Template body of the kernels: included by kernels.c once per element type with
 * R (type), S (name suffix), GEMM (cblas routine), and the math functions EXP, LOG, TANH. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

void CAT(nn_dense_forward, S)(R *out, const R *in, const R *w, const R *b, int B, int IN,
                              int OUT)
{
    if (B <= 0) return;
    /* out := broadcast(b), then out += in . w^T   (B,IN)x(IN,OUT) */
    for (int i = 0; i < B; i++) memcpy(out + (size_t)i * OUT, b, sizeof(R) * OUT);
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, OUT, IN, 1, in, IN, w, IN, 1, out, OUT);
}

/* beta = 1: dW += ..., db += ... (accumulate); beta = 0: dW = ..., db = ... (overwrite) */
static void CAT(dense_backward_beta, S)(R *din, R *dw, R *db, const R *dout, const R *in,
                                        const R *w, int B, int IN, int OUT, R beta)
{
    if (B <= 0) { /* an empty shard contributes nothing */
        if (beta == 0) {
            memset(dw, 0, sizeof(R) * (size_t)OUT * IN);
            memset(db, 0, sizeof(R) * (size_t)OUT);
        }
        return;
    }
    /* dW = beta dW + dout^T . in   (OUT,B)x(B,IN) */
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, B, 1, dout, OUT, in, IN, beta, dw, IN);
    /* db = beta db + sum over rows of dout */
    if (beta == 0) memcpy(db, dout, sizeof(R) * OUT);
    for (int i = beta == 0 ? 1 : 0; i < B; i++) {
        const R *row = dout + (size_t)i * OUT;
        for (int o = 0; o < OUT; o++) db[o] += row[o];
    }
    /* din = dout . W   (B,OUT)x(OUT,IN) */
    if (din)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, IN, OUT, 1, dout, OUT, w, IN, 0,
             din, IN);
}

void CAT(nn_dense_backward, S)(R *din, R *dw, R *db, const R *dout, const R *in, const R *w,
                               int B, int IN, int OUT)
{
    CAT(dense_backward_beta, S)(din, dw, db, dout, in, w, B, IN, OUT, 1);
}

void CAT(nn_dense_backward_into, S)(R *din, R *dw, R *db, const R *dout, const R *in,
                                    const R *w, int B, int IN, int OUT)
{
    CAT(dense_backward_beta, S)(din, dw, db, dout, in, w, B, IN, OUT, 0);
}

void CAT(nn_act_forward, S)(R *y, const R *x, size_t n, nn_act a)
{
    switch (a) {
    case NN_ACT_IDENTITY:
        if (y != x) memcpy(y, x, sizeof(R) * n);
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
        break;
    case NN_ACT_SIGMOID:
        /* stable in both tails: never exponentiates a positive number */
        for (size_t i = 0; i < n; i++) {
            R v = x[i];
            if (v >= 0) y[i] = 1 / (1 + EXP(-v));
            else { R e = EXP(v); y[i] = e / (1 + e); }
        }
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = TANH(x[i]);
        break;
    default:
        break;
    }
}

void CAT(nn_act_backward, S)(R *dx, const R *dy, const R *x, const R *y, size_t n, nn_act a)
{
    switch (a) {
    case NN_ACT_IDENTITY:
        if (dx != dy) memcpy(dx, dy, sizeof(R) * n);
        break;
    case NN_ACT_RELU: /* f'(x) = [x > 0]; at 0 the subgradient 0, as torch */
        for (size_t i = 0; i < n; i++) {
            R g = dy[i]; /* an unconditional load lets the loop vectorise */
            dx[i] = x[i] > 0 ? g : 0;
        }
        break;
    case NN_ACT_SIGMOID: /* f' = y (1 - y) */
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
        break;
    case NN_ACT_TANH: /* f' = 1 - y^2 */
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
        break;
    default:
        break;
    }
}

double CAT(nn_softmax_xent, S)(R *dz, const R *z, const int32_t *labels, int B, int K, R scale,
                               int64_t *correct)
{
    double total = 0;
    int64_t ok = 0;
    for (int i = 0; i < B; i++) {
        const R *zi = z + (size_t)i * K;
        int arg = 0;
        R mx = zi[0];
        for (int k = 1; k < K; k++)
            if (zi[k] > mx) { mx = zi[k]; arg = k; }
        /* log sum_k exp(z_k) = mx + log sum_k exp(z_k - mx): no overflow, >= 1 term is 1 */
        R sum = 0;
        for (int k = 0; k < K; k++) sum += EXP(zi[k] - mx);
        int y = labels[i];
        /* -log softmax_y = (mx - z_y) + log(sum): no cancellation against a large mx */
        total += (double)((mx - zi[y]) + LOG(sum));
        ok += (arg == y);
        if (dz) {
            R *di = dz + (size_t)i * K;
            R inv = 1 / sum;
            for (int k = 0; k < K; k++) di[k] = EXP(zi[k] - mx) * inv * scale;
            di[y] -= scale;
        }
    }
    if (correct) *correct += ok;
    return total;
}

#undef CAT
#undef CAT_
