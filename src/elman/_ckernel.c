/* The compiled training kernel of a one-layer Elman network, built at install.
 *
 *     h_k = B u_k + b + A z_k,   z_{k+1} = s(h_k),   y_k = g(C z_{k+1} + d)
 *
 * The same forward pass, backpropagation through time and optimizer updates as the
 * NumPy reference (elman/bptt.py `forward_backward`, elman/optim.py), sample by
 * sample in plain loops, so that a small model's whole epoch is one call. Called
 * through ctypes by elman/_compiled.py, which checks the tables, the layout of the
 * structures below (ELMAN_ABI, sizes) and the source hash before using it.
 *
 * One source, two precisions: this file includes itself twice (ELMAN_BODY) to make
 * the float and the double functions (suffix _f32, _f64). In float, the arrays and the
 * arithmetic on them are float, as NumPy's float32 reference computes them; the
 * activations and losses are evaluated in double and rounded; the batch loss is
 * summed in double. Scalars (learning rate, betas, ...) are worked out in double
 * and rounded to the storage precision before they multiply an array element, as
 * NumPy does with a Python float times a float32 array (Adam's step size alpha is a
 * NumPy float64, which NumPy 2 does not round: alpha_double). Compile without fused
 * multiply-adds (-ffp-contract=off), as setup.py does: each product is rounded.
 *
 * theta layout (row-major): A (M,M), B (M,D), b (M), then C (K,M), d (K) when
 * has_C (without a readout y = z and K = M).
 * Data: U (N,T,D), Y (N,Tout,K), W (N,Tout) or NULL (all 1), Tout = T with
 * return_sequences else 1 (the last step only).
 */
#ifndef ELMAN_BODY

#ifndef ELMAN_NO_PYTHON
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#endif

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_ckernel_tables.h"

#if defined(_WIN32)
#define ELMAN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define ELMAN_EXPORT __attribute__((visibility("default")))
#else
#define ELMAN_EXPORT
#endif

/* Bumped whenever a structure or a signature below changes. */
#define ELMAN_ABI 1

/* setup.py defines ELMAN_SOURCE_HASH as the sha256 of this file and the tables header,
 * so that a library older than its source is refused rather than trusted. */
#define ELMAN_STR_(x) #x
#define ELMAN_STR(x) ELMAN_STR_(x)
#ifdef ELMAN_SOURCE_HASH
#define ELMAN_HASH_TEXT ELMAN_STR(ELMAN_SOURCE_HASH)
#else
#define ELMAN_HASH_TEXT ""
#endif

/* Every field is 8 bytes wide: the same layout on every platform ctypes meets. */
typedef struct {
    void *theta;   /* P parameters, updated in place by the epoch */
    void *U;       /* N*T*D */
    void *Y;       /* N*Tout*K */
    void *W;       /* N*Tout, or NULL: every weight 1 */
    void *work;    /* elman_work_size(T, D, M, K) entries */
    int64_t N, T, D, M, K, Tout;
    int64_t has_C, act, oact, loss, go_backwards, return_sequences;
    double delta;  /* Huber's delta */
    double value;  /* out: the loss of the last batch */
} elman_problem;

typedef struct {
    int64_t kind;             /* 0 SGD, 1 RMSprop, 2 Adam */
    int64_t clip_kind;        /* 0 none, 1 clipnorm (per variable), 2 global_clipnorm, 3 clipvalue */
    double clip;
    double lr;
    double momentum;          /* SGD: through float32 as Keras casts it; RMSprop: as given */
    int64_t nesterov, centered;
    double rho, epsilon;
    double beta_1, beta_2;    /* as given, for 1 - beta */
    double beta_1c, beta_2c;  /* through float32, for beta^t */
    int64_t alpha_double;     /* float storage: Adam's step m alpha / (sqrt v + eps) in double */
    void *s0, *s1, *s2;       /* state: SGD m; RMSprop v, a, m; Adam m, v */
} elman_optimizer;

typedef struct {
    double total;             /* sum over the batches done of loss * batch length */
    int64_t seen;             /* samples in the batches done */
    int64_t stop_kind;        /* 0 none, 1 loss or gradient not finite, 2 weights not finite */
    int64_t stop_batch;       /* the batch that stopped the epoch, else -1 */
    int64_t iterations;       /* optimizer updates made */
} elman_epoch_result;

ELMAN_EXPORT const char *elman_tables(void) { return ELMAN_TABLES; }
ELMAN_EXPORT const char *elman_source_hash(void) { return ELMAN_HASH_TEXT; }
ELMAN_EXPORT int64_t elman_abi(void) { return ELMAN_ABI; }

ELMAN_EXPORT int64_t elman_sizeof(int64_t which)
{
    switch (which) {
    case 0: return (int64_t)sizeof(elman_problem);
    case 1: return (int64_t)sizeof(elman_optimizer);
    case 2: return (int64_t)sizeof(elman_epoch_result);
    default: return -1;
    }
}

/* The entries of the work array: H (T*M), Z ((T+1)*M), dz, carry (M each), dO (K),
 * A^T (M*M), B^T (D*M), hin, rec (M each). */
ELMAN_EXPORT int64_t elman_work_size(int64_t T, int64_t D, int64_t M, int64_t K)
{
    return T * M + (T + 1) * M + 2 * M + K + M * M + D * M + 2 * M;
}

static int64_t n_params(const elman_problem *p)
{
    return p->M * p->M + p->M * p->D + p->M + (p->has_C ? p->K * p->M + p->K : 0);
}

/* 0 when every index is in [0, N), else -1 (nothing is read out of bounds). */
static int64_t check_indices(const elman_problem *p, const int64_t *idx, int64_t n)
{
    for (int64_t s = 0; s < n; ++s)
        if (idx[s] < 0 || idx[s] >= p->N) return -1;
    return 0;
}

#define ELMAN_BODY
#define real double
#define SQRT sqrt
#define FN(name) name##_f64
#include "_ckernel.c"
#undef real
#undef SQRT
#undef FN

#define real float
#define SQRT sqrtf
#define FN(name) name##_f32
#include "_ckernel.c"
#undef real
#undef SQRT
#undef FN
#undef ELMAN_BODY

#ifndef ELMAN_NO_PYTHON
/* An empty module, so that setuptools builds this file as the extension elman._ckernel;
 * everything is called through ctypes. */
static struct PyModuleDef elman_ckernel_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_ckernel",
    .m_doc = "elman's compiled training kernel (used through ctypes by elman._compiled)",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__ckernel(void) { return PyModule_Create(&elman_ckernel_module); }
#endif

#else /* ELMAN_BODY: the functions of one precision, `real` */

/* Loss of the batch U[idx] (into p->value) and its gradient (into grad, zeroed here).
 * Indices are checked by the callers. */
static void FN(batch_loss_grad)(elman_problem *p, const int64_t *idx, int64_t n_idx, real *grad)
{
    const int64_t T = p->T, D = p->D, M = p->M, K = p->K, Tout = p->Tout;
    const int has_C = (int)p->has_C, gb = (int)p->go_backwards, rs = (int)p->return_sequences;
    const int act = (int)p->act, oact = (int)p->oact, loss = (int)p->loss;
    const double delta = p->delta;
    const real *A = (const real *)p->theta, *B = A + M * M, *b = B + M * D, *C = b + M, *d = C + K * M;
    real *dA = grad, *dB = dA + M * M, *db = dB + M * D, *dC = db + M, *dd = dC + K * M;
    real *H = (real *)p->work, *Z = H + T * M, *dz = Z + (T + 1) * M, *carry = dz + M, *dO = carry + M;
    real *At = dO + K, *Bt = At + M * M, *hin = Bt + D * M, *rec = hin + M;
    const real *Uall = (const real *)p->U, *Yall = (const real *)p->Y, *Wall = (const real *)p->W;
    const int64_t P = n_params(p);
    /* Keras's reduction: the weighted sum over every entry, over the number of entries */
    const double count = (double)n_idx * (double)Tout * (double)K;
    double total = 0.0;

    for (int64_t i = 0; i < P; ++i) grad[i] = 0;
    /* A^T and B^T, so that the products A z and B u run along contiguous columns, each
     * entry still summed in the order j = 0, 1, ... of a row-by-vector dot product */
    for (int64_t i = 0; i < M; ++i) {
        for (int64_t j = 0; j < M; ++j) At[j * M + i] = A[i * M + j];
        for (int64_t j = 0; j < D; ++j) Bt[j * M + i] = B[i * D + j];
    }
    for (int64_t s = 0; s < n_idx; ++s) {
        const int64_t n = idx[s];
        const real *Un = Uall + n * T * D, *Yn = Yall + n * Tout * K;
        const real *Wn = Wall ? Wall + n * Tout : NULL;

        /* forward: h_k = (B u_k + b) + A z_k, in the reference's order of additions */
        for (int64_t i = 0; i < M; ++i) Z[i] = 0;
        for (int64_t k = 0; k < T; ++k) {
            const real *uk = Un + (gb ? T - 1 - k : k) * D, *zk = Z + k * M;
            real *hk = H + k * M, *zk1 = Z + (k + 1) * M;
            for (int64_t i = 0; i < M; ++i) hin[i] = 0;
            for (int64_t j = 0; j < D; ++j) {
                const real uj = uk[j], *Btj = Bt + j * M;
                for (int64_t i = 0; i < M; ++i) hin[i] += Btj[i] * uj;
            }
            for (int64_t i = 0; i < M; ++i) rec[i] = 0;
            for (int64_t j = 0; j < M; ++j) {
                const real zj = zk[j], *Atj = At + j * M;
                for (int64_t i = 0; i < M; ++i) rec[i] += Atj[i] * zj;
            }
            for (int64_t i = 0; i < M; ++i) hk[i] = (hin[i] + b[i]) + rec[i];
            for (int64_t i = 0; i < M; ++i) zk1[i] = (real)act_f(act, (double)hk[i]);
        }

        /* backward: dz = dL/dz_{k+1} = C^T dO_k + A^T delta_{k+1},  delta_k = dz s'(h_k) */
        for (int64_t j = 0; j < M; ++j) carry[j] = 0;
        for (int64_t k = T - 1; k >= 0; --k) {
            const real *uk = Un + (gb ? T - 1 - k : k) * D, *zk = Z + k * M, *zk1 = Z + (k + 1) * M;
            const real *hk = H + k * M;
            if (rs || k == T - 1) {
                const int64_t t = rs ? k : 0;
                const double w = Wn ? (double)Wn[t] : 1.0;
                for (int64_t o = 0; o < K; ++o) {
                    real pre;
                    if (has_C) {
                        const real *Co = C + o * M;
                        real acc = 0;
                        for (int64_t j = 0; j < M; ++j) acc += Co[j] * zk1[j];
                        pre = acc + d[o];
                    } else {
                        pre = zk1[o];
                    }
                    const real yhat = (real)act_f(oact, (double)pre);
                    const real e = yhat - Yn[t * K + o];
                    total += w * loss_value(loss, (double)e, delta);
                    dO[o] = (real)(w * loss_grad(loss, (double)e, delta) * act_df(oact, (double)pre, (double)yhat)
                                   / count);
                }
                if (has_C) {
                    for (int64_t o = 0; o < K; ++o) {
                        real *dCo = dC + o * M;
                        dd[o] += dO[o];
                        for (int64_t j = 0; j < M; ++j) dCo[j] += dO[o] * zk1[j];
                    }
                    for (int64_t j = 0; j < M; ++j) dz[j] = 0;
                    for (int64_t o = 0; o < K; ++o) {
                        const real dOo = dO[o], *Co = C + o * M;
                        for (int64_t j = 0; j < M; ++j) dz[j] += dOo * Co[j];
                    }
                    for (int64_t j = 0; j < M; ++j) dz[j] += carry[j];
                } else {
                    for (int64_t j = 0; j < M; ++j) dz[j] = dO[j] + carry[j];
                }
            } else {
                for (int64_t j = 0; j < M; ++j) dz[j] = carry[j];
            }
            for (int64_t i = 0; i < M; ++i) {
                const real dh = dz[i] * (real)act_df(act, (double)hk[i], (double)zk1[i]);
                real *dAi = dA + i * M, *dBi = dB + i * D;
                db[i] += dh;
                for (int64_t j = 0; j < M; ++j) dAi[j] += dh * zk[j];
                for (int64_t j = 0; j < D; ++j) dBi[j] += dh * uk[j];
                dz[i] = dh;
            }
            if (k > 0) { /* carry = A^T delta_k (not needed past z_0) */
                for (int64_t j = 0; j < M; ++j) carry[j] = 0;
                for (int64_t i = 0; i < M; ++i) {
                    const real *Ai = A + i * M;
                    const real di = dz[i];
                    for (int64_t j = 0; j < M; ++j) carry[j] += Ai[j] * di;
                }
            }
        }
    }
    /* The terms are summed in double; NumPy sums float32 terms in float32, which overflows
     * to inf beyond FLT_MAX, and fit then stops at this batch: so must this sum. */
    if (sizeof(real) == sizeof(float) && fabs(total) > FLT_MAX) total = INFINITY;
    p->value = total / count;
}

ELMAN_EXPORT int64_t FN(elman_loss_grad)(elman_problem *p, const int64_t *idx, int64_t n_idx, real *grad)
{
    if (n_idx < 1 || check_indices(p, idx, n_idx)) return -1;
    FN(batch_loss_grad)(p, idx, n_idx, grad);
    return 0;
}

/* The norm of g: squares summed in double, the sum rounded to `real` before the root
 * (so that where NumPy's float32 sum overflows to inf, this one does too). */
static real FN(norm)(const real *g, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += (double)g[i] * (double)g[i];
    return (real)SQRT((real)s);
}

/* Optimizer._clip, in place */
static void FN(clip)(const elman_problem *p, const elman_optimizer *o, real *g, int64_t P)
{
    const double c = o->clip;
    if (o->clip_kind == 1) { /* each variable's gradient to norm at most c: g c / max(|g|, c) */
        const int64_t M = p->M, D = p->D, K = p->K;
        const int64_t sizes[5] = {M * M, M * D, M, K * M, K};
        const int n_seg = p->has_C ? 5 : 3;
        const real cr = (real)c;
        real *gs = g;
        for (int v = 0; v < n_seg; ++v) {
            const real norm = FN(norm)(gs, sizes[v]);
            const real den = ((real)c > norm) ? cr : norm; /* Python's max(norm, c) */
            for (int64_t i = 0; i < sizes[v]; ++i) gs[i] = gs[i] * cr / den;
            gs += sizes[v];
        }
    } else if (o->clip_kind == 2) { /* all together: g c min(1 / |g|, 1 / c) */
        const real norm = FN(norm)(g, P);
        if (norm > 0) {
            const real inv = (real)1.0 / norm;
            const double invc = 1.0 / c;
            const real factor = ((real)invc < inv) ? (real)(c * invc) : (real)c * inv; /* Python's min */
            for (int64_t i = 0; i < P; ++i) g[i] = g[i] * factor;
        }
    } else if (o->clip_kind == 3) { /* each entry to [-c, c] */
        const real lo = (real)(-c), hi = (real)c;
        for (int64_t i = 0; i < P; ++i) g[i] = g[i] < lo ? lo : (g[i] > hi ? hi : g[i]);
    }
}

/* One update of p by the gradient g (already clipped); t = the step number, 1, 2, ... */
static void FN(update)(const elman_optimizer *o, real *p, const real *g, int64_t P, int64_t t)
{
    const real lr = (real)o->lr;
    if (o->kind == 0) { /* SGD */
        if (o->momentum == 0) {
            for (int64_t i = 0; i < P; ++i) p[i] -= g[i] * lr;
            return;
        }
        const real mu = (real)o->momentum;
        real *m = (real *)o->s0;
        for (int64_t i = 0; i < P; ++i) {
            m[i] *= mu;
            m[i] -= g[i] * lr;
            if (o->nesterov) p[i] += m[i] * mu - g[i] * lr;
            else p[i] += m[i];
        }
    } else if (o->kind == 1) { /* RMSprop */
        const real rho = (real)o->rho, one_rho = (real)(1.0 - o->rho), eps = (real)o->epsilon;
        const real mom = (real)o->momentum;
        real *v = (real *)o->s0, *a = (real *)o->s1, *m = (real *)o->s2;
        for (int64_t i = 0; i < P; ++i) {
            const real gi = g[i];
            real den;
            v[i] = rho * v[i] + one_rho * (gi * gi);
            if (o->centered) {
                a[i] = rho * a[i] + one_rho * gi;
                den = v[i] - a[i] * a[i] + eps;
            } else {
                den = v[i] + eps;
            }
            const real inc = lr * gi / SQRT(den);
            if (o->momentum > 0) {
                m[i] = mom * m[i] + inc;
                p[i] -= m[i];
            } else {
                p[i] -= inc;
            }
        }
    } else { /* Adam: bias correction folded into the step size */
        const double b1t = pow(o->beta_1c, (double)t), b2t = pow(o->beta_2c, (double)t);
        const double alpha = o->lr * sqrt(1.0 - b2t) / (1.0 - b1t);
        const real one_b1 = (real)(1.0 - o->beta_1), one_b2 = (real)(1.0 - o->beta_2);
        const real eps = (real)o->epsilon, alpha_r = (real)alpha;
        const int wide = sizeof(real) < sizeof(double) && o->alpha_double;
        real *m = (real *)o->s0, *v = (real *)o->s1;
        for (int64_t i = 0; i < P; ++i) {
            m[i] += (g[i] - m[i]) * one_b1;
            v[i] += (g[i] * g[i] - v[i]) * one_b2;
            if (wide) /* NumPy 2: a float64 scalar times a float32 array is float64 */
                p[i] = (real)((double)p[i] - ((double)m[i] * alpha) / (double)(SQRT(v[i]) + eps));
            else
                p[i] -= (m[i] * alpha_r) / (SQRT(v[i]) + eps);
        }
    }
}

static int FN(all_finite)(const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* One epoch: the batches order[i*bs : (i+1)*bs] (the last one partial), each a loss and
 * gradient, then (clip and) an optimizer update, exactly as fit's loop; t0 = the
 * updates made before. Stops at a batch whose loss or gradient is not finite (kind 1),
 * or after an update that left a weight not finite (kind 2; theta is restored from
 * last_good). Returns 0, or -1 for an index out of range or a batch size < 1 (nothing
 * done). */
ELMAN_EXPORT int64_t FN(elman_epoch)(elman_problem *p, const elman_optimizer *o, const int64_t *order,
                                     int64_t n_order, int64_t batch_size, int64_t t0, real *grad,
                                     real *last_good, elman_epoch_result *r)
{
    const int64_t P = n_params(p);
    real *theta = (real *)p->theta;
    r->total = 0.0;
    r->seen = 0;
    r->stop_kind = 0;
    r->stop_batch = -1;
    r->iterations = 0;
    if (batch_size < 1 || n_order < 0 || check_indices(p, order, n_order)) return -1;
    const int64_t n_batches = (n_order + batch_size - 1) / batch_size;
    for (int64_t i = 0; i < n_batches; ++i) {
        const int64_t start = i * batch_size;
        const int64_t len = n_order - start < batch_size ? n_order - start : batch_size;
        FN(batch_loss_grad)(p, order + start, len, grad);
        const double value = p->value;
        if (!isfinite(value) || !FN(all_finite)(grad, P)) {
            r->stop_kind = 1;
            r->stop_batch = i;
            return 0;
        }
        memcpy(last_good, theta, (size_t)P * sizeof(real));
        FN(clip)(p, o, grad, P);
        FN(update)(o, theta, grad, P, t0 + r->iterations + 1);
        r->iterations += 1;
        if (!FN(all_finite)(theta, P)) {
            memcpy(theta, last_good, (size_t)P * sizeof(real));
            r->stop_kind = 2;
            r->stop_batch = i;
            return 0;
        }
        r->total += value * (double)len;
        r->seen += len;
    }
    return 0;
}

#endif /* ELMAN_BODY */
