/*
** luann_formats.h: other programs' tensor files: safetensors (Hugging
** Face's format, what most published weights come in), NumPy's .npy and
** .npz. Readers trust no byte: every size, offset and dtype is checked
** against the file before anything is allocated, and errors name the file
** ("safetensors.load: model.safetensors: ..."). Large files are mapped
** rather than read (core/mapped_file.h). Writers write atomically.
**
** Dtypes. luann has float32, float64, int64, uint8 and bool. Loading
** converts float16 and bfloat16 to float32 and the narrower integers (int8,
** int16, int32, uint16, uint32) to int64; other dtypes are errors naming
** the dtype and the tensor. Saving writes luann's dtypes as they are.
*/
#ifndef LUANN_FORMATS_H
#define LUANN_FORMATS_H

#include "luann_core.h"

/* ---- safetensors --------------------------------------------------------
** An 8-byte little-endian header length N, N bytes of JSON (UTF-8):
**   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
**    ..., "__metadata__": {"key": "value", ...}}
** then the data: each tensor's row-major little-endian bytes at
** [begin, end) counted from the end of the header. The reader requires
** what the format's reference implementation does: N at most 100 MB and
** inside the file, valid UTF-8 JSON whose top level is an object, no
** duplicate names, a known dtype, sizes that are integers, end - begin =
** the shape's bytes, and ranges that do not overlap and cover the data
** exactly. */

typedef struct ln_safetensors ln_safetensors;

ln_safetensors *ln_safetensors_open(const char *path);
/* The same over len bytes in memory, which must outlive the reader; name
** stands for the path in messages. */
ln_safetensors *ln_safetensors_open_memory(const void *data, size_t len,
                                           const char *name);
int64_t ln_safetensors_count(const ln_safetensors *f);
/* Name of tensor i (0 <= i < count), valid until close. */
const char *ln_safetensors_name(const ln_safetensors *f, int64_t i);
/* Tensor i on the CPU: a new reference, converted to a luann dtype. A
** large aligned tensor wraps the mapped file (copy-on-write). */
ln_tensor *ln_safetensors_tensor(ln_safetensors *f, int64_t i);
/* The "__metadata__" string pairs, valid until close. */
int64_t ln_safetensors_metadata_count(const ln_safetensors *f);
const char *ln_safetensors_metadata_key(const ln_safetensors *f, int64_t i);
const char *ln_safetensors_metadata_value(const ln_safetensors *f, int64_t i);
void ln_safetensors_close(ln_safetensors *f); /* NULL is fine */

/* Writes n tensors (any device, any strides) under their names, and nmeta
** metadata pairs, to path atomically. Names must be distinct and
** non-empty. The data is laid out as the reference writer does it: by
** element size, largest first, then by name, the header padded with
** spaces to a multiple of 8, so every tensor is aligned. */
int ln_safetensors_save(const char *path, int64_t n, const char *const *names,
                        ln_tensor *const *tensors, int64_t nmeta,
                        const char *const *meta_keys,
                        const char *const *meta_values);

/* ---- .npy ----------------------------------------------------------------
** "\x93NUMPY", major version 1, 2 or 3, minor 0, the header's length
** (u16 in version 1, u32 after), then a Python dict literal
**   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
** and the data, row-major or (fortran_order) column-major. The reader
** takes both byte orders of every numeric dtype above and returns a
** row-major tensor either way; object arrays, structured dtypes and
** uint64 are errors. The writer writes version 1 (2 when the header
** needs it), row-major, the header padded to a multiple of 64 bytes. */

ln_tensor *ln_npy_read(const char *path);
ln_tensor *ln_npy_read_memory(const void *data, size_t len, const char *name);
int ln_npy_write(const char *path, ln_tensor *t);

/* ---- .npz ----------------------------------------------------------------
** A zip archive (numpy.savez, stored; numpy.savez_compressed, deflated) of
** .npy files, read through libzip: member "w.npy" is array "w". Members
** are checked as files are, and a compressed member may not claim more
** than 1,100 times its compressed size (deflate's best is ~1,032). */

typedef struct ln_npz ln_npz;

ln_npz *ln_npz_open(const char *path);
ln_npz *ln_npz_open_memory(const void *data, size_t len, const char *name);
int64_t ln_npz_count(const ln_npz *z);
const char *ln_npz_name(const ln_npz *z, int64_t i); /* without ".npy" */
ln_tensor *ln_npz_tensor(ln_npz *z, int64_t i);
void ln_npz_close(ln_npz *z); /* NULL is fine */

#endif
