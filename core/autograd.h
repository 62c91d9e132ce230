/*
** autograd.h: how ops record themselves for reverse mode (internal).
**
** An op that may need gradients calls ln_record() after computing its
** output. When grad mode is on and some input requires grad, a node is
** attached to out as its grad_fn: it holds the inputs (retained), tensors
** saved for backward (detached headers, with the storage version at save
** time, so an in-place change is caught) and the op's typed parameters.
**
** A backward function gets the gradient of the output and fills gin[i] with
** a new tensor for each input i where ln_node_needs_grad(n, i); it uses the
** ordinary ops (grad mode is off while it runs), so every backend gets
** backward for free. Under create_graph grad mode is on, the saved tensors
** come back with their history, and the ops record: the node's name must
** then be in autograd.c's double_backward list, which says its backward
** records every step. Gradients of broadcast inputs are summed back with
** ln_sum_to by the engine, so backward functions may return the broadcast
** shape.
*/
#ifndef LUANN_AUTOGRAD_H
#define LUANN_AUTOGRAD_H

#include "internal.h"
#include "luann_core.h"

typedef int (*ln_backward_fn)(ln_node *n, ln_tensor *gout, ln_tensor **gin);

/* Where a saved tensor came from, besides an input's index. */
enum {
  LN_SAVED_CONSTANT = -1,           /* no history: nothing to differentiate */
  LN_SAVED_OUTPUT = -2,             /* the node's own output */
  LN_SAVED_DERIVED = -3,            /* computed from inputs (a copy): its
                                       history is lost */
};

/* A gradient hook on a tensor (ln_add_grad_hook), in a list; a
** post-accumulate hook (ln_add_post_accumulate_hook) has post instead. */
typedef struct ln_hook {
  ln_grad_hook_fn fn;
  ln_post_hook_fn post;
  void *ud;
  void (*free_ud)(void *ud);
  int64_t id;
  struct ln_hook *next;
} ln_hook;

struct ln_node {
  int refcount;                     /* its owner tensor, and consumers' edges */
  const char *name;                 /* "MulBackward" */
  ln_backward_fn backward;
  int ninputs;                      /* any number */
  ln_tensor **inputs;               /* retained; NULL allowed; this array and
                                       edges are allocated with the node */
  /* The history of each input when this node was recorded (retained):
  ** a later in-place op gives the input tensor a new grad_fn, but this
  ** node's gradient must still flow into the history it consumed. NULL
  ** for leaves, whose .grad receives it. */
  ln_node **edges;
  int nsaved, saved_cap;            /* saved grows with ln_node_save */
  struct ln_saved {
    ln_tensor *t;                   /* a detached header */
    uint64_t version;               /* its storage's version when saved */
    int source;                     /* what it was: input i (>= 0), or
                                       LN_SAVED_* (for create_graph) */
  } *saved;
  void *params;                     /* the op's typed parameters, owned
                                       (ln_node_params, core/op.h) */
  void *ctx;                        /* custom ops (Lua functions) */
  void (*ctx_free)(void *ctx);
  bool released;                    /* freed by a backward without retain */
  ln_tensor *owner;                 /* weak: the tensor whose grad_fn this is */
  /* engine scratch */
  ln_tensor *grad_accum;
  uint64_t mark;
  bool needed;                      /* ln_grad: leads to a requested input */
  /* Anomaly mode only (NULL otherwise): the Lua op that recorded the node
  ** ("div") and where ("recorded by this call:\n" and the Lua traceback of
  ** the call), owned. */
  char *origin_op;
  char *origin_trace;
  bool inplace;                     /* recorded by ln_record_inplace */
};

/* Attaches a node to out when recording is needed and sets *node to it;
** *node is NULL when nothing is recorded (grad mode off, or no input
** requires grad). LN_ERR (out of memory) is the op's failure: a result
** without its history would train silently wrong, so the caller releases
** out and fails. */
__attribute__((warn_unused_result))
LN_INTERNAL int ln_record(ln_node **node, ln_tensor *out, const char *name,
                          ln_backward_fn bw, int ninputs,
                          ln_tensor *const *inputs);
/* out when its recording status rc is LN_OK; else releases out and
** returns NULL, so `return ln_recorded(out, rc)` ends an op. */
static inline ln_tensor *ln_recorded(ln_tensor *out, int rc) {
  if (rc == LN_OK) return out;
  ln_tensor_release(out);
  return NULL;
}
/* Whether the running backward records itself (create_graph). Backward
** functions that compute with raw kernels take a recorded path then. */
LN_INTERNAL bool ln_creating_graph(void);
/* Frees t's gradient hooks (when t is freed). */
LN_INTERNAL void ln_hooks_free(ln_tensor *t);

/* Saves a detached header of t in the node (call right after ln_record);
** a NULL node saves nothing. LN_ERR (out of memory) fails the op too. */
__attribute__((warn_unused_result))
LN_INTERNAL int ln_node_save(ln_node *n, ln_tensor *t);
/* The saved tensor i, or NULL with an error when it was modified in place
** since it was saved or the graph was freed. Borrowed reference. */
LN_INTERNAL ln_tensor *ln_node_saved(ln_node *n, int i);
LN_INTERNAL bool ln_node_needs_grad(const ln_node *n, int i);
/* Whether an op on these inputs would record (grad mode on and some input
** requires grad). */
LN_INTERNAL bool ln_any_requires_grad(int n, ln_tensor *const *ts);
/* Drops one reference to a node (its owner tensor or a consumer's edge). */
LN_INTERNAL void ln_node_release(ln_node *n);
/* Detaches a tensor being freed from the node it owns, then releases it. */
LN_INTERNAL void ln_node_disown(ln_node *n, const ln_tensor *owner);

/* Bumps the storage version: every in-place kernel calls this. Also errors
** on in-place writes to leaves that require grad while grad mode is on. */
LN_INTERNAL int ln_check_inplace(ln_tensor *t);
LN_INTERNAL void ln_bump_version(ln_tensor *t);

/* For in-place ops: when t or an extra input requires grad, gives t a new
** grad_fn node whose inputs are t's old history, then the extras. */
__attribute__((warn_unused_result))
LN_INTERNAL int ln_record_inplace(ln_tensor *t, const char *name,
                                  ln_backward_fn bw, int nextra,
                                  ln_tensor *const *extra);

/* ---- anomaly mode (luann.autograd.detect_anomaly) ----------------------
** When on, nodes recorded wait (retained) until the binding that returns
** their op's result to Lua gives them the call's traceback; backward checks
** every gradient a node returns for NaN and Inf; and when a node's backward
** fails, its traceback is kept for the caller's message. Off, it costs one
** flag test in ln_record and in the bindings' push. */
LN_INTERNAL bool ln_anomaly_enabled(void);
/* Turns anomaly mode on or off; returns the previous setting. */
LN_INTERNAL bool ln_set_anomaly_enabled(bool on);
/* Whether op results reaching Lua are to be checked: anomaly mode is on
** and no backward is running (backward checks whole nodes instead). */
LN_INTERNAL bool ln_anomaly_check_results(void);

/* What ln_anomaly_scan found: count non-finite values; what names the
** first NaN if any, else the first Inf ("nan", "inf" or "-inf"), which
** sits at flat (row-major, 0-based) index first. */
typedef struct ln_nonfinite {
  int64_t count;
  int64_t first;
  const char *what;
} ln_nonfinite;
/* Scans a floating point tensor (any device, any strides; others hold no
** NaN). LN_ERR only when a copy to the host fails. */
LN_INTERNAL int ln_anomaly_scan(ln_tensor *t, ln_nonfinite *r);

/* Whether nodes recorded since the last ln_anomaly_set_origin wait for it. */
LN_INTERNAL bool ln_anomaly_untraced(void);
/* Gives those nodes this origin (op and trace are copied; op may be NULL)
** and lets them go. In-place ops return no result to Lua, so their nodes
** get the next call's trace, said to be later, and no op name. */
LN_INTERNAL void ln_anomaly_set_origin(const char *op, const char *trace);
/* The origin_trace of the node whose backward failed in this thread's last
** ln_backward, or NULL (none, or anomaly mode was off when it was made). */
LN_INTERNAL const char *ln_anomaly_failed_trace(void);

#endif
