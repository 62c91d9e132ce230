/*
** softmax.cl: out = softmax(a) or log_softmax(a) along one dim, float
** dtypes only. Rows as in reduce.cl: each row has r elements, rstride
** apart in a and ostride apart in out, from the starts sh/sa/so give.
**   softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j
**   log_softmax(x)_i = x_i - (m + log sum_j exp(x_j - m))
*/
#if REAL_IS_FLOAT

/* One work-item per row, three passes: for many short rows, or rows
** along a dim that is not the innermost (coalesced across items). */
__kernel void softmax_items(int logp, long r, long rstride, long ostride,
                            shape_t sh, strides_t sa, strides_t so,
                            __global const real *a, __global real *out) {
  for (long row = get_global_id(0); row < sh.numel; row += get_global_size(0)) {
    long oa, oo;
    offsets2(&sh, row, &sa, &oa, &so, &oo);
    real m = -INFINITY, s = 0;
    for (long j = 0; j < r; j++) m = fmax(m, a[oa + j * rstride]);
    for (long j = 0; j < r; j++) s += exp(a[oa + j * rstride] - m);
    real ls = m + log(s), inv = 1 / s;
    for (long j = 0; j < r; j++) {
      real x = a[oa + j * rstride];
      out[oo + j * ostride] = logp ? x - ls : exp(x - m) * inv;
    }
  }
}

/* Tree reduction of lred[0..lsize) into lred[0]: max when want_max, else
** sum. Every item of the group calls it. */
inline real group_reduce(__local real *lred, real v, int want_max) {
  int lid = get_local_id(0), lsize = get_local_size(0), step = 1;
  lred[lid] = v;
  while (step < lsize) step <<= 1;
  for (step >>= 1; step > 0; step >>= 1) {
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < step && lid + step < lsize) {
      real o = lred[lid + step];
      lred[lid] = want_max ? fmax(lred[lid], o) : lred[lid] + o;
    }
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  v = lred[0];
  barrier(CLK_LOCAL_MEM_FENCE); /* lred is reused next */
  return v;
}

/* One work-group per row: its items read the row side by side. */
__kernel void softmax_groups(int logp, long r, long rstride, long ostride,
                             shape_t sh, strides_t sa, strides_t so,
                             __global const real *a, __global real *out,
                             __local real *lred) {
  int lid = get_local_id(0), lsize = get_local_size(0);
  for (long row = get_group_id(0); row < sh.numel; row += get_num_groups(0)) {
    long oa, oo;
    offsets2(&sh, row, &sa, &oa, &so, &oo);
    real m = -INFINITY, s = 0;
    for (long j = lid; j < r; j += lsize) m = fmax(m, a[oa + j * rstride]);
    m = group_reduce(lred, m, 1);
    for (long j = lid; j < r; j += lsize) s += exp(a[oa + j * rstride] - m);
    s = group_reduce(lred, s, 0);
    real ls = m + log(s), inv = 1 / s;
    for (long j = lid; j < r; j += lsize) {
      real x = a[oa + j * rstride];
      out[oo + j * ostride] = logp ? x - ls : exp(x - m) * inv;
    }
  }
}

#endif
