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
static _Thread_local bool creating_graph; /* the running one records itself */
static uint64_t next_mark = 1;

static void untraced_push(ln_node *n);

bool ln_grad_enabled(void) { return !grad_disabled; }

bool ln_creating_graph(void) { return creating_graph; }

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
  int source = t == n->owner ? LN_SAVED_OUTPUT
             : t->requires_grad ? LN_SAVED_DERIVED : LN_SAVED_CONSTANT;
  for (int i = 0; i < n->ninputs; i++)
    if (n->inputs[i] == t) source = i;
  n->saved[n->nsaved++] = (struct ln_saved){d, t->storage->version, source};
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
  if (!creating_graph) return t;
  /* Double backward differentiates through the saved tensors: the inputs
  ** and the output themselves, with their history. */
  int source = n->saved[i].source;
  if (source >= 0) return n->inputs[source];
  if (source == LN_SAVED_CONSTANT) return t;
  if (source == LN_SAVED_OUTPUT && n->owner && n->owner->grad_fn == n)
    return n->owner;
  return ln_error("%s: double backward is not supported (a tensor it saved "
                  "has lost its history)", n->name), NULL;
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

/* ---- gradient hooks ----------------------------------------------------- */

/* Appends a hook to *list: they run in the order added. */
static int add_hook(ln_hook **list, ln_hook proto, int64_t *id) {
  static int64_t next_id = 1;
  ln_hook *h = malloc(sizeof *h);
  if (!h) return ln_error("register_hook: out of memory");
  *h = proto;
  h->id = next_id++;
  h->next = NULL;
  while (*list) list = &(*list)->next;
  *list = h;
  *id = h->id;
  return LN_OK;
}

int ln_add_grad_hook(ln_tensor *t, ln_grad_hook_fn fn, void *ud,
                     void (*free_ud)(void *ud), int64_t *id) {
  if (!t->requires_grad)
    return ln_error("register_hook: cannot register a hook on a tensor that "
                    "does not require grad");
  return add_hook(&t->hooks, (ln_hook){.fn = fn, .ud = ud, .free_ud = free_ud},
                  id);
}

int ln_add_post_accumulate_hook(ln_tensor *t, ln_post_hook_fn fn, void *ud,
                                void (*free_ud)(void *ud), int64_t *id) {
  if (!t->requires_grad || t->grad_fn)
    return ln_error("register_post_accumulate_grad_hook: expected a leaf "
                    "tensor that requires grad");
  return add_hook(&t->post_hooks,
                  (ln_hook){.post = fn, .ud = ud,
                            .free_ud = free_ud}, id);
}

static void hook_free(ln_hook *h) {
  if (h->free_ud) h->free_ud(h->ud);
  free(h);
}

/* Hooks running (in this thread): a hook may remove hooks, its own
** included, so removal then only marks them, and run_hooks unlinks them
** once no hook runs. */
static _Thread_local int hooks_running;

static bool removed(const ln_hook *h) { return !h->fn && !h->post; }

static bool remove_hook(ln_hook **list, int64_t id) {
  for (ln_hook **p = list; *p; p = &(*p)->next) {
    ln_hook *h = *p;
    if (h->id != id || removed(h)) continue;
    if (hooks_running) { /* unlinked by sweep_hooks */
      h->fn = NULL;
      h->post = NULL;
      return true;
    }
    *p = h->next;
    hook_free(h);
    return true;
  }
  return false;
}

bool ln_remove_grad_hook(ln_tensor *t, int64_t id) {
  return remove_hook(&t->hooks, id) || remove_hook(&t->post_hooks, id);
}

/* Unlinks the hooks removed while hooks ran. */
static void sweep_list(ln_hook **p) {
  while (*p) {
    ln_hook *h = *p;
    if (!removed(h)) {
      p = &h->next;
    } else {
      *p = h->next;
      hook_free(h);
    }
  }
}

static void sweep_hooks(ln_tensor *t) {
  sweep_list(&t->hooks);
  sweep_list(&t->post_hooks);
}

static void free_list(ln_hook **list) {
  while (*list) {
    ln_hook *h = *list;
    *list = h->next;
    hook_free(h);
  }
}

void ln_hooks_free(ln_tensor *t) {
  free_list(&t->hooks);
  free_list(&t->post_hooks);
}

/* Runs t's hooks on *g in turn, each replacing *g (owned). t is held
** meanwhile: a hook may drop the last other reference to it. */
static int run_hooks(ln_tensor *t, ln_tensor **g) {
  int rc = LN_OK;
  ln_tensor_retain(t);
  hooks_running++;
  for (ln_hook *h = t->hooks; h && rc == LN_OK; h = h->next) {
    if (!h->fn) continue; /* removed by an earlier hook */
    ln_tensor *r = h->fn(h->ud, *g);
    if (!r) {
      rc = LN_ERR;
    } else if (!ln_same_shape(r, *g)) {
      char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
      rc = ln_error("hook: returned a gradient of shape %s for a tensor of "
                    "shape %s", ln_shape_str(r->ndim, r->shape, s1, sizeof s1),
                    ln_shape_str((*g)->ndim, (*g)->shape, s2, sizeof s2));
      ln_tensor_release(r);
    } else {
      ln_tensor_release(*g);
      *g = r;
    }
  }
  if (--hooks_running == 0) sweep_hooks(t);
  ln_tensor_release(t);
  return rc;
}

/* Runs t's post-accumulate hooks (t.grad is whole). */
static int run_post_hooks(ln_tensor *t) {
  int rc = LN_OK;
  ln_tensor_retain(t);
  hooks_running++;
  for (ln_hook *h = t->post_hooks; h && rc == LN_OK; h = h->next)
    if (h->post) rc = h->post(h->ud, t);
  if (--hooks_running == 0) sweep_hooks(t);
  ln_tensor_release(t);
  return rc;
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
** stack: a node comes after every node it leads to, and `order` ends with
** the roots' nodes. */
static int topological_order(int nroot, ln_node *const *roots,
                             node_list *order) {
  node_list stack = {0};
  uint64_t mark = next_mark++;
  int rc = LN_OK;
  for (int r = 0; r < nroot && rc == LN_OK; r++) {
    if (!roots[r] || roots[r]->mark == mark) continue;
    rc = list_push(&stack, roots[r]);
    roots[r]->mark = mark;
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
  }
  free(stack.items);
  return rc;
}

/* The nodes whose backward records every step, so that under create_graph
** their gradients carry history: each uses recorded ops only, on the
** gradient and on its saved tensors (which come back with their history).
** Any other node refuses create_graph rather than return a gradient
** without history. */
static const char *const double_backward[] = {
  "AbsBackward", "AddBackward", "AddmmBackward", "BmmBackward",
  "CatBackward", "ClampBackward", "CloneBackward", "CosBackward",
  "DivBackward", "DotBackward", "ExpBackward", "ExpandBackward",
  "LeakyReluBackward", "LinearBackward", "LogBackward", "MatmulBackward",
  "MeanBackward", "MmBackward", "MulBackward", "NegBackward",
  "OuterBackward", "PermuteBackward", "PowBackward", "ReciprocalBackward",
  "ReluBackward", "RsqrtBackward", "SelectBackward", "SigmoidBackward",
  "SinBackward", "SliceBackward", "SqrtBackward", "SquareBackward",
  "StackBackward", "SubBackward", "SumBackward", "TanhBackward",
  "ToCopyBackward", "UnfoldBackward", "UnfoldBackwardBackward",
  "ViewBackward", "WhereBackward", "Im2colBackward", "Col2imBackward",
  "ConvolutionBackward", "ConvolutionInputBackward",
  "ConvolutionWeightBackward", "LayerNormBackward", NULL,
};

static bool has_double_backward(const char *name) {
  for (int i = 0; double_backward[i]; i++)
    if (strcmp(double_backward[i], name) == 0) return true;
  return false;
}

/* One backward pass. ln_backward's sends each leaf's gradient to its .grad;
** ln_grad's (want != NULL) keeps only those of the tensors it was asked
** for, in got, and runs only the nodes that lead to them. A leaf with hooks
** collects its gradient in `leaves` first, so that its hooks see the sum. */
typedef struct pending {
  ln_tensor *x;              /* the leaf (retained) */
  ln_tensor *g;              /* its gradient so far */
} pending;

/* A leaf with post-accumulate hooks: how many of the graph's edges into it
** have not delivered yet; at 0 its .grad is whole and its hooks run. */
typedef struct awaited {
  ln_tensor *x;              /* borrowed: the graph's nodes hold it */
  int edges;
  bool got, done;            /* received a gradient; hooks ran */
} awaited;

typedef struct engine {
  int nwant;
  ln_tensor *const *want;
  ln_tensor **got;
  pending *leaves;
  int nleaves, leaves_cap;
  awaited *posts;            /* ln_backward only */
  int nposts;
} engine;

/* *acc += g, keeping *acc a tensor of its own. Under create_graph the sum
** is out of place, so that both histories stay. */
static int accumulate(ln_tensor **acc, ln_tensor *g) {
  if (!*acc) {
    bool owned = creating_graph ||
                 (g->refcount == 1 && g->storage->refcount == 1 &&
                  ln_tensor_is_contiguous(g) && !g->grad_fn);
    *acc = owned ? ln_tensor_retain(g) : ln_clone(g);
    return *acc ? LN_OK : LN_ERR;
  }
  if (creating_graph) {
    ln_tensor *sum = ln_add(*acc, g);
    if (!sum) return LN_ERR;
    ln_tensor_release(*acc);
    *acc = sum;
    return LN_OK;
  }
  return ln_binary_(LN_BINARY_ADD, *acc, g);
}

/* Brings a gradient to x's shape and dtype (broadcast inputs). */
static ln_tensor *fit_to(ln_tensor *g, const ln_tensor *x) {
  ln_tensor *r = ln_same_shape(g, x) ? ln_tensor_retain(g)
                                     : ln_sum_to(g, x->ndim, x->shape);
  if (r && r->dtype != x->dtype) {
    ln_tensor *c = creating_graph ? ln_to_dtype(r, x->dtype)
                                  : ln_cast_raw(r, x->dtype);
    ln_tensor_release(r);
    r = c;
  }
  return r;
}

static bool wanted(const engine *e, const ln_tensor *x) {
  for (int j = 0; j < e->nwant; j++)
    if (e->want[j] == x) return true;
  return false;
}

/* Where a leaf's gradient goes: its .grad, or its pending sum (hooks, or
** ln_grad). ln_grad drops the gradients of leaves it was not asked for. */
static int to_leaf(engine *e, ln_tensor *x, ln_tensor *g) {
  if (e->want && !wanted(e, x)) return LN_OK;
  if (!e->want && !x->hooks) return accumulate(&x->grad, g);
  for (int k = 0; k < e->nleaves; k++)
    if (e->leaves[k].x == x) return accumulate(&e->leaves[k].g, g);
  if (e->nleaves == e->leaves_cap) {
    int cap = e->leaves_cap ? 2 * e->leaves_cap : 8;
    pending *p = realloc(e->leaves, (size_t)cap * sizeof *p);
    if (!p) return ln_error("backward: out of memory");
    e->leaves = p;
    e->leaves_cap = cap;
  }
  pending *p = &e->leaves[e->nleaves++];
  *p = (pending){ln_tensor_retain(x), NULL};
  return accumulate(&p->g, g);
}

/* The pending leaf gradients through their hooks, to .grad or to got. */
static int settle_leaves(engine *e) {
  int rc = LN_OK;
  for (int k = 0; k < e->nleaves; k++) {
    pending *p = &e->leaves[k];
    if (rc == LN_OK) rc = run_hooks(p->x, &p->g);
    for (int j = 0; rc == LN_OK && j < e->nwant; j++)
      if (e->want[j] == p->x && !e->got[j]) e->got[j] = ln_tensor_retain(p->g);
    if (rc == LN_OK && !e->want) rc = accumulate(&p->x->grad, p->g);
    ln_tensor_release(p->g);
    ln_tensor_release(p->x);
  }
  free(e->leaves);
  e->leaves = NULL;
  e->nleaves = e->leaves_cap = 0;
  return rc;
}

static awaited *find_awaited(engine *e, const ln_tensor *x) {
  for (int k = 0; k < e->nposts; k++)
    if (e->posts[k].x == x) return &e->posts[k];
  return NULL;
}

/* Counts the edges into each leaf with post-accumulate hooks (ln_backward
** only: ln_grad touches no .grad). */
static int count_awaited(engine *e, const node_list *order) {
  int cap = 0;
  for (size_t k = 0; k < order->n; k++) {
    ln_node *n = order->items[k];
    for (int i = 0; i < n->ninputs; i++) {
      ln_tensor *x = n->inputs[i];
      if (n->edges[i] || !x || !x->requires_grad || !x->post_hooks) continue;
      awaited *a = find_awaited(e, x);
      if (!a) {
        if (e->nposts == cap) {
          cap = cap ? 2 * cap : 8;
          awaited *p = realloc(e->posts, (size_t)cap * sizeof *p);
          if (!p) return ln_error("backward: out of memory");
          e->posts = p;
        }
        a = &e->posts[e->nposts++];
        *a = (awaited){x, 0, false, false};
      }
      a->edges++;
    }
  }
  return LN_OK;
}

/* One edge into x has delivered (a gradient, or none). After the last, the
** hooks run now, unless x's gradient hooks hold it until settle_leaves. */
static int edge_delivered(engine *e, ln_tensor *x, bool got) {
  awaited *a = find_awaited(e, x);
  if (!a) return LN_OK;
  a->got |= got;
  if (--a->edges > 0 || !a->got || x->hooks) return LN_OK;
  a->done = true;
  return run_post_hooks(x);
}

/* After backward: the leaves whose hooks have not run yet (an edge on a
** path that carried no gradient, or gradient hooks held the sum). */
static int finish_awaited(engine *e, int rc) {
  for (int k = 0; rc == LN_OK && k < e->nposts; k++)
    if (e->posts[k].got && !e->posts[k].done) {
      e->posts[k].done = true;
      rc = run_post_hooks(e->posts[k].x);
    }
  free(e->posts);
  e->posts = NULL;
  e->nposts = 0;
  return rc;
}

static int flow_into_inputs(engine *e, ln_node *n, ln_tensor **gin) {
  int rc = LN_OK;
  for (int i = 0; i < n->ninputs; i++) {
    ln_tensor *x = n->inputs[i], *g = gin[i];
    gin[i] = NULL;
    bool awaited_leaf = e->posts && x && !n->edges[i] && x->post_hooks;
    if (!g || !x || !x->requires_grad || rc != LN_OK) {
      ln_tensor_release(g);
      if (awaited_leaf && rc == LN_OK) rc = edge_delivered(e, x, false);
      continue;
    }
    ln_tensor *fitted = fit_to(g, x);
    ln_tensor_release(g);
    if (!fitted) {
      rc = LN_ERR;
      continue;
    }
    ln_node *edge = n->edges[i];
    rc = edge ? accumulate(&edge->grad_accum, fitted) : to_leaf(e, x, fitted);
    ln_tensor_release(fitted);
    if (awaited_leaf && rc == LN_OK) rc = edge_delivered(e, x, true);
  }
  return rc;
}

/* ln_grad: marks the nodes that lead to a wanted tensor (children come
** first in order, so one pass does it). A wanted non-leaf's own node needs
** its gradient, not its backward: `needed` says whether to run it. */
static void mark_needed(const engine *e, node_list *order) {
  for (size_t k = 0; k < order->n; k++) {
    ln_node *n = order->items[k];
    n->needed = !e->want;
    for (int i = 0; i < n->ninputs && !n->needed; i++) {
      ln_node *c = n->edges[i];
      ln_tensor *x = n->inputs[i];
      n->needed = c ? c->needed || (c->owner && wanted(e, c->owner))
                    : x && wanted(e, x);
    }
  }
}

/* Most nodes have few inputs: their gradients' slots live on the stack. */
#define GIN_ON_STACK 8

/* The node's incoming gradient: through its output's hooks, into the
** output's .grad (retain_grad) or ln_grad's results. */
static int receive(engine *e, ln_node *n, ln_tensor **g) {
  ln_tensor *out = n->owner;
  if (!out || out->grad_fn != n) return LN_OK;
  ln_tensor_retain(out); /* a hook may drop the last other reference */
  int rc = out->hooks ? run_hooks(out, g) : LN_OK;
  for (int j = 0; rc == LN_OK && j < e->nwant; j++)
    if (e->want[j] == out && !e->got[j]) e->got[j] = ln_tensor_retain(*g);
  if (rc == LN_OK && !e->want && out->retains_grad)
    rc = accumulate(&out->grad, *g);
  ln_tensor_release(out);
  return rc;
}

static int run_backward(engine *e, node_list *order) {
  for (size_t k = order->n; k-- > 0;) {
    ln_node *n = order->items[k];
    ln_tensor *g = n->grad_accum;
    if (!g) continue;
    n->grad_accum = NULL;
    int rc = LN_OK;
    if (n->released)
      rc = ln_error("%s: trying to backward through the graph a second time; "
                    "use backward{retain_graph = true} the first time", n->name);
    if (rc == LN_OK) rc = receive(e, n, &g);
    if (rc == LN_OK && !n->needed) {
      ln_tensor_release(g);
      continue;
    }
    if (rc == LN_OK && creating_graph && !has_double_backward(n->name))
      rc = ln_error("%s: double backward is not supported (create_graph)",
                    n->name);
    if (rc == LN_OK && creating_graph && n->inplace) /* saved raw copies */
      rc = ln_error("%s: double backward is not supported through an "
                    "in-place op (create_graph); use the out-of-place form",
                    n->name);
    ln_tensor *few[GIN_ON_STACK] = {0}, **gin = few;
    if (rc == LN_OK && n->ninputs > GIN_ON_STACK) {
      gin = calloc((size_t)n->ninputs, sizeof *gin);
      if (!gin) rc = ln_error("backward: out of memory");
    }
    if (rc == LN_OK) rc = n->backward(n, g, gin);
    if (rc == LN_OK && anomaly_on) rc = check_gradients(n, gin);
    if (rc == LN_OK) {
      rc = flow_into_inputs(e, n, gin);
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

/* The gradient that starts backward at root: grad in root's dtype, or ones
** for a single-element root. op names the caller in errors. */
static ln_tensor *seed_gradient(const char *op, ln_tensor *root,
                                ln_tensor *grad) {
  char s1[LN_SHAPE_STRLEN], s2[LN_SHAPE_STRLEN];
  if (grad) {
    if (!ln_same_shape(grad, root))
      return ln_error("%s: gradient of shape %s does not match the tensor's "
                      "shape %s", op,
                      ln_shape_str(grad->ndim, grad->shape, s1, sizeof s1),
                      ln_shape_str(root->ndim, root->shape, s2, sizeof s2)),
             NULL;
    if (ln_check_same_device(op, root, grad) != LN_OK) return NULL;
    return creating_graph ? ln_to_dtype(grad, root->dtype)
                          : ln_cast_raw(grad, root->dtype);
  }
  if (ln_tensor_numel(root) != 1)
    return ln_error("%s: grad can be implicitly created only for scalar "
                    "outputs, got shape %s; pass a gradient", op,
                    ln_shape_str(root->ndim, root->shape, s1, sizeof s1)),
           NULL;
  return ln_full(root->ndim, root->shape, 1, root->dtype,
                 ln_tensor_device(root));
}

/* Backward from the roots (each requires grad) with their gradients. */
static int run_engine(const char *op, engine *e, int nroot,
                      ln_tensor *const *roots, ln_tensor *const *grads,
                      const ln_backward_opts *o) {
  free(failed_trace);
  failed_trace = NULL;
  bool was = ln_set_grad_enabled(o->create_graph);
  bool was_creating = creating_graph;
  creating_graph = o->create_graph;
  backward_depth++;
  bool retain = o->retain_graph || o->create_graph;
  ln_node **nodes = calloc((size_t)nroot + 1, sizeof *nodes);
  node_list order = {0};
  int rc = nodes ? LN_OK : ln_error("%s: out of memory", op);
  for (int r = 0; rc == LN_OK && r < nroot; r++) nodes[r] = roots[r]->grad_fn;
  if (rc == LN_OK) rc = topological_order(nroot, nodes, &order);
  /* Hold every node, so freeing one node's inputs cannot free a node still
  ** in the list. */
  for (size_t i = 0; i < order.n; i++) order.items[i]->refcount++;
  if (rc == LN_OK) mark_needed(e, &order);
  if (rc == LN_OK && !e->want) rc = count_awaited(e, &order);
  for (int r = 0; rc == LN_OK && r < nroot; r++) {
    ln_tensor *g = seed_gradient(op, roots[r], grads ? grads[r] : NULL);
    if (!g) rc = LN_ERR;
    else if (roots[r]->grad_fn) rc = accumulate(&roots[r]->grad_fn->grad_accum, g);
    else rc = to_leaf(e, roots[r], g);
    ln_tensor_release(g);
  }
  if (rc == LN_OK) rc = run_backward(e, &order);
  int settled = settle_leaves(e);
  if (rc == LN_OK) rc = settled;
  rc = finish_awaited(e, rc);
  for (size_t i = 0; i < order.n; i++) { /* drop leftovers after errors */
    ln_node *n = order.items[i];
    ln_tensor_release(n->grad_accum);
    n->grad_accum = NULL;
    if (!retain && rc == LN_OK) node_free_graph_refs(n);
  }
  for (size_t i = 0; i < order.n; i++) ln_node_release(order.items[i]);
  free(order.items);
  free(nodes);
  backward_depth--;
  creating_graph = was_creating;
  ln_set_grad_enabled(was);
  return rc;
}

int ln_backward_with(ln_tensor *root, ln_tensor *grad,
                     const ln_backward_opts *opts) {
  if (!root->requires_grad)
    return ln_error("backward: the tensor does not require grad and has no "
                    "grad_fn");
  engine e = {0};
  ln_backward_opts o = opts ? *opts : (ln_backward_opts){0};
  return run_engine("backward", &e, 1, &root, grad ? &grad : NULL, &o);
}

int ln_backward(ln_tensor *root, ln_tensor *grad, bool retain_graph) {
  ln_backward_opts o = {.retain_graph = retain_graph};
  return ln_backward_with(root, grad, &o);
}

int ln_grad(int nout, ln_tensor *const *outputs,
            ln_tensor *const *grad_outputs, int nin, ln_tensor *const *inputs,
            const ln_backward_opts *opts, ln_tensor **results) {
  ln_backward_opts o = opts ? *opts : (ln_backward_opts){0};
  for (int j = 0; j < nin; j++) results[j] = NULL;
  if (nout < 1 || nin < 1)
    return ln_error("grad: expected at least one output and one input");
  for (int i = 0; i < nout; i++)
    if (!outputs[i]->requires_grad)
      return ln_error("grad: output %d does not require grad and has no "
                      "grad_fn", i + 1);
  for (int j = 0; j < nin; j++)
    if (!inputs[j]->requires_grad)
      return ln_error("grad: input %d does not require grad", j + 1);
  engine e = {.nwant = nin, .want = inputs, .got = results};
  int rc = run_engine("grad", &e, nout, outputs, grad_outputs, &o);
  for (int j = 0; rc == LN_OK && j < nin; j++)
    if (!results[j] && !o.allow_unused)
      rc = ln_error("grad: input %d was not used in the graph of the "
                    "outputs; pass allow_unused = true for a nil gradient",
                    j + 1);
  if (rc != LN_OK)
    for (int j = 0; j < nin; j++) {
      ln_tensor_release(results[j]);
      results[j] = NULL;
    }
  return rc;
}
