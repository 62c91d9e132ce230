/*
** op.c: what the op table needs at run time: finding rows, their default
** parameters, dispatching a primitive's kernel to its backend, and the
** temporaries scope (see op.h).
*/
#include <stdbool.h>
#include <string.h>

#include "backend.h"
#include "op.h"

const ln_op *ln_op_find(const char *name) {
  for (const ln_op *const *r = ln_op_table; *r; r++)
    if (strcmp((*r)->name, name) == 0) return *r;
  return NULL;
}

void ln_op_defaults(const ln_op *op, void *params) {
  char *base = params;
  memset(params, 0, op->params_size);
  for (const ln_param *p = op->params; p && p->name; p++) {
    char *at = base + p->offset;
    switch (p->kind) {
      case LN_PARAM_INT:
      case LN_PARAM_DIM: *(int64_t *)at = (int64_t)p->def; break;
      case LN_PARAM_SIZES:
        for (int i = 0; i < p->count; i++) ((int64_t *)at)[i] = (int64_t)p->def;
        break;
      case LN_PARAM_NUMBER: *(double *)at = p->def; break;
      case LN_PARAM_BOOL: *(bool *)at = p->def != 0; break;
      case LN_PARAM_CHOICE: *(int *)at = (int)p->def; break;
      case LN_PARAM_LIST:
      case LN_PARAM_DIMS: break; /* empty */
    }
  }
}

/* ---- kernels ------------------------------------------------------------ */

int ln_kernel_run(const ln_kernel *k, const ln_kernel_args *a) {
  const ln_backend *b = LN_BACKEND(a->out[0]);
  int rc = b->kernel ? b->kernel(k, a) : LN_NO_KERNEL;
  if (rc != LN_NO_KERNEL) return rc;
  if (k->composite) return k->composite(a);
  char dev[32];
  ln_device_name(ln_tensor_device(a->out[0]), dev, sizeof dev);
  return ln_error("%s is not supported on %s", k->name, dev);
}

/* ---- temporaries -------------------------------------------------------- */

bool ln_scope_add(ln_scope *s, ln_tensor *t) {
  if (!t) return false;
  if (s->n == LN_SCOPE_MAX) {
    ln_tensor_release(t);
    ln_error("internal: more than %d temporaries in one scope", LN_SCOPE_MAX);
    return false;
  }
  s->t[s->n++] = t;
  return true;
}

ln_tensor *ln_scope_keep(ln_scope *s, ln_tensor *r) {
  ln_tensor_retain(r);
  ln_scope_end(s);
  return r;
}

ln_tensor *ln_scope_end(ln_scope *s) {
  while (s->n > 0) ln_tensor_release(s->t[--s->n]);
  return NULL;
}
