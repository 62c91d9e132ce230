/*
** op.h: the op table, typed op parameters, kernels reached through the
** table, and the one style for temporaries (internal). core/README.md
** says how to add an op with these.
**
** An op is one `const ln_op` row, defined in its op file and listed once
** in op_table.c. The row names the op, its tensor arguments and its
** parameters (a C struct the row describes field by field), and the
** function that runs it. The Lua bindings register every row as
** luann.<name> (and t:<name> when asked), reading the parameters by name
** or position, so an op needs no binding and no header of its own.
**
** A composite op (made of other ops) is only the row and its run
** function: its backward comes from its parts, and it runs on every
** backend. A primitive op also has kernels: one C function for the CPU
** and one OpenCL kernel, named in an ln_kernel row and launched through
** ln_kernel_run. A backend whose kernel is missing falls back to the
** row's composite, or raises "<op> is not supported on <device>". The CPU
** kernel lives in the op file, beside the struct it shares with the
** OpenCL kernel (which restates it in kernels/<op>.cl).
*/
#ifndef LUANN_OP_H
#define LUANN_OP_H

#include <stddef.h>

#include "autograd.h"
#include "internal.h"
#include "luann_core.h"

/* ---- parameters --------------------------------------------------------
** Each field of an op's parameter struct is described by one ln_param; the
** bindings fill the struct from Lua, the defaults from `def`. */
typedef enum ln_param_kind {
  LN_PARAM_INT,     /* int64_t */
  LN_PARAM_SIZES,   /* int64_t[count]: a number repeats, a list gives each */
  LN_PARAM_NUMBER,  /* double */
  LN_PARAM_BOOL,    /* bool */
  LN_PARAM_DIM,     /* int64_t, 0-based or negative (Lua's are 1-based) */
  LN_PARAM_CHOICE,  /* int: the index of a string among choices */
  LN_PARAM_LIST,    /* int64_t[count] from a list of 0..count numbers
                       (one number: a list of one); the int at len_at
                       gets its length */
  LN_PARAM_DIMS,    /* LIST of dims: 0-based or negative, as DIM */
} ln_param_kind;

typedef struct ln_param {
  const char *name;
  ln_param_kind kind;
  size_t offset;               /* offsetof(the op's struct, field) */
  int count;                   /* SIZES: how many */
  double def;                  /* default (CHOICE: index; SIZES: each) */
  /* CHOICE: the strings, NULL-terminated. SIZES may also take one of
  ** them instead of numbers: its index goes to the int at choice_at. */
  const char *const *choices;
  size_t choice_at;
  size_t len_at;               /* LIST, DIMS: where its length goes */
  bool required;               /* no default: the caller must give it */
  /* LIST, DIMS given by position: a number there and the numbers after it
  ** fill the list, as PyTorch's varargs do (t:flip(1, 2), t:tile(2, 3)). */
  bool varargs;
} ln_param;

#define LN_P(type, field) offsetof(type, field)

/* ---- rows -------------------------------------------------------------- */

enum { LN_OP_MAX_IN = 8, LN_OP_MAX_OUT = LN_MAX_DIMS }; /* nonzero's tuple */
/* Where the bindings put an op: luann.f(t, ...), t:f(...), or both. */
enum { LN_OP_FUNCTION = 1, LN_OP_METHOD = 2 };

typedef struct ln_op {
  const char *name;            /* "conv2d": luann.conv2d */
  const char *const *inputs;   /* tensor argument names, NULL-terminated */
  int nrequired;               /* the first nrequired may not be nil */
  const ln_param *params;      /* NULL-terminated by a NULL name */
  size_t params_size;          /* sizeof the parameter struct */
  int where;
  /* Outputs that are 0-based indices (bit i: output i): Lua sees them
  ** 1-based. */
  unsigned index_outputs;
  /* Runs the op: inputs as named (NULL for an absent optional one),
  ** params a filled struct; fills out[0..] (NULL after the last) and
  ** returns LN_OK, or LN_ERR after ln_error. */
  int (*run)(ln_tensor *const *in, const void *params, ln_tensor **out);
} ln_op;

/* Defines the row ln_op_<name>: `LN_OP_ROW(conv2d) = { ... };` */
#define LN_OP_ROW(name) \
  LN_INTERNAL extern const ln_op ln_op_##name; \
  const ln_op ln_op_##name

/* Every row, NULL-terminated (op_table.c). */
LN_INTERNAL extern const ln_op *const ln_op_table[];
/* The row named name, or NULL. */
LN_INTERNAL const ln_op *ln_op_find(const char *name);
/* Fills params with the row's defaults. */
LN_INTERNAL void ln_op_defaults(const ln_op *op, void *params);

/* ---- kernels -----------------------------------------------------------
** A primitive op's front end (shapes, dtypes, autograd) allocates the
** outputs, then calls ln_kernel_run with its kernel row. Every tensor is on
** one device; outputs are fresh and contiguous. */
typedef struct ln_kernel_args ln_kernel_args;
struct ln_kernel_args {
  ln_tensor *const *out;
  int nout;
  const ln_tensor *const *in;
  int nin;
  const void *params;          /* the op's struct */
  size_t params_size;
  int64_t work;                /* OpenCL: how many items (usually numel) */
};

typedef int (*ln_kernel_fn)(const ln_kernel_args *a);

typedef struct ln_kernel ln_kernel;
struct ln_kernel {
  const char *name;            /* for messages: "unfold_backward" */
  ln_kernel_fn cpu;            /* NULL: falls back or raises */
  /* The OpenCL kernel's name in kernels/<file>.cl (NULL: falls back or
  ** raises). It takes, for each output then each input, its buffer and a
  ** view_t (common.cl), then the params struct by value when params_size
  ** is not 0 (so the struct has only long fields, laid out alike in C
  ** and OpenCL C), and walks a.work items with a grid-stride loop. */
  const char *opencl;
  /* The OpenCL kernel also takes the device's error flag, last: it checks
  ** values on the device (ocl_flag_code), and the host reports a bad one
  ** on its next read instead of reading the values back first. */
  bool error_flag;
  /* Used on a backend without a kernel: the same result from other ops. */
  ln_kernel_fn composite;
};

/* op_loss.c: the error for a class target out of range (the CPU's check
** and OpenCL's error flag both report it). */
LN_INTERNAL int ln_class_target_error(const char *op, int64_t target, int64_t classes,
                                      int64_t base);

/* What a backend's `kernel` entry returns when it has no kernel for k. */
#define LN_NO_KERNEL 1

/* Runs k on the device of a.out[0]. */
LN_INTERNAL int ln_kernel_run(const ln_kernel *k, const ln_kernel_args *a);

/* ---- temporaries -------------------------------------------------------
** The one style for the tensors an op or a backward makes on the way:
**
**   ln_scope s = {0};
**   ln_tensor *cols = LN_TMP(&s, ln_reshape(...));   -- on NULL: goto fail
**   ln_tensor *y = LN_TMP(&s, ln_matmul(cols, w));
**   return ln_scope_keep(&s, y);      -- releases the rest, returns y
** fail:
**   return ln_scope_end(&s);          -- releases everything, returns NULL
*/
enum { LN_SCOPE_MAX = 32 };
typedef struct ln_scope {
  ln_tensor *t[LN_SCOPE_MAX];
  int n;
} ln_scope;

/* Adds t (a new reference) to s; false when t is NULL or s is full (then
** t is released and an error set). */
LN_INTERNAL bool ln_scope_add(ln_scope *s, ln_tensor *t);
/* Releases every temporary but r (which is kept alive for the caller). */
LN_INTERNAL ln_tensor *ln_scope_keep(ln_scope *s, ln_tensor *r);
/* Releases every temporary; NULL, so `return ln_scope_end(&s)` fails. */
LN_INTERNAL ln_tensor *ln_scope_end(ln_scope *s);

#define LN_TMP(s, expr) \
  ({ ln_tensor *ln_tmp_ = (expr); \
     if (!ln_scope_add((s), ln_tmp_)) goto fail; \
     ln_tmp_; })

/* A backward fills gin[i] from the same scope: LN_GRAD(&s, gin[i], expr)
** is LN_TMP that also gives gin[i] its own reference, so the gradient
** outlives the scope; ln_scope_done ends the scope and returns rc (any
** function that returns a status ends its scope with it):
**
**   ln_scope s = {0};
**   ln_tensor *d = LN_TMP(&s, ln_unary(LN_UNARY_COS, x));
**   LN_GRAD(&s, gin[0], ln_mul(g, d));
**   return ln_scope_done(&s, LN_OK);
** fail:
**   return ln_scope_done(&s, LN_ERR); -- the engine releases gin[] set so far
*/
#define LN_GRAD(s, gi, expr) \
  do { (gi) = ln_tensor_retain(LN_TMP((s), (expr))); } while (0)

static inline int ln_scope_done(ln_scope *s, int rc) {
  ln_scope_end(s);
  return rc;
}

/* ---- typed parameters on autograd nodes --------------------------------
** A backward reads its op's struct: `const conv_params *p = n->params;`.
** Copies size bytes of p into the node (a NULL node: nothing). */
__attribute__((warn_unused_result))
LN_INTERNAL int ln_node_params(ln_node *n, const void *p, size_t size);

#endif
