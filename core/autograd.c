/*
** autograd.c: recording nodes, and the reverse-mode engine.
** As in kann's kautodiff.c, backward linearizes the graph once (a
** topological order from the root), then walks it in one loop.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "op.h"
#include "backend.h"
#include "shape.h"

static _Thread_local bool grad_disabled;
static _Thread_local bool anomaly_on;
static _Thread_local int backward_depth; /* ln_backward calls running */
static uint64_t next_mark = 1;

static void untraced_push(ln_node *n);

bool ln_grad_enabled(void) { return !grad_disabled; }

bool ln_set_grad_enabled(bool on) {
  bool was = !grad_disabled;
  grad_disabled = !on;
  return was;
}

/* ---- nodes -------------------------------------------------------------- */

static void node_free_graph_refs(ln_node *n) {
  for (int i = 0; i < n->ninputs; i++) {
    ln_tensor_release(n->inputs[i]);
    ln_node_release(n->edges[i]);
    n->inputs[i] = NULL;
    n->edges[i] = NULL;
  }
  for (int i = 0; i < n->nsaved; i++) {
    ln_tensor_release(n->saved[i].t);
    n->saved[i].t = NULL;
  }
  if (n->ctx_free) n->ctx_free(n->ctx);
  n->ctx = NULL;
  n->ctx_free = NULL;
  n->released = true;
}

static void node_free(ln_node *n) {
  node_free_graph_refs(n);
  ln_tensor_release(n->grad_accum);
  free(n->origin_op);
  free(n->origin_trace);
  free(n->saved);
  free(n->params);
  free(n);
}

/* Freeing a node releases its inputs, which free their nodes, and so on:
** done by recursion, the history of a long loop (10^5 ops) would overflow
** the C stack. So nodes dying while another is being freed wait in a list
** that the outermost release empties. */
static _Thread_local struct {
  ln_node **items;
  size_t n, cap;
  bool active;
} dying;

static bool dying_push(ln_node *n) {
  if (dying.n == dying.cap) {
    size_t cap = dying.cap ? 2 * dying.cap : 64;
    ln_node **items = realloc(dying.items, cap * sizeof *items);
    if (!items) return false;
    dying.items = items;
    dying.cap = cap;
  }
  dying.items[dying.n++] = n;
  return true;
}

void ln_node_release(ln_node *n) {
  if (!n || --n->refcount > 0) return;
  if (dying.active) {
    if (!dying_push(n)) node_free(n); /* out of memory: recurse after all */
    return;
  }
  dying.active = true;
  node_free(n);
  while (dying.n) node_free(dying.items[--dying.n]);
  dying.active = false;
  if (dying.cap > 4096) { /* a long chain's list is not kept */
    free(dying.items);
    dying.items = NULL;
    dying.cap = 0;
  }
}

void ln_node_disown(ln_node *n, const ln_tensor *owner) {
  if (!n) return;
  if (n->owner == owner) n->owner = NULL;
  ln_node_release(n);
}

bool ln_any_requires_grad(int n, ln_tensor *const *ts) {
  if (grad_disabled) return false;
  for (int i = 0; i < n; i++)
    if (ts[i] && ts[i]->requires_grad) return true;
  return false;
}

/* A node with room for ninputs inputs and edges after it, in one block. */
static ln_node *node_new(int ninputs) {
  size_t slots = (size_t)ninputs * (sizeof(ln_tensor *) + sizeof(ln_node *));
  ln_node *n = calloc(1, sizeof *n + slots);
  if (!n) return NULL;
  n->inputs = (ln_tensor **)(n + 1);
  n->edges = (ln_node **)(n->inputs + ninputs);
  n->ninputs = ninputs;
  return n;
}

int ln_record(ln_node **node, ln_tensor *out, const char *name,
              ln_backward_fn bw, int ninputs, ln_tensor *const *inputs) {
  *node = NULL;
  if (!out || !ln_any_requires_grad(ninputs, inputs)) return LN_OK;
  ln_node *n = node_new(ninputs);
  if (!n) return ln_error("%s: out of memory recording history", name);
  n->refcount = 1;
  n->name = name;
  n->backward = bw;
  for (int i = 0; i < ninputs; i++) {
    n->inputs[i] = ln_tensor_retain(inputs[i]);
    n->edges[i] = inputs[i] ? inputs[i]->grad_fn : NULL;
    if (n->edges[i]) n->edges[i]->refcount++;
  }
  ln_node_disown(out->grad_fn, out);
  out->grad_fn = n;
  out->requires_grad = true;
  n->owner = out;
  if (anomaly_on) untraced_push(n); /* waits for its op's traceback */
  *node = n;
  return LN_OK;
}

int ln_node_save(ln_node *n, ln_tensor *t) {
  if (!n) return LN_OK;
  if (n->nsaved == n->saved_cap) {
    int cap = n->saved_cap ? 2 * n->saved_cap : 4;
    struct ln_saved *saved = realloc(n->saved, (size_t)cap * sizeof *saved);
    if (!saved) return ln_error("%s: out of memory saving a tensor", n->name);
    n->saved = saved;
    n->saved_cap = cap;
  }
  ln_tensor *d = ln_detach(t);
  if (!d) return LN_ERR;
  n->saved[n->nsaved++] = (struct ln_saved){d, t->storage->version};
  return LN_OK;
}

int ln_node_params(ln_node *n, const void *p, size_t size) {
  if (!n) return LN_OK;
  void *copy = malloc(size ? size : 1);
  if (!copy) return ln_error("%s: out of memory saving parameters", n->name);
  memcpy(copy, p, size);
  free(n->params);
  n->params = copy;
  return LN_OK;
}

ln_tensor *ln_node_saved(ln_node *n, int i) {
  if (n->released || i >= n->nsaved || !n->saved[i].t)
    return ln_error("%s: trying to backward through the graph a second time "
                    "(or after its saved tensors were freed); use "
                    "backward{retain_graph = true} the first time", n->name),
           NULL;
  ln_tensor *t = n->saved[i].t;
  if (t->storage->version != n->saved[i].version)
    return ln_error("%s: a tensor needed for gradient computation has been "
                    "modified by an in-place operation (version %llu, "
                    "expected %llu)", n->name,
                    (unsigned long long)t->storage->version,
                    (unsigned long long)n->saved[i].version),
           NULL;
  return t;
}

bool ln_node_needs_grad(const ln_node *n, int i) {
  return i < n->ninputs && n->inputs[i] && n->inputs[i]->requires_grad;
}

const char *ln_grad_fn_name(const ln_tensor *t) {
  return t->grad_fn ? t->grad_fn->name : NULL;
}

/* ---- in-place ops ------------------------------------------------------- */

int ln_check_inplace(ln_tensor *t) {
  if (grad_disabled) return LN_OK;
  if (t->requires_grad && !t->grad_fn)
    return ln_error("a leaf tensor that requires grad is used in an in-place "
                    "operation (wrap it in luann.no_grad, or use detach)");
  /* PyTorch rewrites the base's history here (CopySlices); until luann
  ** does, refuse rather than compute a wrong gradient. */
  if (t->grad_view)
    return ln_error("an in-place operation on a view of a tensor with "
                    "history is not supported (the base would not see it); "
                    "use an out-of-place op, or clone() first");
  return LN_OK;
}

void ln_bump_version(ln_tensor *t) { t->storage->version++; }

int ln_record_inplace(ln_tensor *t, const char *name, ln_backward_fn bw,
                      int nextra, ln_tensor *const *extra) {
  if (!ln_any_requires_grad(1, &t) && !ln_any_requires_grad(nextra, extra))
    return LN_OK;
  ln_tensor **inputs = malloc((size_t)(nextra + 1) * sizeof *inputs);
  ln_tensor *old = inputs ? ln_detach(t) : NULL;
  if (!old) {
    free(inputs);
    return ln_error("%s: out of memory recording history", name);
  }
  old->grad_fn = t->grad_fn; /* the history moves to `old` */
  old->requires_grad = t->requires_grad;
  if (old->grad_fn) old->grad_fn->owner = old;
  t->grad_fn = NULL;
  inputs[0] = old;
  for (int i = 0; i < nextra; i++) /* t:mul_(t) reads t's old self */
    inputs[i + 1] = extra[i] == t ? old : extra[i];
  ln_node *n;
  int rc = ln_record(&n, t, name, bw, nextra + 1, inputs);
  if (n) n->inplace = true;
  if (rc != LN_OK) { /* t keeps its old history rather than none */
    t->grad_fn = old->grad_fn;
    old->grad_fn = NULL;
    if (t->grad_fn) t->grad_fn->owner = t;
  }
  ln_tensor_release(old);
  free(inputs);
  return rc;
}

/* ---- requires_grad ------------------------------------------------------ */

int ln_set_requires_grad(ln_tensor *t, bool on) {
  if (on && !ln_dtype_is_float(t->dtype))
    return ln_error("only floating point tensors can require gradients, "
                    "got %s", ln_dtype_name(t->dtype));
  if (!on && t->grad_fn)
    return ln_error("requires_grad can only be turned off on leaf tensors; "
                    "use detach()");
  t->requires_grad = on;
  return LN_OK;
}

int ln_retain_grad(ln_tensor *t) {
  if (!t->requires_grad)
    return ln_error("retain_grad: the tensor does not require grad");
  t->retains_grad = true;
  return LN_OK;
}

/* ---- anomaly mode ------------------------------------------------------- */

/* Nodes recorded in anomaly mode whose op has not yet returned to Lua
** (retained, so a node dropped meanwhile is not a dangling pointer). A
** caller that never pushes results (a C host) must not grow it without
** bound: past UNTRACED_MAX the nodes simply go untraced. */
#define UNTRACED_MAX 4096
static _Thread_local struct {
  ln_node **items;
  size_t n, cap;
} untraced;

static _Thread_local char *failed_trace; /* ln_anomaly_failed_trace */

static void untraced_flush(void) {
  size_t n = untraced.n;
  untraced.n = 0;
  for (size_t i = 0; i < n; i++) ln_node_release(untraced.items[i]);
}

static void untraced_push(ln_node *n) {
  if (untraced.n == UNTRACED_MAX) untraced_flush();
  if (untraced.n == untraced.cap) {
    size_t cap = untraced.cap ? 2 * untraced.cap : 16;
    ln_node **items = realloc(untraced.items, cap * sizeof *items);
    if (!items) return; /* out of memory: this node goes untraced */
    untraced.items = items;
    untraced.cap = cap;
  }
  n->refcount++;
  untraced.items[untraced.n++] = n;
}

bool ln_anomaly_enabled(void) { return anomaly_on; }

bool ln_set_anomaly_enabled(bool on) {
  bool was = anomaly_on;
  anomaly_on = on;
  if (!on) untraced_flush();
  return was;
}

bool ln_anomaly_check_results(void) { return anomaly_on && !backward_depth; }

bool ln_anomaly_untraced(void) { return untraced.n > 0; }

static char *copy_text(const char *s) {
  return s ? strdup(s) : NULL;
}

/* lead, then text, in a new string (NULL when out of memory). */
static char *join_text(const char *lead, const char *text) {
  size_t a = strlen(lead), b = strlen(text);
  char *s = malloc(a + b + 1);
  if (s) {
    memcpy(s, lead, a);
    memcpy(s + a, text, b + 1);
  }
  return s;
}

void ln_anomaly_set_origin(const char *op, const char *trace) {
  for (size_t i = 0; i < untraced.n; i++) {
    ln_node *n = untraced.items[i];
    if (n->origin_trace) continue; /* keeps the first: where it was made */
    n->origin_op = n->inplace ? NULL : copy_text(op);
    n->origin_trace = join_text(n->inplace
        ? "recorded by an in-place op run before this call (in-place ops "
          "give no traceback of their own):\n"
        : "recorded by this call:\n", trace ? trace : "");
  }
  untraced_flush();
}

const char *ln_anomaly_failed_trace(void) { return failed_trace; }

/* One non-finite value v at flat index i: a NaN outranks an Inf. */
static void note_nonfinite(ln_nonfinite *r, int64_t i, double v) {
  bool nan = isnan(v);
  if (r->count++ == 0 || (nan && r->what[0] != 'n')) {
    r->first = i;
    r->what = nan ? "nan" : v > 0 ? "inf" : "-inf";
  }
}

int ln_anomaly_scan(ln_tensor *t, ln_nonfinite *r) {
  *r = (ln_nonfinite){0, -1, NULL};
  if (!ln_dtype_is_float(t->dtype) || ln_tensor_numel(t) == 0) return LN_OK;
  bool was = ln_set_grad_enabled(false); /* the copies record nothing */
  ln_tensor *host = ln_to(t, t->dtype, ln_device_cpu());
  ln_tensor *c = host ? ln_contiguous(host) : NULL;
  ln_tensor_release(host);
  ln_set_grad_enabled(was);
  if (!c) return LN_ERR;
  int64_t n = ln_tensor_numel(c);
  if (c->dtype == LN_FLOAT32) {
    const float *x = ln_tensor_data(c);
    for (int64_t i = 0; i < n; i++)
      if (!isfinite(x[i])) note_nonfinite(r, i, x[i]);
  } else {
    const double *x = ln_tensor_data(c);
    for (int64_t i = 0; i < n; i++)
      if (!isfinite(x[i])) note_nonfinite(r, i, x[i]);
  }
  ln_tensor_release(c);
  return LN_OK;
}

/* Anomaly mode: the first gradient holding a NaN or Inf is an error that
** names the node (and the Lua op that recorded it, when known). */
static int check_gradients(ln_node *n, ln_tensor **gin) {
  for (int i = 0; i < n->ninputs; i++) {
    ln_nonfinite r;
    if (!gin[i]) continue;
    if (ln_anomaly_scan(gin[i], &r) != LN_OK) return LN_ERR;
    if (!r.count) continue;
    char label[160];
    if (n->origin_op)
      snprintf(label, sizeof label, "'%s' (%s)", n->origin_op, n->name);
    else
      snprintf(label, sizeof label, "%s", n->name);
    return ln_error("detect_anomaly: backward of %s returned %s in the "
                    "gradient for its input %d (at element %lld of %lld; %lld "
                    "non-finite in all)", label, r.what, i + 1,
                    (long long)r.first + 1, (long long)ln_tensor_numel(gin[i]),
                    (long long)r.count);
  }
  return LN_OK;
}

/* ---- the engine --------------------------------------------------------- */

typedef struct node_list {
  ln_node **items;
  size_t n, cap;
} node_list;

static int list_push(node_list *l, ln_node *n) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    ln_node **items = realloc(l->items, cap * sizeof *items);
    if (!items) return ln_error("backward: out of memory");
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = n;
  return LN_OK;
}

/* Post-order DFS without recursion, so deep graphs do not overflow the C
** stack: `order` ends with the root's node. */
static int topological_order(ln_node *root, node_list *order) {
  node_list stack = {0};
  uint64_t mark = next_mark++;
  int rc = list_push(&stack, root);
  root->mark = mark;
  while (rc == LN_OK && stack.n) {
    ln_node *n = stack.items[stack.n - 1];
    bool pushed = false;
    for (int i = 0; i < n->ninputs && !pushed; i++) {
      ln_node *c = n->edges[i];
      if (c && c->mark != mark) {
        c->mark = mark;
        rc = list_push(&stack, c);
        pushed = true;
      }
    }
    if (!pushed && rc == LN_OK) {
      stack.n--;
      rc = list_push(order, n);
    }
  }
  free(stack.items);
  return rc;
}

/* *acc += g, keeping *acc a tensor of its own. */
static int accumulate(ln_tensor **acc, ln_tensor *g) {
  if (!*acc) {
    bool owned = g->refcount == 1 && g->storage->refcount == 1 &&
                 ln_tensor_is_contiguous(g) && !g->grad_fn;
    *acc = owned ? ln_tensor_retain(g) : ln_clone(g);
    return *acc ? LN_OK : LN_ERR;
  }
  return ln_binary_(LN_BINARY_ADD, *acc, g);
}

/* Brings a gradient to x's shape and dtype (broadcast inputs). */
static ln_tensor *fit_to(ln_tensor *g, const ln_tensor *x) {
  ln_tensor *r = ln_same_shape(g, x) ? ln_tensor_retain(g)
                                     : ln_sum_to(g, x->ndim, x->shape);
  if (r && r->dtype != x->dtype) {
    ln_tensor *c = ln_cast_raw(r, x->dtype);
    ln_tensor_release(r);
    r = c;
  }
  return r;
}

static int flow_into_inputs(ln_node *n, ln_tensor **gin) {
  int rc = LN_OK;
  for (int i = 0; i < n->ninputs; i++) {
    ln_tensor *x = n->inputs[i], *g = gin[i];
    gin[i] = NULL;
    if (!g || !x || !x->requires_grad || rc != LN_OK) {
      ln_tensor_release(g);
      continue;
    }
    ln_tensor *fitted = fit_to(g, x);
    ln_tensor_release(g);
    if (!fitted) {
      rc = LN_ERR;
      continue;
    }
    ln_node *edge = n->edges[i];
    rc = accumulate(edge ? &edge->grad_accum : &x->grad, fitted);
    ln_tensor_release(fitted);
  }
  return rc;
}

/* Most nodes have few inputs: their gradients' slots live on the stack. */
#define GIN_ON_STACK 8

static int run_backward(node_list *order) {
  for (size_t k = order->n; k-- > 0;) {
    ln_node *n = order->items[k];
    ln_tensor *g = n->grad_accum;
    if (!g) continue;
    n->grad_accum = NULL;
    int rc = LN_OK;
    if (n->released)
      rc = ln_error("%s: trying to backward through the graph a second time; "
                    "use backward{retain_graph = true} the first time", n->name);
    if (rc == LN_OK && n->owner && n->owner->retains_grad)
      rc = accumulate(&n->owner->grad, g);
    ln_tensor *few[GIN_ON_STACK] = {0}, **gin = few;
    if (rc == LN_OK && n->ninputs > GIN_ON_STACK) {
      gin = calloc((size_t)n->ninputs, sizeof *gin);
      if (!gin) rc = ln_error("backward: out of memory");
    }
    if (rc == LN_OK) rc = n->backward(n, g, gin);
    if (rc == LN_OK && anomaly_on) rc = check_gradients(n, gin);
    if (rc == LN_OK) {
      rc = flow_into_inputs(n, gin);
    } else if (gin) {
      for (int i = 0; i < n->ninputs; i++) ln_tensor_release(gin[i]);
    }
    if (gin != few) free(gin);
    ln_tensor_release(g);
    if (rc != LN_OK) {
      free(failed_trace); /* a nested backward's, if any */
      failed_trace = copy_text(n->origin_trace); /* for the caller's message */
      return LN_ERR;
    }
  }
  return LN_OK;
}

int ln_backward(ln_tensor *root, ln_tensor *grad, bool retain_graph) {
  free(failed_trace);
  failed_trace = NULL;
  if (!root->requires_grad)
    return ln_error("backward: the tensor does not require grad and has no "
                    "grad_fn");
  ln_tensor *g;
  if (grad) {
    if (!ln_same_shape(grad, root)) {
      char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
      return ln_error("backward: gradient of shape %s does not match the "
                      "tensor's shape %s",
                      ln_shape_str(grad->ndim, grad->shape, s1, sizeof s1),
                      ln_shape_str(root->ndim, root->shape, s2, sizeof s2));
    }
    g = ln_cast_raw(grad, root->dtype);
  } else {
    if (ln_tensor_numel(root) != 1) {
      char s[LN_SHAPE_STRLEN];
      return ln_error("backward: grad can be implicitly created only for "
                      "scalar outputs, got shape %s; pass a gradient",
                      ln_shape_str(root->ndim, root->shape, s, sizeof s));
    }
    g = ln_full(root->ndim, root->shape, 1, root->dtype, ln_tensor_device(root));
  }
  if (!g) return LN_ERR;
  bool was = ln_set_grad_enabled(false);
  backward_depth++;
  int rc;
  if (!root->grad_fn) {
    rc = accumulate(&root->grad, g);
  } else {
    node_list order = {0};
    rc = topological_order(root->grad_fn, &order);
    /* Hold every node, so freeing one node's inputs cannot free a node
    ** still in the list. */
    for (size_t i = 0; i < order.n; i++) order.items[i]->refcount++;
    if (rc == LN_OK) rc = accumulate(&root->grad_fn->grad_accum, g);
    if (rc == LN_OK) rc = run_backward(&order);
    for (size_t i = 0; i < order.n; i++) { /* drop leftovers after errors */
      ln_node *n = order.items[i];
      ln_tensor_release(n->grad_accum);
      n->grad_accum = NULL;
      if (!retain_graph && rc == LN_OK) node_free_graph_refs(n);
    }
    for (size_t i = 0; i < order.n; i++) ln_node_release(order.items[i]);
    free(order.items);
  }
  ln_tensor_release(g);
  backward_depth--;
  ln_set_grad_enabled(was);
  return rc;
}
