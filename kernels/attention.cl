/*
** attention.cl: the OpenCL kernels of _attention (core/op_attention.c,
** whose CPU kernels they mirror): P = softmax(scale q k^T (+ causal
** mask)), out = P v, and the backward. q, k, v, out and the gradient g
** may be any views with the same batch dims (unit column stride for out);
** P, the gradients and the dS scratch are contiguous. The forward takes one work item per query row,
** the backward one per batch slice (the key loop needs every query row).
*/

/* core/op_attention.c's attn_kparams. */
typedef struct attn_kparams {
  long batch, L, S, E, Ev;
  long causal;
  long scale_f32, scale_f64;
} attn_kparams;

inline real attn_scale(attn_kparams k) {
#if LN_DTYPE == LN_FLOAT64
  return as_double(k.scale_f64);
#else
  return (real)as_float((uint)k.scale_f32);
#endif
}

/* Element offset of batch slice b in a view (its dims but the last two). */
inline long attn_slice(view_t t, long b) {
  long off = t.offset;
  for (long d = t.ndim - 3; d >= 0; d--) {
    off += (b % t.size[d]) * t.st[d];
    b /= t.size[d];
  }
  return off;
}

/* Keys row i sees. */
inline long attn_keys(attn_kparams k, long i) {
  return k.causal && i + 1 < k.S ? i + 1 : k.S;
}

/* scale q_i . k_j */
inline real attn_score(__global const real *q, view_t qv, long qo, long i,
                       __global const real *kk, view_t kv, long ko, long j,
                       attn_kparams k) {
  long nd = qv.ndim;
  acc s = 0;
  for (long e = 0; e < k.E; e++)
    s += (acc)q[qo + i * qv.st[nd - 2] + e * qv.st[nd - 1]] *
         kk[ko + j * kv.st[nd - 2] + e * kv.st[nd - 1]];
  return (real)s * attn_scale(k);
}

__kernel void attention_forward(__global real *o, view_t ov,
                                __global real *p, view_t pv,
                                __global const real *q, view_t qv,
                                __global const real *kk, view_t kv,
                                __global const real *v, view_t vv,
                                attn_kparams k) {
  long nd = qv.ndim;
  for (long item = get_global_id(0); item < k.batch * k.L;
       item += get_global_size(0)) {
    long b = item / k.L, i = item % k.L, n = attn_keys(k, i);
    long qo = attn_slice(qv, b), ko = attn_slice(kv, b), vo = attn_slice(vv, b);
    __global real *pr = p + pv.offset + item * k.S;
    __global real *orow = o + attn_slice(ov, b) + i * ov.st[nd - 2];
    real m = -INFINITY;
    for (long j = 0; j < n; j++) {
      real s = attn_score(q, qv, qo, i, kk, kv, ko, j, k);
      pr[j] = s;
      m = s > m ? s : m;
    }
    acc sum = 0;
    for (long j = 0; j < n; j++) {
      pr[j] = (real)exp((facc)(pr[j] - m));
      sum += pr[j];
    }
    real inv = (real)(1 / (facc)sum);
    for (long j = n; j < k.S; j++) pr[j] = 0;
    for (long e = 0; e < k.Ev; e++) orow[e] = 0;
    for (long j = 0; j < n; j++) {
      real pj = pr[j] * inv;
      pr[j] = pj;
      for (long e = 0; e < k.Ev; e++)
        orow[e] += pj * v[vo + j * vv.st[nd - 2] + e * vv.st[nd - 1]];
    }
  }
}

__kernel void attention_backward(__global real *dq, view_t dqv,
                                 __global real *dk, view_t dkv,
                                 __global real *dv, view_t dvv,
                                 __global real *ds, view_t dsv,
                                 __global const real *g, view_t gv,
                                 __global const real *q, view_t qv,
                                 __global const real *kk, view_t kv,
                                 __global const real *v, view_t vv,
                                 __global const real *p, view_t pv,
                                 attn_kparams k) {
  long nd = qv.ndim;
  for (long b = get_global_id(0); b < k.batch; b += get_global_size(0)) {
    long go = attn_slice(gv, b), qo = attn_slice(qv, b);
    long ko = attn_slice(kv, b), vo = attn_slice(vv, b);
    __global const real *pb = p + pv.offset + b * k.L * k.S;
    __global real *dsb = ds + dsv.offset + b * k.L * k.S;
    __global real *dqb = dq + dqv.offset + b * k.L * k.E;
    __global real *dkb = dk + dkv.offset + b * k.S * k.E;
    __global real *dvb = dv + dvv.offset + b * k.S * k.Ev;
    real scale = attn_scale(k);
    for (long i = 0; i < k.L; i++) { /* dS and dq, row by row */
      long n = attn_keys(k, i);
      acc dot = 0;
      for (long j = 0; j < n; j++) {
        acc dp = 0;
        for (long e = 0; e < k.Ev; e++)
          dp += (acc)g[go + i * gv.st[nd - 2] + e * gv.st[nd - 1]] *
                v[vo + j * vv.st[nd - 2] + e * vv.st[nd - 1]];
        dsb[i * k.S + j] = (real)dp;
        dot += (acc)pb[i * k.S + j] * (real)dp;
      }
      for (long j = 0; j < k.S; j++)
        dsb[i * k.S + j] = j < n ? pb[i * k.S + j] * (dsb[i * k.S + j] - (real)dot) * scale : 0;
      for (long e = 0; e < k.E; e++) {
        acc s = 0;
        for (long j = 0; j < n; j++)
          s += (acc)dsb[i * k.S + j] * kk[ko + j * kv.st[nd - 2] + e * kv.st[nd - 1]];
        dqb[i * k.E + e] = (real)s;
      }
    }
    for (long j = 0; j < k.S; j++) { /* dk and dv, key by key */
      for (long e = 0; e < k.E; e++) {
        acc s = 0;
        for (long i = 0; i < k.L; i++)
          s += (acc)dsb[i * k.S + j] * q[qo + i * qv.st[nd - 2] + e * qv.st[nd - 1]];
        dkb[j * k.E + e] = (real)s;
      }
      for (long e = 0; e < k.Ev; e++) {
        acc s = 0;
        for (long i = 0; i < k.L; i++)
          s += (acc)pb[i * k.S + j] * g[go + i * gv.st[nd - 2] + e * gv.st[nd - 1]];
        dvb[j * k.Ev + e] = (real)s;
      }
    }
  }
}
