/*
** reduce.cl: one dim of `a` reduced into out (sum, mean, prod, max, min,
** argmax, argmin, logsumexp, any, all), with arg indices for max/min.
** Ops are ln_reduce_op's values by name (the host passes them as -D).
**
** A reduction is a set of rows: each output reads r elements, rstride
** apart, from its row's start (geometry sh/sa over the outputs). The state
** of a partial reduction carries its value, logsumexp's scale and the
** index of the extreme, so states of any parts merge in any order with the
** CPU's result: NaN wins (the first NaN), ties keep the lower index.
** Outputs are written as the host's dtype odt (sums of integers are int64).
*/
typedef struct rstate {
  acc v;    /* sum, product, extreme, logsumexp's max, any/all as 0/1 */
  facc s;   /* logsumexp: the value is exp(v) * s */
  long i;   /* index of the extreme, -1 while empty */
} rstate;

inline rstate r_init(int op) {
  rstate c;
  c.v = op == LN_REDUCE_PROD || op == LN_REDUCE_ALL ? (acc)1
        : op == LN_REDUCE_LOGSUMEXP ? ACC_LOWEST : (acc)0;
  c.s = 0;
  c.i = -1;
  return c;
}

/* Whether (x at xi) beats (best at bi) for max/min. */
inline bool r_better(int op, acc x, long xi, acc best, long bi) {
  if (xi < 0) return false;
  if (bi < 0) return true;
  if (IS_NAN(x)) return !IS_NAN(best) || xi < bi;
  if (IS_NAN(best)) return false;
  if (x == best) return xi < bi;
  return op == LN_REDUCE_MAX || op == LN_REDUCE_ARGMAX ? x > best : x < best;
}

/* exp(v) * s of c and of (bv, bs) added, keeping v the largest. */
inline void lse_merge(rstate *c, acc bv, facc bs) {
  if (bv == ACC_LOWEST || bs == 0) return;
  if (bv == c->v) {
    c->s += bs;
  } else if (bv > c->v) {
    c->s = c->s * exp((facc)c->v - (facc)bv) + bs;
    c->v = bv;
  } else {
    c->s += bs * exp((facc)bv - (facc)c->v); /* NaN lands here, poisons s */
  }
}

inline void r_merge(int op, rstate *c, rstate b) {
  switch (op) {
    case LN_REDUCE_SUM: case LN_REDUCE_MEAN: c->v += b.v; break;
    case LN_REDUCE_PROD: c->v *= b.v; break;
    case LN_REDUCE_LOGSUMEXP: lse_merge(c, b.v, b.s); break;
    case LN_REDUCE_ANY: c->v = c->v != 0 || b.v != 0; break;
    case LN_REDUCE_ALL: c->v = c->v != 0 && b.v != 0; break;
    default:
      if (r_better(op, b.v, b.i, c->v, c->i)) *c = b;
  }
}

inline void r_fold(int op, rstate *c, real x, long k) {
  rstate b;
  b.v = (acc)x;
  b.s = 1;
  b.i = k;
  r_merge(op, c, b);
}

/* A value stored as dtype dt at element i of p. */
inline void store_as(__global uchar *p, long i, int dt, facc v, long n) {
  switch (dt) {
    case LN_FLOAT32: ((__global float *)p)[i] = (float)v; break;
#if LN_FP64
    case LN_FLOAT64: ((__global double *)p)[i] = (double)v; break;
#endif
    case LN_INT64: ((__global long *)p)[i] = n; break;
    case LN_UINT8: p[i] = (uchar)n; break;
    case LN_BOOL: p[i] = n != 0; break;
  }
}

inline void r_store(int op, rstate c, long r, int odt, __global uchar *out,
                    long oo, __global long *idx, long io, int has_idx) {
  facc v = (facc)c.v;
  long n = (long)c.v;
  switch (op) {
    case LN_REDUCE_MEAN: v = v / (facc)r; break;
    case LN_REDUCE_LOGSUMEXP:
      v = isnan(c.s) ? (facc)NAN : c.v == ACC_LOWEST ? (facc)-INFINITY
                                 : (facc)c.v + log(c.s);
      break;
    case LN_REDUCE_ARGMAX: case LN_REDUCE_ARGMIN:
      ((__global long *)out)[oo] = c.i;
      return;
  }
  store_as(out, oo, odt, v, n);
  if (has_idx && (op == LN_REDUCE_MAX || op == LN_REDUCE_MIN)) idx[io] = c.i;
}

/* One work-item per output: for many outputs, or short rows, or a reduced
** dim that is not the innermost (neighbouring items then read neighbouring
** elements: coalesced). idx is contiguous like out, from element ioff. */
__kernel void reduce_items(int op, long r, long rstride, int odt, int has_idx,
                           long ioff, shape_t sh, strides_t sa, strides_t so,
                           __global const real *a, __global uchar *out,
                           __global long *idx) {
  for (long row = get_global_id(0); row < sh.numel; row += get_global_size(0)) {
    long oa, oo;
    offsets2(&sh, row, &sa, &oa, &so, &oo);
    rstate c = r_init(op);
    for (long j = 0; j < r; j++) r_fold(op, &c, a[oa + j * rstride], j);
    r_store(op, c, r, odt, out, oo, idx, ioff + oo - so.offset, has_idx);
  }
}

/* One work-group per (row, chunk of the row): the group's items read the
** chunk side by side, then merge their states in local memory; the chunk's
** state goes to p*[row * chunks + chunk]. */
__kernel void reduce_partial(int op, long r, long rstride, long chunks,
                             long chunk_len, shape_t sh, strides_t sa,
                             __global const real *a, __global acc *pv,
                             __global facc *ps, __global long *pi,
                             __local acc *lv, __local facc *ls,
                             __local long *li) {
  int lid = get_local_id(0), lsize = get_local_size(0);
  for (long g = get_group_id(0); g < sh.numel * chunks; g += get_num_groups(0)) {
    long row = g / chunks, lo = g % chunks * chunk_len;
    long hi = min(r, lo + chunk_len), oa = offset1(&sh, row, &sa);
    rstate c = r_init(op);
    for (long j = lo + lid; j < hi; j += lsize) r_fold(op, &c, a[oa + j * rstride], j);
    lv[lid] = c.v;
    ls[lid] = c.s;
    li[lid] = c.i;
    int step = 1;
    while (step < lsize) step <<= 1;
    for (step >>= 1; step > 0; step >>= 1) {
      barrier(CLK_LOCAL_MEM_FENCE);
      if (lid < step && lid + step < lsize) {
        rstate b;
        b.v = lv[lid + step];
        b.s = ls[lid + step];
        b.i = li[lid + step];
        r_merge(op, &c, b);
        lv[lid] = c.v;
        ls[lid] = c.s;
        li[lid] = c.i;
      }
    }
    if (lid == 0) {
      pv[g] = c.v;
      ps[g] = c.s;
      pi[g] = c.i;
    }
    barrier(CLK_LOCAL_MEM_FENCE); /* local memory is reused by the next g */
  }
}

/* One work-item per output: merges its row's chunk states in order. */
__kernel void reduce_finish(int op, long r, long chunks, int odt, int has_idx,
                            long ioff, shape_t sh, strides_t so,
                            __global const acc *pv, __global const facc *ps,
                            __global const long *pi, __global uchar *out,
                            __global long *idx) {
  for (long row = get_global_id(0); row < sh.numel; row += get_global_size(0)) {
    rstate c = r_init(op);
    for (long k = row * chunks; k < (row + 1) * chunks; k++) {
      rstate b;
      b.v = pv[k];
      b.s = ps[k];
      b.i = pi[k];
      r_merge(op, &c, b);
    }
    long oo = offset1(&sh, row, &so);
    r_store(op, c, r, odt, out, oo, idx, ioff + oo - so.offset, has_idx);
  }
}
