/*
** ocl_runtime.c: OpenCL platforms and devices, one context and in-order
** queue per device, programs built once per dtype and their kernels
** cached, and OpenCL status codes turned into names.
**
** Every kernel file (kernels/NAME.cl) goes into one program per dtype: the
** dtype becomes the program's `real` type through -DLN_DTYPE (and the
** host's op codes reach it as -D options too, by name), so a dtype
** costs one build (about 1 s cold on PoCL, then its disk cache), made the
** first time a kernel of that dtype runs. The sources are embedded at
** build time (build/gen/cl_kernels.c); LUANN_KERNELS_DIR=dir reads every
** dir/NAME.cl instead, to try kernel changes without rebuilding.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl.h"

struct ln_embedded {
  const char *name;
  const char *text;
  size_t len;
};
/* build/gen/cl_kernels.c */
LN_INTERNAL extern const struct ln_embedded ln_cl_kernels[];

/* clGetPlatformIDs' answer when the ICD loader finds no platform
** (CL_PLATFORM_NOT_FOUND_KHR, cl_khr_icd). */
#define NO_PLATFORM (-1001)

static ocl_device *devices;
static int ndevices = -1; /* -1: not enumerated yet */

/* ---- status names --------------------------------------------------------- */

static const char *const status_names[] = {
  [0] = "CL_SUCCESS", [1] = "CL_DEVICE_NOT_FOUND",
  [2] = "CL_DEVICE_NOT_AVAILABLE", [3] = "CL_COMPILER_NOT_AVAILABLE",
  [4] = "CL_MEM_OBJECT_ALLOCATION_FAILURE", [5] = "CL_OUT_OF_RESOURCES",
  [6] = "CL_OUT_OF_HOST_MEMORY", [7] = "CL_PROFILING_INFO_NOT_AVAILABLE",
  [8] = "CL_MEM_COPY_OVERLAP", [9] = "CL_IMAGE_FORMAT_MISMATCH",
  [10] = "CL_IMAGE_FORMAT_NOT_SUPPORTED", [11] = "CL_BUILD_PROGRAM_FAILURE",
  [12] = "CL_MAP_FAILURE", [13] = "CL_MISALIGNED_SUB_BUFFER_OFFSET",
  [14] = "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
  [15] = "CL_COMPILE_PROGRAM_FAILURE", [16] = "CL_LINKER_NOT_AVAILABLE",
  [17] = "CL_LINK_PROGRAM_FAILURE", [18] = "CL_DEVICE_PARTITION_FAILED",
  [19] = "CL_KERNEL_ARG_INFO_NOT_AVAILABLE", [30] = "CL_INVALID_VALUE",
  [31] = "CL_INVALID_DEVICE_TYPE", [32] = "CL_INVALID_PLATFORM",
  [33] = "CL_INVALID_DEVICE", [34] = "CL_INVALID_CONTEXT",
  [35] = "CL_INVALID_QUEUE_PROPERTIES", [36] = "CL_INVALID_COMMAND_QUEUE",
  [37] = "CL_INVALID_HOST_PTR", [38] = "CL_INVALID_MEM_OBJECT",
  [39] = "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR", [40] = "CL_INVALID_IMAGE_SIZE",
  [41] = "CL_INVALID_SAMPLER", [42] = "CL_INVALID_BINARY",
  [43] = "CL_INVALID_BUILD_OPTIONS", [44] = "CL_INVALID_PROGRAM",
  [45] = "CL_INVALID_PROGRAM_EXECUTABLE", [46] = "CL_INVALID_KERNEL_NAME",
  [47] = "CL_INVALID_KERNEL_DEFINITION", [48] = "CL_INVALID_KERNEL",
  [49] = "CL_INVALID_ARG_INDEX", [50] = "CL_INVALID_ARG_VALUE",
  [51] = "CL_INVALID_ARG_SIZE", [52] = "CL_INVALID_KERNEL_ARGS",
  [53] = "CL_INVALID_WORK_DIMENSION", [54] = "CL_INVALID_WORK_GROUP_SIZE",
  [55] = "CL_INVALID_WORK_ITEM_SIZE", [56] = "CL_INVALID_GLOBAL_OFFSET",
  [57] = "CL_INVALID_EVENT_WAIT_LIST", [58] = "CL_INVALID_EVENT",
  [59] = "CL_INVALID_OPERATION", [60] = "CL_INVALID_GL_OBJECT",
  [61] = "CL_INVALID_BUFFER_SIZE", [62] = "CL_INVALID_MIP_LEVEL",
  [63] = "CL_INVALID_GLOBAL_WORK_SIZE", [64] = "CL_INVALID_PROPERTY",
  [65] = "CL_INVALID_IMAGE_DESCRIPTOR", [66] = "CL_INVALID_COMPILER_OPTIONS",
  [67] = "CL_INVALID_LINKER_OPTIONS", [68] = "CL_INVALID_DEVICE_PARTITION_COUNT",
  [69] = "CL_INVALID_PIPE_SIZE", [70] = "CL_INVALID_DEVICE_QUEUE",
  [71] = "CL_INVALID_SPEC_ID", [72] = "CL_MAX_SIZE_RESTRICTION_EXCEEDED",
};

const char *ocl_status_name(cl_int status) {
  int i = -status;
  if (status == NO_PLATFORM) return "CL_PLATFORM_NOT_FOUND_KHR";
  if (i < 0 || i >= (int)(sizeof status_names / sizeof status_names[0]) ||
      !status_names[i])
    return "unknown OpenCL status";
  return status_names[i];
}

int ocl_fail(cl_int status, const char *what) {
  return ln_error("opencl: %s failed: %s (%d)", what, ocl_status_name(status),
                  (int)status);
}

/* ---- enumeration ---------------------------------------------------------- */

static void info_string(cl_device_id id, cl_device_info what, char *buf,
                        size_t len) {
  buf[0] = '\0';
  if (clGetDeviceInfo(id, what, len - 1, buf, NULL) != CL_SUCCESS)
    snprintf(buf, len, "?");
  buf[len - 1] = '\0';
}

static void describe(ocl_device *d, cl_platform_id p, cl_device_id id) {
  memset(d, 0, sizeof *d);
  d->platform = p;
  d->id = id;
  info_string(id, CL_DEVICE_NAME, d->name, sizeof d->name);
  info_string(id, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
  info_string(id, CL_DEVICE_VERSION, d->version, sizeof d->version);
  if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof d->platform_name - 1,
                        d->platform_name, NULL) != CL_SUCCESS)
    snprintf(d->platform_name, sizeof d->platform_name, "?");
  clGetDeviceInfo(id, CL_DEVICE_TYPE, sizeof d->type, &d->type, NULL);
  clGetDeviceInfo(id, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof d->global_mem,
                  &d->global_mem, NULL);
  clGetDeviceInfo(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof d->max_alloc,
                  &d->max_alloc, NULL);
  clGetDeviceInfo(id, CL_DEVICE_LOCAL_MEM_SIZE, sizeof d->local_mem,
                  &d->local_mem, NULL);
  clGetDeviceInfo(id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof d->compute_units,
                  &d->compute_units, NULL);
  clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof d->max_wg,
                  &d->max_wg, NULL);
  cl_device_fp_config fp64 = 0;
  clGetDeviceInfo(id, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL);
  /* LUANN_OPENCL_FP64=0 treats the device as one without doubles (to try
  ** that path on a device that has them) */
  const char *env = getenv("LUANN_OPENCL_FP64");
  d->fp64 = fp64 != 0 && !(env && strcmp(env, "0") == 0);
  if (d->compute_units == 0) d->compute_units = 1;
  if (d->max_wg == 0) d->max_wg = 1;
}

static bool is_fast(cl_device_id id) {
  cl_device_type type = 0;
  clGetDeviceInfo(id, CL_DEVICE_TYPE, sizeof type, &type, NULL);
  return (type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)) != 0;
}

/* Lists every device of every platform; GPUs and accelerators first, so
** "opencl" (opencl:0) means the fastest device. */
static int enumerate(void) {
  cl_uint np = 0;
  cl_int st = clGetPlatformIDs(0, NULL, &np);
  if (st == NO_PLATFORM || (st == CL_SUCCESS && np == 0)) return ndevices = 0;
  if (st != CL_SUCCESS) return ocl_fail(st, "clGetPlatformIDs");
  cl_platform_id ps[16], owner[64];
  cl_device_id ids[64];
  if (np > 16) np = 16;
  st = clGetPlatformIDs(np, ps, NULL);
  if (st != CL_SUCCESS) return ocl_fail(st, "clGetPlatformIDs");
  cl_uint n = 0;
  for (cl_uint i = 0; i < np && n < 64; i++) {
    cl_uint count = 0;
    if (clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, 64 - n, ids + n, &count) !=
        CL_SUCCESS)
      continue; /* CL_DEVICE_NOT_FOUND: a platform without devices */
    if (count > 64 - n) count = 64 - n;
    for (cl_uint j = 0; j < count; j++) owner[n + j] = ps[i];
    n += count;
  }
  devices = n ? calloc(n, sizeof *devices) : NULL;
  if (n && !devices) return ln_error("opencl: out of memory");
  int k = 0;
  for (int fast = 1; fast >= 0; fast--)
    for (cl_uint i = 0; i < n; i++)
      if (is_fast(ids[i]) == (fast == 1)) {
        describe(&devices[k], owner[i], ids[i]);
        devices[k].index = k;
        k++;
      }
  return ndevices = k;
}

/* 0 when there is no platform or device: the CPU keeps working. */
int ln_opencl_device_count(void) {
  if (ndevices < 0 && enumerate() < 0) return LN_ERR;
  return ndevices;
}

const ocl_device *ocl_device_info(int i) {
  if (ndevices < 0 && enumerate() < 0) return NULL;
  return i >= 0 && i < ndevices ? &devices[i] : NULL;
}

/* ---- contexts --------------------------------------------------------------- */

void ocl_finish_all(void) {
  for (int i = 0; i < ndevices; i++)
    if (devices[i].ready) clFinish(devices[i].queue);
}

static int device_init(ocl_device *d) {
  cl_int st;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                   (cl_context_properties)d->platform, 0};
  d->context = clCreateContext(props, 1, &d->id, NULL, NULL, &st);
  if (st != CL_SUCCESS) return ocl_fail(st, "clCreateContext");
  /* In order: kernels see each other's writes without events. */
  d->queue = clCreateCommandQueue(d->context, d->id, 0, &st);
  if (st != CL_SUCCESS) {
    clReleaseContext(d->context);
    return ocl_fail(st, "clCreateCommandQueue");
  }
  if (ocl_flag_init(d) != LN_OK) {
    clReleaseCommandQueue(d->queue);
    clReleaseContext(d->context);
    return LN_ERR;
  }
  d->ready = true;
  return LN_OK;
}

ocl_device *ocl_device_get(int index) {
  int n = ln_opencl_device_count();
  if (n < 0) return NULL;
  if (n == 0) return ln_error("no OpenCL device found"), NULL;
  if (index < 0 || index >= n)
    return ln_error("device 'opencl:%d' does not exist (%d OpenCL device%s "
                    "found)", index, n, n == 1 ? "" : "s"), NULL;
  ocl_device *d = &devices[index];
  if (!d->ready && device_init(d) != LN_OK) return NULL;
  return d;
}

ocl_device *ocl_device_of(const ln_storage *s) {
  return ocl_device_get(s->device.index);
}

int ocl_check_dtype(const ocl_device *d, ln_dtype dt, const char *op) {
  if (dt == LN_FLOAT64 && !d->fp64)
    return ln_error("%s: float64 is not supported on OpenCL device '%s' "
                    "(no cl_khr_fp64); use float32", op, d->name);
  return LN_OK;
}

/* ---- programs ------------------------------------------------------------------ */

/* Appends text to the growing source *src (capacity *cap). */
static int append(char **src, size_t *total, size_t *cap, const char *name,
                  const char *text, size_t len) {
  if (*total + len + 64 > *cap) {
    while (*total + len + 64 > *cap) *cap *= 2;
    char *bigger = realloc(*src, *cap);
    if (!bigger) return ln_error("opencl: out of memory");
    *src = bigger;
  }
  *total += (size_t)sprintf(*src + *total, "\n#line 1 \"%s.cl\"\n", name);
  memcpy(*src + *total, text, len);
  *total += len;
  (*src)[*total] = '\0';
  return LN_OK;
}

/* Reads path into a malloc'd string. */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return ln_error("opencl: cannot open kernel file '%s'", path), NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
    free(text);
    text = NULL;
  }
  fclose(f);
  if (!text) return ln_error("opencl: cannot read kernel file '%s'", path), NULL;
  text[n] = '\0';
  *len = (size_t)n;
  return text;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names (without .cl) of dir's kernel files, common first. */
static int list_dir(const char *dir, char names[][64], int max) {
  DIR *d = opendir(dir);
  if (!d) return ln_error("opencl: cannot open LUANN_KERNELS_DIR '%s'", dir);
  char *found[256];
  int n = 0;
  if (max > 256) max = 256;
  for (struct dirent *e; n < max && (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 4 || len > 60 || strcmp(e->d_name + len - 3, ".cl")) continue;
    found[n++] = strndup(e->d_name, len - 3);
  }
  closedir(d);
  qsort(found, (size_t)n, sizeof found[0], by_name);
  int k = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < n; i++)
      if (found[i] && (strcmp(found[i], "common") == 0) == (pass == 0))
        snprintf(names[k++], 64, "%s", found[i]);
  for (int i = 0; i < n; i++) free(found[i]);
  return k;
}

/* Every kernel file of dir, common.cl first (LUANN_KERNELS_DIR). */
static char *source_from_dir(const char *dir) {
  char names[256][64];
  int n = list_dir(dir, names, 256);
  if (n < 0) return NULL;
  size_t total = 0, cap = 1 << 16, plen = strlen(dir) + 72;
  char *src = malloc(cap), *path = malloc(plen);
  if (!src || !path) return free(src), free(path), ln_error("opencl: out of memory"), NULL;
  src[0] = '\0';
  for (int i = 0; i < n; i++) {
    size_t len;
    snprintf(path, plen, "%s/%s.cl", dir, names[i]);
    char *text = read_file(path, &len);
    int rc = text ? append(&src, &total, &cap, names[i], text, len) : LN_ERR;
    free(text);
    if (rc != LN_OK) return free(src), free(path), NULL;
  }
  free(path);
  return src;
}

/* The source of one program: common.cl first, then every other file. */
static char *program_source(void) {
  const char *dir = getenv("LUANN_KERNELS_DIR");
  if (dir && *dir) return source_from_dir(dir);
  size_t total = 0, cap = 1 << 16;
  char *src = malloc(cap);
  if (!src) return ln_error("opencl: out of memory"), NULL;
  src[0] = '\0';
  for (int pass = 0; pass < 2; pass++)
    for (const struct ln_embedded *e = ln_cl_kernels; e->name; e++)
      if ((strcmp(e->name, "common") == 0) == (pass == 0) &&
          append(&src, &total, &cap, e->name, e->text, e->len) != LN_OK)
        return free(src), NULL;
  return src;
}

/* Turns a failed build into an error carrying the start of the log. */
static int build_failure(ocl_device *d, cl_program prog, cl_int st,
                         ln_dtype dt) {
  char log[2048] = "";
  size_t n = 0;
  clGetProgramBuildInfo(prog, d->id, CL_PROGRAM_BUILD_LOG, sizeof log - 1,
                        log, &n);
  log[sizeof log - 1] = '\0';
  return ln_error("opencl: building the %s kernels for '%s' failed: %s (%d)\n%s",
                  ln_dtype_name(dt), d->name, ocl_status_name(st), (int)st, log);
}

/* ---- the kernels' constants ------------------------------------------------- */

/* What the kernels compare against, under the host's names: each program
** gets -DNAME=value for every entry, and the .cl files use the names, so
** the enums alone number the ops and a reordered or inserted value cannot
** leave host and device disagreeing (a name the table lacks fails the
** build). A table per enum, each checked to list the whole enum. The
** options are the same on every run: PoCL's cache keys on them. */
typedef struct code {
  const char *name;
  int value;
} code;

#define CODE(name) {#name, (int)(name)}
#define COUNT(t) (sizeof t / sizeof t[0])

static const code dtype_codes[] = {
  CODE(LN_FLOAT32), CODE(LN_FLOAT64), CODE(LN_INT64), CODE(LN_UINT8),
  CODE(LN_BOOL),
};
_Static_assert(COUNT(dtype_codes) == LN_DTYPE_COUNT,
               "dtype_codes lists ln_dtype");

static const code unary_codes[] = {
  CODE(LN_UNARY_NEG), CODE(LN_UNARY_ABS), CODE(LN_UNARY_EXP),
  CODE(LN_UNARY_LOG), CODE(LN_UNARY_SQRT), CODE(LN_UNARY_RSQRT),
  CODE(LN_UNARY_SIN), CODE(LN_UNARY_COS), CODE(LN_UNARY_TANH),
  CODE(LN_UNARY_SIGMOID), CODE(LN_UNARY_RELU), CODE(LN_UNARY_SIGN),
  CODE(LN_UNARY_FLOOR), CODE(LN_UNARY_CEIL), CODE(LN_UNARY_ROUND),
  CODE(LN_UNARY_RECIPROCAL), CODE(LN_UNARY_SQUARE), CODE(LN_UNARY_LOG1P),
  CODE(LN_UNARY_EXPM1), CODE(LN_UNARY_GELU), CODE(LN_UNARY_SILU),
  CODE(LN_UNARY_ERF), CODE(LN_UNARY_TAN), CODE(LN_UNARY_ASIN),
  CODE(LN_UNARY_ACOS), CODE(LN_UNARY_ATAN), CODE(LN_UNARY_NOT),
  CODE(LN_UNARY_ISNAN), CODE(LN_UNARY_ISINF), CODE(LN_UNARY_ISFINITE),
};
_Static_assert(COUNT(unary_codes) == LN_UNARY_COUNT,
               "unary_codes lists ln_unary_op");

static const code unary_extra_codes[] = {
  CODE(OCL_UNARY_CLAMP), CODE(OCL_UNARY_LEAKY),
};

static const code binary_codes[] = {
  CODE(LN_BINARY_ADD), CODE(LN_BINARY_SUB), CODE(LN_BINARY_MUL),
  CODE(LN_BINARY_DIV), CODE(LN_BINARY_POW), CODE(LN_BINARY_MAXIMUM),
  CODE(LN_BINARY_MINIMUM), CODE(LN_BINARY_FMOD), CODE(LN_BINARY_ATAN2),
  CODE(LN_BINARY_REMAINDER), CODE(LN_BINARY_FLOOR_DIVIDE),
  CODE(LN_BINARY_EQ), CODE(LN_BINARY_NE), CODE(LN_BINARY_LT),
  CODE(LN_BINARY_LE), CODE(LN_BINARY_GT), CODE(LN_BINARY_GE),
  CODE(LN_BINARY_AND), CODE(LN_BINARY_OR), CODE(LN_BINARY_XOR),
};
_Static_assert(COUNT(binary_codes) == LN_BINARY_COUNT,
               "binary_codes lists ln_binary_op");

static const code reduce_codes[] = {
  CODE(LN_REDUCE_SUM), CODE(LN_REDUCE_MEAN), CODE(LN_REDUCE_PROD),
  CODE(LN_REDUCE_MAX), CODE(LN_REDUCE_MIN), CODE(LN_REDUCE_ARGMAX),
  CODE(LN_REDUCE_ARGMIN), CODE(LN_REDUCE_LOGSUMEXP), CODE(LN_REDUCE_ANY),
  CODE(LN_REDUCE_ALL),
};
_Static_assert(COUNT(reduce_codes) == LN_REDUCE_COUNT,
               "reduce_codes lists ln_reduce_op");

static const code flag_codes[] = {
  CODE(OCL_FLAG_GATHER), CODE(OCL_FLAG_SCATTER), CODE(OCL_FLAG_INDEX_SELECT),
  CODE(OCL_FLAG_INDEX_ADD), CODE(OCL_FLAG_DIV_ZERO),
  CODE(OCL_FLAG_SCATTER_ADD), CODE(OCL_FLAG_CLASS_TARGET),
};
_Static_assert(COUNT(flag_codes) == OCL_FLAG_COUNT - 1,
               "flag_codes lists ocl_flag_code");

static const code misc_codes[] = {CODE(OCL_MAX_DIMS)};

static const struct {
  const code *codes;
  size_t n;
} code_tables[] = {
  {dtype_codes, COUNT(dtype_codes)},   {unary_codes, COUNT(unary_codes)},
  {unary_extra_codes, COUNT(unary_extra_codes)},
  {binary_codes, COUNT(binary_codes)}, {reduce_codes, COUNT(reduce_codes)},
  {flag_codes, COUNT(flag_codes)},     {misc_codes, COUNT(misc_codes)},
};

/* The build options of dt's program: the dtype, fp64, and every code. */
static int build_options(char *buf, size_t size, const ocl_device *d,
                         ln_dtype dt) {
  size_t n = (size_t)snprintf(buf, size, "-DLN_DTYPE=%d -DLN_FP64=%d",
                              (int)dt, d->fp64 ? 1 : 0);
  for (size_t t = 0; t < COUNT(code_tables) && n < size; t++)
    for (size_t i = 0; i < code_tables[t].n && n < size; i++)
      n += (size_t)snprintf(buf + n, size - n, " -D%s=%d",
                            code_tables[t].codes[i].name,
                            code_tables[t].codes[i].value);
  return n < size ? LN_OK : ln_error("opencl: build options too long");
}

static cl_program program_get(ocl_device *d, ln_dtype dt) {
  if (d->programs[dt]) return d->programs[dt];
  if (ocl_check_dtype(d, dt, "opencl") != LN_OK) return NULL;
  char *src = program_source();
  if (!src) return NULL;
  cl_int st;
  const char *text = src;
  cl_program prog = clCreateProgramWithSource(d->context, 1, &text, NULL, &st);
  free(src);
  if (st != CL_SUCCESS) return ocl_fail(st, "clCreateProgramWithSource"), NULL;
  char options[4096];
  if (build_options(options, sizeof options, d, dt) != LN_OK) {
    clReleaseProgram(prog);
    return NULL;
  }
  st = clBuildProgram(prog, 1, &d->id, options, NULL, NULL);
  if (st != CL_SUCCESS) {
    build_failure(d, prog, st, dt);
    clReleaseProgram(prog);
    return NULL;
  }
  return d->programs[dt] = prog;
}

/* ---- kernels ---------------------------------------------------------------------- */

static unsigned slot_hash(const char *name, int dt) {
  unsigned h = 2166136261u ^ (unsigned)dt;
  for (; *name; name++) h = (h ^ (unsigned char)*name) * 16777619u;
  return h;
}

/* A work-group size the device likes for this kernel: at most 256, a
** multiple of the preferred multiple (the warp or SIMD width). */
static size_t pick_local(ocl_device *d, cl_kernel k) {
  size_t kwg = 0, mult = 1;
  clGetKernelWorkGroupInfo(k, d->id, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg,
                           &kwg, NULL);
  clGetKernelWorkGroupInfo(k, d->id, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                           sizeof mult, &mult, NULL);
  size_t local = 256;
  if (kwg && local > kwg) local = kwg;
  if (local > d->max_wg) local = d->max_wg;
  if (mult > 1 && local >= mult) local = local / mult * mult;
  return local ? local : 1;
}

cl_kernel ocl_kernel_get(ocl_device *d, ln_dtype dt, const char *name,
                         size_t *local) {
  unsigned h = slot_hash(name, (int)dt) % OCL_KCACHE;
  for (unsigned probe = 0; probe < OCL_KCACHE; probe++) {
    ocl_kslot *s = &d->kernels[(h + probe) % OCL_KCACHE];
    if (s->kernel && s->dtype == (int)dt && strcmp(s->name, name) == 0) {
      *local = s->local;
      return s->kernel;
    }
    if (s->kernel) continue;
    cl_program prog = program_get(d, dt);
    if (!prog) return NULL;
    cl_int st;
    cl_kernel k = clCreateKernel(prog, name, &st);
    if (st != CL_SUCCESS) {
      char what[96];
      snprintf(what, sizeof what, "clCreateKernel(%s)", name);
      return ocl_fail(st, what), NULL;
    }
    *s = (ocl_kslot){name, (int)dt, k, pick_local(d, k)};
    *local = s->local;
    return k;
  }
  return ln_error("opencl: kernel cache full"), NULL;
}
