/*
** optim.cl: fused optimizer updates, in place, on contiguous float
** tensors (float dtypes only). Each reads and writes every element once;
** the arithmetic follows core/cpu_optim.c's order in the tensor's own
** precision, with the scalar factors computed by the host in double.
** n elements from element offset 0 of each buffer plus its own offset.
*/
#if REAL_IS_FLOAT

/* d = g + wd*p; buf = first ? d : momentum*buf + (1-dampening)*d;
** d = nesterov ? d + momentum*buf : buf; p = p - lr*d */
__kernel void sgd_step(long n, real wd, real mom, real damp, real neglr,
                       int use_buf, int first, int nesterov,
                       __global real *p, long po, __global const real *g,
                       long go, __global real *buf, long bo) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    real d = g[go + i];
    if (wd != 0) d = d + wd * p[po + i];
    if (use_buf) {
      real b = first ? d : buf[bo + i] * mom + damp * d;
      buf[bo + i] = b;
      d = nesterov ? d + mom * b : b;
    }
    p[po + i] = p[po + i] + neglr * d;
  }
}

/* g = g + wd*p (Adam) or p = p*decay, decay = 1 - lr*wd (AdamW);
** m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; vmax = max(vmax, v);
** p = p - lr/(1-b1^t) * m / (sqrt(v or vmax)/sqrt(1-b2^t) + eps) */
__kernel void adam_step(long n, real wd, real decay, real b1, real c1,
                        real b2, real c2, real bc2, real neg_step, real eps,
                        int decoupled, int amsgrad, __global real *p, long po,
                        __global const real *g, long go, __global real *m,
                        long mo, __global real *v, long vo,
                        __global real *vmax, long xo) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    real gi = g[go + i], pi = p[po + i];
    if (decoupled) pi = pi * decay;
    if (wd != 0) gi = gi + wd * pi;
    real mi = m[mo + i] * b1 + c1 * gi;
    real vi = v[vo + i] * b2 + c2 * gi * gi;
    m[mo + i] = mi;
    v[vo + i] = vi;
    if (amsgrad) {
      vi = vmax[xo + i] > vi ? vmax[xo + i] : vi;
      vmax[xo + i] = vi;
    }
    real denom = sqrt(vi) / bc2 + eps;
    p[po + i] = pi + neg_step * (mi / denom);
  }
}

/* g = g + wd*p; sq = a*sq + (1-a)*g*g; ga = a*ga + (1-a)*g (centered);
** avg = sqrt(sq - ga*ga or sq) + eps;
** buf = momentum*buf + g/avg, p = p - lr*buf (momentum > 0),
** else p = p - lr * g/avg */
__kernel void rmsprop_step(long n, real wd, real a, real c, real eps,
                           real mom, real neglr, int use_buf, int centered,
                           __global real *p, long po, __global const real *g,
                           long go, __global real *sq, long so,
                           __global real *buf, long bo, __global real *ga,
                           long gao) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    real gi = g[go + i];
    if (wd != 0) gi = gi + wd * p[po + i];
    real si = sq[so + i] * a + c * gi * gi, avg;
    sq[so + i] = si;
    if (centered) {
      real gai = ga[gao + i] * a + c * gi;
      ga[gao + i] = gai;
      avg = sqrt(si + (real)-1 * gai * gai);
    } else {
      avg = sqrt(si);
    }
    avg = avg + eps;
    if (use_buf) {
      real b = buf[bo + i] * mom + gi / avg;
      buf[bo + i] = b;
      p[po + i] = p[po + i] + neglr * b;
    } else {
      p[po + i] = p[po + i] + neglr * (gi / avg);
    }
  }
}

/* g = g + wd*p; sum = sum + g*g;
** p = p - lr/(1 + (t-1)*lr_decay) * g/(sqrt(sum) + eps) */
__kernel void adagrad_step(long n, real wd, real eps, real negclr,
                           __global real *p, long po, __global const real *g,
                           long go, __global real *sum, long so) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    real gi = g[go + i];
    if (wd != 0) gi = gi + wd * p[po + i];
    real si = sum[so + i] + (real)1 * gi * gi;
    sum[so + i] = si;
    p[po + i] = p[po + i] + negclr * (gi / (sqrt(si) + eps));
  }
}

#endif
