/* Template body of the kernels: included by kernels.c once per element type with
 * R (type), S (name suffix), GEMM (cblas routine), and the math functions EXP, LOG, TANH
 * (EXPNP: e^x for x <= 0, vectorizable). */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

void CAT(nn_dense_forward, S)(R *out, const R *in, const R *w, const R *b, int B, int IN,
                              int OUT)
{
    if (B <= 0) return;
    /* out := broadcast(b) (or 0 without a bias), then out += in . w^T   (B,IN)x(IN,OUT) */
    if (b)
        for (int i = 0; i < B; i++) memcpy(out + (size_t)i * OUT, b, sizeof(R) * OUT);
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, OUT, IN, 1, in, IN, w, IN, b ? 1 : 0, out,
         OUT);
}

/* beta = 1: dW += ..., db += ... (accumulate); beta = 0: dW = ..., db = ... (overwrite).
 * In pieces when tick != NULL: db first, then dW's rows from the last down in pw pieces, then
 * din's columns in pd pieces; after each piece tick(k, u), where dw[k..) and db are final
 * (k = OUT * IN after db, 0 once dW is complete). A piece is a GEMM on a slice of the output,
 * so every element is summed in the same order as by the whole GEMM. */
NN_SIMD static void CAT(dense_backward_beta, S)(R *din, R *dw, R *db, const R *dout, const R *in,
                                        const R *w, int B, int IN, int OUT, R beta, int pw,
                                        int pd, void (*tick)(size_t, void *), void *u)
{
    const size_t nw = (size_t)OUT * IN;
    if (B <= 0) { /* an empty shard contributes nothing */
        if (beta == 0) {
            memset(dw, 0, sizeof(R) * nw);
            if (db) memset(db, 0, sizeof(R) * (size_t)OUT);
        }
        if (tick) tick(0, u);
        return;
    }
    if (!tick) pw = pd = 1;
    pw = pw < 1 ? 1 : pw > OUT ? OUT : pw;
    pd = pd < 1 ? 1 : pd > IN ? IN : pd;
    /* db = beta db + sum over rows of dout (no bias: db == NULL) */
    if (db && beta == 0) memcpy(db, dout, sizeof(R) * OUT);
    for (int i = beta == 0 ? 1 : 0; db && i < B; i++) {
        const R *row = dout + (size_t)i * OUT;
        for (int o = 0; o < OUT; o++) db[o] += row[o];
    }
    if (tick) tick(nw, u);
    /* dW[o0..o1) = beta dW + dout[:, o0..o1)^T . in   (rows of (OUT,B)x(B,IN)) */
    for (int p = pw; p > 0; p--) {
        int o0 = (int)((long long)OUT * (p - 1) / pw), o1 = (int)((long long)OUT * p / pw);
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, IN, B, 1, dout + o0, OUT, in, IN,
             beta, dw + (size_t)o0 * IN, IN);
        if (tick) tick((size_t)o0 * IN, u);
    }
    /* din[:, i0..i1) = dout . W[:, i0..i1)   (columns of (B,OUT)x(OUT,IN)) */
    for (int p = 0; din && p < pd; p++) {
        int i0 = (int)((long long)IN * p / pd), i1 = (int)((long long)IN * (p + 1) / pd);
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, i1 - i0, OUT, 1, dout, OUT, w + i0, IN,
             0, din + i0, IN);
        if (tick && p + 1 < pd) tick(0, u);
    }
}

void CAT(nn_dense_input_grad, S)(R *din, const R *dout, const R *w, int B, int IN, int OUT)
{
    if (B <= 0) return;
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, IN, OUT, 1, dout, OUT, w, IN, 0, din, IN);
}

void CAT(nn_dense_backward, S)(R *din, R *dw, R *db, const R *dout, const R *in, const R *w,
                               int B, int IN, int OUT)
{
    CAT(dense_backward_beta, S)(din, dw, db, dout, in, w, B, IN, OUT, 1, 1, 1, NULL, NULL);
}

void CAT(nn_dense_backward_into, S)(R *din, R *dw, R *db, const R *dout, const R *in,
                                    const R *w, int B, int IN, int OUT)
{
    CAT(dense_backward_beta, S)(din, dw, db, dout, in, w, B, IN, OUT, 0, 1, 1, NULL, NULL);
}

void CAT(nn_dense_backward_pieces, S)(R *din, R *dw, R *db, const R *dout, const R *in,
                                      const R *w, int B, int IN, int OUT, int accumulate,
                                      int pw, int pd, void (*tick)(size_t, void *), void *u)
{
    CAT(dense_backward_beta, S)(din, dw, db, dout, in, w, B, IN, OUT, accumulate ? 1 : 0, pw, pd,
                                tick, u);
}

NN_SIMD void CAT(nn_act_forward_p, S)(R *y, const R *x, size_t n, nn_act a, R p)
{
    const R lam = (R)NN_SELU_LAMBDA, sal = (R)NN_SELU_ALPHA;
    switch (a) {
    case NN_ACT_IDENTITY:
        if (y != x) memcpy(y, x, sizeof(R) * n);
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
        break;
    case NN_ACT_SIGMOID:
        /* stable in both tails: never exponentiates a positive number (e = exp(-|v|)) */
        for (size_t i = 0; i < n; i++) {
            const R v = x[i], e = EXPNP(v >= 0 ? -v : v);
            y[i] = v >= 0 ? 1 / (1 + e) : e / (1 + e);
        }
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = TANH(x[i]);
        break;
    case NN_ACT_BINARY_STEP:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? 1 : 0;
        break;
    case NN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : x[i] * p;
        break;
    case NN_ACT_ELU: /* torch: x <= 0 takes the exponential branch */
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : p * EXPM1(x[i]);
        break;
    case NN_ACT_SELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? lam * x[i] : lam * sal * EXPM1(x[i]);
        break;
    case NN_ACT_GELU: /* exact: x Phi(x) = x/2 (1 + erf(x / sqrt 2)) */
        for (size_t i = 0; i < n; i++)
            y[i] = (R)0.5 * x[i] * (1 + ERF(x[i] * (R)0.70710678118654752440));
        break;
    case NN_ACT_SOFTPLUS: /* torch: beta 1, threshold 20 (linear above it) */
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 20 ? x[i] : LOG1P(EXP(x[i]));
        break;
    default:
        break;
    }
}

NN_SIMD void CAT(nn_act_backward_p, S)(R *dx, const R *dy, const R *x, const R *y, size_t n, nn_act a,
                               R p)
{
    const R lam = (R)NN_SELU_LAMBDA, sal = (R)NN_SELU_ALPHA;
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
    case NN_ACT_BINARY_STEP: /* f' = 0 (documented: no gradient flows through a step) */
        memset(dx, 0, sizeof(R) * n);
        break;
    case NN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) {
            R g = dy[i];
            dx[i] = x[i] > 0 ? g : g * p;
        }
        break;
    case NN_ACT_ELU: /* f' = 1 for x > 0, alpha e^x otherwise */
        for (size_t i = 0; i < n; i++) {
            R g = dy[i];
            dx[i] = x[i] > 0 ? g : g * p * EXP(x[i]);
        }
        break;
    case NN_ACT_SELU:
        for (size_t i = 0; i < n; i++) {
            R g = dy[i];
            dx[i] = x[i] > 0 ? g * lam : g * lam * sal * EXP(x[i]);
        }
        break;
    case NN_ACT_GELU: /* f' = Phi(x) + x phi(x) */
        for (size_t i = 0; i < n; i++) {
            R v = x[i];
            R cdf = (R)0.5 * (1 + ERF(v * (R)0.70710678118654752440));
            R pdf = EXP((R)-0.5 * v * v) * (R)0.39894228040143267794;
            dx[i] = dy[i] * (cdf + v * pdf);
        }
        break;
    case NN_ACT_SOFTPLUS: /* f' = sigmoid(x) = e^x / (e^x + 1); 1 above the threshold */
        for (size_t i = 0; i < n; i++) {
            R v = x[i];
            if (v > 20) dx[i] = dy[i];
            else { R z = EXP(v); dx[i] = dy[i] * z / (z + 1); }
        }
        break;
    default:
        break;
    }
}

void CAT(nn_act_forward, S)(R *y, const R *x, size_t n, nn_act a)
{
    CAT(nn_act_forward_p, S)(y, x, n, a, (R)nn_act_default_param(a));
}

void CAT(nn_act_backward, S)(R *dx, const R *dy, const R *x, const R *y, size_t n, nn_act a)
{
    CAT(nn_act_backward_p, S)(dx, dy, x, y, n, a, (R)nn_act_default_param(a));
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


double CAT(nn_loss_eval, S)(R *dz, const R *z, const int32_t *labels, const R *targets, int B,
                           int K, const nn_loss *L, R scale, double *stats)
{
    double total = 0;
    if (L->kind == NN_LOSS_CROSS_ENTROPY && L->label_smoothing == 0) {
        int64_t ok = 0;
        total = CAT(nn_softmax_xent, S)(dz, z, labels, B, K, scale, &ok);
        if (stats) stats[0] += (double)ok;
        return total;
    }
    for (int i = 0; i < B; i++) {
        const R *zi = z + (size_t)i * K;
        R *di = dz ? dz + (size_t)i * K : NULL;
        switch (L->kind) {
        case NN_LOSS_CROSS_ENTROPY: { /* label-smoothed: (1-e) nll_y + e/K sum_k nll_k */
            const R e = (R)L->label_smoothing;
            int arg = 0;
            R mx = zi[0];
            for (int k = 1; k < K; k++)
                if (zi[k] > mx) { mx = zi[k]; arg = k; }
            R sum = 0, zsum = 0;
            for (int k = 0; k < K; k++) { sum += EXP(zi[k] - mx); zsum += zi[k] - mx; }
            R lsum = LOG(sum);
            int y = labels[i];
            /* nll_k = lsum - (z_k - mx) */
            R nll_y = lsum - (zi[y] - mx), nll_mean = lsum - zsum / K;
            total += (double)((1 - e) * nll_y + e * nll_mean);
            if (stats) stats[0] += (arg == y);
            if (di) {
                R inv = 1 / sum;
                for (int k = 0; k < K; k++) di[k] = (EXP(zi[k] - mx) * inv - e / K) * scale;
                di[y] -= (1 - e) * scale;
            }
            break;
        }
        case NN_LOSS_BCE_WITH_LOGITS: { /* K == 1 */
            R v = zi[0], t = (R)labels[i];
            total += (double)((v > 0 ? v : 0) - v * t + LOG1P(EXP(-FABS(v))));
            if (stats) stats[0] += ((v > 0) == (labels[i] == 1));
            if (di) {
                R sg = v >= 0 ? 1 / (1 + EXP(-v)) : EXP(v) / (1 + EXP(v));
                di[0] = (sg - t) * scale;
            }
            break;
        }
        default: { /* regression: mean over the K outputs of l(z - t) */
            const R *ti = targets + (size_t)i * K;
            R acc = 0;
            const R invk = (R)1 / (R)K;
            for (int k = 0; k < K; k++) {
                R r = zi[k] - ti[k], ar = FABS(r), l, g;
                switch (L->kind) {
                case NN_LOSS_MSE: l = r * r; g = 2 * r; break;
                case NN_LOSS_L1: l = ar; g = (R)((r > 0) - (r < 0)); break;
                case NN_LOSS_HUBER: {
                    const R d = (R)L->delta;
                    if (ar < d) { l = (R)0.5 * r * r; g = r; }
                    else { l = d * (ar - (R)0.5 * d); g = d * (R)((r > 0) - (r < 0)); }
                    break;
                }
                default: { /* smooth_l1 */
                    const R bt = (R)L->beta;
                    if (ar < bt) { l = (R)0.5 * r * r / bt; g = r / bt; }
                    else { l = ar - (R)0.5 * bt; g = (R)((r > 0) - (r < 0)); }
                    break;
                }
                }
                acc += l;
                if (di) di[k] = g * invk * scale;
                if (stats) { stats[0] += (double)r * r; stats[1] += (double)ar; }
            }
            total += (double)(acc * invk);
            break;
        }
        }
    }
    return total;
}

#undef CAT
#undef CAT_
