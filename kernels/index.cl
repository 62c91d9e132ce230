/*
** index.cl: gather and index_select, scatter and index_add, and
** masked_select. Index values are int64, 0-based; one out of range is
** recorded in the error flag (flag_index) and its element left alone, and
** the host reports it on its next read.
*/

/* out[i] = a[i with dim's coordinate replaced by index[i]], over out's
** shape: sa has stride 0 along dim, astride is a's stride along it. For
** index_select the index operand has stride 0 except along dim, so every
** position reads the index entry of its coordinate along dim. */
__kernel void gather(int code, int dim, long asize, long astride, shape_t sh,
                     strides_t so, strides_t si, strides_t sa,
                     __global real *out, __global const long *index,
                     __global const real *a, __global int *flag) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0)) {
    long oo, oi, oa, unused;
    offsets4(&sh, i, &so, &oo, &si, &oi, &sa, &oa, &sa, &unused);
    long v = index[oi];
    if (v < 0 || v >= asize) {
      flag_index(flag, code, dim, v, asize);
      continue;
    }
    out[oo] = a[oa + v * astride];
  }
}

/* x + alpha * y in the dtype's arithmetic; bool adds as "or". */
inline real add_scaled(real x, real alpha, real y) {
#if REAL_IS_BOOL
  return x || (alpha && y);
#else
  return x + (real)(alpha * y);
#endif
}

/* out[c with dim = index[c, k]] (+)= alpha * src[c, k] for k < len along
** dim, one work-item per fiber c (every position but dim, geometry sh):
** fibers never write the same element, and within one the writes happen
** in order, so duplicate indices behave as on the CPU (the last write
** wins, or every value is added). For index_add the index operand has
** stride 0 outside dim (one index vector for every fiber). */
__kernel void scatter(int code, int dim, int accumulate, real alpha, long len,
                      long istride, long sstride, long ostride, long osize,
                      shape_t sh, strides_t so, strides_t si, strides_t ss,
                      __global real *out, __global const long *index,
                      __global const real *src, __global int *flag) {
  for (long f = get_global_id(0); f < sh.numel; f += get_global_size(0)) {
    long oo, oi, os, unused;
    offsets4(&sh, f, &so, &oo, &si, &oi, &ss, &os, &ss, &unused);
    for (long k = 0; k < len; k++) {
      long v = index[oi + k * istride];
      if (v < 0 || v >= osize) {
        flag_index(flag, code, dim, v, osize);
        continue;
      }
      long p = oo + v * ostride;
      real x = src[os + k * sstride];
      out[p] = accumulate ? add_scaled(out[p], alpha, x) : x;
    }
  }
}

/* masked_select in three steps over chunks of `chunk` elements in
** row-major order: count each chunk's true mask entries, scan the counts
** into output positions, then copy each chunk's selected elements. */
__kernel void mask_count(long chunk, long nchunks, shape_t sh, strides_t sm,
                         __global const uchar *mask, __global long *counts) {
  for (long g = get_global_id(0); g < nchunks; g += get_global_size(0)) {
    long n = 0, hi = min(sh.numel, (g + 1) * chunk);
    for (long i = g * chunk; i < hi; i++) n += mask[offset1(&sh, i, &sm)] != 0;
    counts[g] = n;
  }
}

/* Exclusive prefix sum of counts[0..n), in place, by one work-group:
** each item sums a run of entries, item 0 scans the run totals, then each
** item rewrites its run. */
__kernel void mask_scan(long n, __global long *counts, __local long *runs) {
  int lid = get_local_id(0), lsize = get_local_size(0);
  long per = (n + lsize - 1) / lsize, lo = lid * per, hi = min(n, lo + per);
  long total = 0;
  for (long i = lo; i < hi; i++) total += counts[i];
  runs[lid] = total;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (lid == 0) {
    long run = 0;
    for (int k = 0; k < lsize; k++) {
      long t = runs[k];
      runs[k] = run;
      run += t;
    }
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  long pos = runs[lid];
  for (long i = lo; i < hi; i++) {
    long c = counts[i];
    counts[i] = pos;
    pos += c;
  }
}

__kernel void mask_write(long chunk, long nchunks, long oo, shape_t sh,
                         strides_t sa, strides_t sm, __global const real *a,
                         __global const uchar *mask,
                         __global const long *starts, __global real *out) {
  for (long g = get_global_id(0); g < nchunks; g += get_global_size(0)) {
    long pos = oo + starts[g], hi = min(sh.numel, (g + 1) * chunk);
    for (long i = g * chunk; i < hi; i++) {
      long oa, om;
      offsets2(&sh, i, &sa, &oa, &sm, &om);
      if (mask[om]) out[pos++] = a[oa];
    }
  }
}
