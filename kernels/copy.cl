/*
** copy.cl: out = a converted to out's dtype, and out = value.
** The program's real is the destination's dtype; the source's dtype comes
** as an argument (load_as_real). Contiguous same-dtype copies and
** contiguous fills do not come here: the host queues clEnqueueCopyBuffer
** and clEnqueueFillBuffer for them.
*/

/* Any strides (expanded sources have stride 0). */
__kernel void copy(int src_dtype, shape_t sh, strides_t so, strides_t sa,
                   __global real *out, __global const uchar *a) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0)) {
    long oo, oa;
    offsets2(&sh, i, &so, &oo, &sa, &oa);
    out[oo] = load_as_real(a, oa, src_dtype);
  }
}

/* Both plain arrays: n elements from element offsets oo and oa. */
__kernel void copy_contig(int src_dtype, long n, long oo, long oa,
                          __global real *out, __global const uchar *a) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0))
    out[oo + i] = load_as_real(a, oa + i, src_dtype);
}

/* Any strides. */
__kernel void fill(real value, shape_t sh, strides_t so, __global real *out) {
  for (long i = get_global_id(0); i < sh.numel; i += get_global_size(0))
    out[offset1(&sh, i, &so)] = value;
}
