/*
** op_sort.c: sort and topk, and their backward. Positions in messages are
** 1-based: see index_util.h.
*/
#include "backend.h"
#include "index_util.h"
#include "op.h"
#include "shape.h"

/* ---- sort, topk --------------------------------------------------------- */

/* Sorted values and their int64 positions along dim; no history. */
static int sort_raw(ln_tensor *a, int dim, bool descending, ln_tensor **values,
                    ln_tensor **indices) {
  ln_device dev = ln_tensor_device(a);
  ln_scope s = {0};
  ln_tensor *v = LN_TMP(&s, ln_empty(a->ndim, a->shape, a->dtype, dev));
  ln_tensor *ix = LN_TMP(&s, ln_empty(a->ndim, a->shape, LN_INT64, dev));
  ln_tensor *a1 = LN_TMP(&s, ln_as_1d(a));
  ln_tensor *v1 = LN_TMP(&s, ln_as_1d(v));
  ln_tensor *i1 = LN_TMP(&s, ln_as_1d(ix));
  if (LN_BACKEND(a)->sort(v1, i1, a1, dim, descending) != LN_OK) goto fail;
  *values = ln_tensor_retain(v);
  *indices = ln_scope_keep(&s, ix);
  return LN_OK;
fail:
  return ln_scope_done(&s, LN_ERR);
}

typedef struct sort_params {
  int64_t dim;
} sort_params;

/* d a = zeros with d values scattered back through the indices (sort and
** topk: the indices along dim are distinct). */
static int sort_backward(ln_node *n, ln_tensor *gout, ln_tensor **gin) {
  ln_tensor *index = ln_node_saved(n, 0), *a = n->inputs[0];
  const sort_params *p = n->params;
  if (!index) return LN_ERR;
  ln_tensor *g = ln_zeros(a->ndim, a->shape, gout->dtype, ln_tensor_device(gout));
  if (!g || ln_scatter_into(n->name, g, (int)p->dim, index, gout, false) != LN_OK) {
    ln_tensor_release(g);
    return LN_ERR;
  }
  gin[0] = g;
  return LN_OK;
}

/* Records values' node; when that fails, both results are released. */
static int record_sort(const char *name, ln_tensor *a, int dim,
                       ln_tensor **values, ln_tensor **indices) {
  ln_node *n;
  int rc = ln_record(&n, *values, name, sort_backward, 1, &a);
  sort_params p = {dim};
  if (rc == LN_OK) rc = ln_node_params(n, &p, sizeof p);
  if (rc == LN_OK) rc = ln_node_save(n, *indices);
  if (rc != LN_OK) {
    ln_tensor_release(*values);
    ln_tensor_release(*indices);
    *values = *indices = NULL;
  }
  return rc;
}

/* values, indices = a sorted along dim (stable; NaN above all numbers) */
int ln_sort(ln_tensor *a, int dim, bool descending, ln_tensor **values,
            ln_tensor **indices) {
  int d;
  *values = *indices = NULL;
  if (ln_wrap_dim("sort", dim, a->ndim, false, &d) != LN_OK ||
      sort_raw(a, d, descending, values, indices) != LN_OK)
    return LN_ERR;
  return record_sort("SortBackward", a, d, values, indices);
}

/* values, indices = the k largest (smallest) entries along dim, in order:
** a sort, then its first k (`sorted` false is served sorted too). */
int ln_topk(ln_tensor *a, int64_t k, int dim, bool largest, bool sorted,
            ln_tensor **values, ln_tensor **indices) {
  int d;
  (void)sorted;
  *values = *indices = NULL;
  if (ln_wrap_dim("topk", dim, a->ndim, false, &d) != LN_OK) return LN_ERR;
  int64_t size = a->ndim ? a->shape[d] : 1;
  if (k < 0 || k > size)
    return ln_error("topk: k %lld is out of range for dim %d of size %lld",
                    (long long)k, d + 1, (long long)size);
  ln_tensor *sv, *si;
  if (sort_raw(a, d, largest, &sv, &si) != LN_OK) return LN_ERR;
  if (a->ndim == 0) { /* as PyTorch: the 0-dim value itself */
    *values = sv;
    *indices = si;
    return record_sort("TopkBackward", a, d, values, indices);
  }
  ln_scope s = {0};
  ln_scope_add(&s, sv);
  ln_scope_add(&s, si);
  ln_tensor *wv = LN_TMP(&s, ln_narrow_raw(sv, d, 0, k));
  ln_tensor *wi = LN_TMP(&s, ln_narrow_raw(si, d, 0, k));
  ln_tensor *v = LN_TMP(&s, ln_copy_raw(wv));
  ln_tensor *ix = LN_TMP(&s, ln_copy_raw(wi));
  *values = ln_tensor_retain(v);
  *indices = ln_scope_keep(&s, ix);
  return record_sort("TopkBackward", a, d, values, indices);
fail:
  return ln_scope_done(&s, LN_ERR);
}
