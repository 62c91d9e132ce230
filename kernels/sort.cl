/*
** sort.cl: a stable sort along one dim, with the int64 positions the
** values came from, by a bitonic network. Each row of n values is packed
** into npad (the next power of two) slots of keys and positions; padding
** slots hold positions >= n and order after every value. The network
** compares (key, position) pairs, so equal keys keep their order: the
** sort is stable, as the CPU's is. NaN sorts above every number (last
** ascending, first descending), as in PyTorch.
** Short rows sort in local memory, one work-group each (sort_local);
** longer ones take one launch per network step (sort_step).
*/

/* Whether (ka at ia) comes before (kb at ib). */
inline bool sort_before(real ka, long ia, real kb, long ib, int desc, long n) {
  if (ia >= n || ib >= n) return ia < ib; /* padding last */
  bool na = IS_NAN(ka), nb = IS_NAN(kb);
  if (na || nb) return na && nb ? ia < ib : desc ? na : nb;
  if (ka != kb) return desc ? ka > kb : ka < kb;
  return ia < ib;
}

/* keys/pos[row * npad + j] = a's row element j (j < n) and j. */
__kernel void sort_pack(long n, long npad, long rstride, shape_t sh,
                        strides_t sa, __global const real *a,
                        __global real *keys, __global long *pos) {
  for (long t = get_global_id(0); t < sh.numel * npad; t += get_global_size(0)) {
    long row = t / npad, j = t % npad;
    keys[t] = j < n ? a[offset1(&sh, row, &sa) + j * rstride] : (real)0;
    pos[t] = j;
  }
}

/* Pair p of network stage (k, j) compares slots i and i + j; blocks of
** size k alternate between ascending and descending order. */
inline long pair_first(long p, long j) { return 2 * j * (p / j) + p % j; }

inline bool must_swap(real ki, long pi, real kl, long pl, long i, long k,
                      int desc, long n) {
  return (i & k) == 0 ? sort_before(kl, pl, ki, pi, desc, n)
                      : sort_before(ki, pi, kl, pl, desc, n);
}

/* The whole network for one row per work-group, in local memory. */
__kernel void sort_local(long npad, int desc, long n, long rows,
                         __global real *keys, __global long *pos,
                         __local real *lk, __local long *lp) {
  int lid = get_local_id(0), lsize = get_local_size(0);
  for (long row = get_group_id(0); row < rows; row += get_num_groups(0)) {
    __global real *gk = keys + row * npad;
    __global long *gp = pos + row * npad;
    for (long j = lid; j < npad; j += lsize) {
      lk[j] = gk[j];
      lp[j] = gp[j];
    }
    for (long k = 2; k <= npad; k <<= 1)
      for (long j = k >> 1; j > 0; j >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (long p = lid; p < npad / 2; p += lsize) {
          long i = pair_first(p, j), l = i + j;
          real ki = lk[i], kl = lk[l];
          long pi = lp[i], pl = lp[l];
          if (must_swap(ki, pi, kl, pl, i, k, desc, n)) {
            lk[i] = kl; lk[l] = ki;
            lp[i] = pl; lp[l] = pi;
          }
        }
      }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (long j = lid; j < npad; j += lsize) {
      gk[j] = lk[j];
      gp[j] = lp[j];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}

/* One stage (k, j) of the network over every row, in global memory. */
__kernel void sort_step(long npad, long k, long j, int desc, long n, long rows,
                        __global real *keys, __global long *pos) {
  long pairs = npad / 2;
  for (long t = get_global_id(0); t < rows * pairs; t += get_global_size(0)) {
    long base = t / pairs * npad, i = base + pair_first(t % pairs, j), l = i + j;
    real ki = keys[i], kl = keys[l];
    long pi = pos[i], pl = pos[l];
    if (must_swap(ki, pi, kl, pl, i - base, k, desc, n)) {
      keys[i] = kl; keys[l] = ki;
      pos[i] = pl; pos[l] = pi;
    }
  }
}

/* values/indices (any strides, rows as sh/sv/si) = the sorted rows. */
__kernel void sort_unpack(long n, long npad, long vstride, long istride,
                          shape_t sh, strides_t sv, strides_t si,
                          __global const real *keys, __global const long *pos,
                          __global real *values, __global long *indices) {
  for (long t = get_global_id(0); t < sh.numel * n; t += get_global_size(0)) {
    long row = t / n, j = t % n, ov, oi;
    offsets2(&sh, row, &sv, &ov, &si, &oi);
    values[ov + j * vstride] = keys[row * npad + j];
    indices[oi + j * istride] = pos[row * npad + j];
  }
}
