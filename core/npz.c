/*
** npz.c: NumPy's .npz archives, read through libzip (the format is
** described in luann_formats.h). The archive is mapped (or borrowed) and
** handed to libzip as a buffer; each member is inflated into memory only
** after its claimed size has been checked against its compressed one, and
** libzip checks its CRC as the last bytes are read. The member is then
** parsed as a .npy file (npy.c).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "luann_formats.h"
#include "mapped_file.h"
#include "npy.h"

#define LOAD "npz.load"

typedef struct member {
  char *name;        /* the array's name: the member's without ".npy" */
  char *file;        /* the member's name, for messages */
  zip_uint64_t index, size;
} member;

struct ln_npz {
  ln_mapping *m;
  zip_t *zip;
  int64_t n;
  member *e;
};

static int zip_failed(const ln_npz *z, const char *what, zip_error_t *err) {
  return ln_error(LOAD ": %s: %s (%s)", z->m->name, what, zip_error_strerror(err));
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const member *)a)->name, ((const member *)b)->name);
}

/* Reads the directory: each member a .npy file of a sane size. */
static int read_members(ln_npz *z) {
  zip_int64_t n = zip_get_num_entries(z->zip, 0);
  z->e = calloc((size_t)(n > 0 ? n : 1), sizeof *z->e);
  if (n < 0 || !z->e) return ln_error(LOAD ": %s: out of memory", z->m->name);
  for (zip_int64_t i = 0; i < n; i++) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->zip, (zip_uint64_t)i, 0, &st) != 0)
      return zip_failed(z, "cannot read the archive's directory", zip_get_error(z->zip));
    const zip_uint64_t want = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE;
    size_t len = st.name ? strlen(st.name) : 0;
    if ((st.valid & want) != want || len < 5 || strcmp(st.name + len - 4, ".npy") != 0)
      return ln_error(LOAD ": %s: member '%.100s' is not a .npy file", z->m->name,
                      st.name ? st.name : "?");
    if (st.size / LN_FILE_MAX_RATIO > st.comp_size || st.size / LN_FILE_MAX_RATIO > z->m->len)
      return ln_error(LOAD ": %s: member '%.100s' claims %llu bytes, more than %d "
                      "times its %llu compressed bytes", z->m->name, st.name,
                      (unsigned long long)st.size, LN_FILE_MAX_RATIO,
                      (unsigned long long)st.comp_size);
    member *e = &z->e[z->n++];
    e->index = (zip_uint64_t)i;
    e->size = st.size;
    e->file = strdup(st.name);
    e->name = strndup(st.name, len - 4);
    if (!e->file || !e->name) return ln_error(LOAD ": %s: out of memory", z->m->name);
  }
  qsort(z->e, (size_t)z->n, sizeof *z->e, by_name);
  for (int64_t i = 1; i < z->n; i++)
    if (strcmp(z->e[i - 1].name, z->e[i].name) == 0)
      return ln_error(LOAD ": %s: the array name '%.100s' appears twice", z->m->name,
                      z->e[i].name);
  return LN_OK;
}

static ln_npz *open_mapping(ln_mapping *m) {
  if (!m) return NULL;
  ln_npz *z = calloc(1, sizeof *z);
  if (!z) {
    ln_mapping_release(m);
    return ln_error("out of memory"), NULL;
  }
  z->m = m;
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t *src = zip_source_buffer_create(m->len ? (const void *)m->data : (const void *)"", m->len, 0, &err);
  if (src) {
    z->zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z->zip) zip_source_free(src);
  }
  int rc = z->zip ? read_members(z) : zip_failed(z, "not a valid zip archive", &err);
  zip_error_fini(&err);
  if (rc != LN_OK) {
    ln_npz_close(z);
    return NULL;
  }
  return z;
}

ln_npz *ln_npz_open(const char *path) {
  return open_mapping(ln_mapping_open(LOAD, path));
}

ln_npz *ln_npz_open_memory(const void *data, size_t len, const char *name) {
  return open_mapping(ln_mapping_borrow(data, len, name));
}

int64_t ln_npz_count(const ln_npz *z) { return z->n; }

const char *ln_npz_name(const ln_npz *z, int64_t i) {
  return i >= 0 && i < z->n ? z->e[i].name : NULL;
}

/* The member's bytes, exactly its claimed size; libzip checks the CRC
** when the read reaches the end. */
static unsigned char *inflate_member(ln_npz *z, const member *e) {
  zip_file_t *zf = zip_fopen_index(z->zip, e->index, 0);
  if (!zf) {
    zip_failed(z, e->file, zip_get_error(z->zip));
    return NULL;
  }
  unsigned char *buf = malloc((size_t)e->size + 1);
  zip_uint64_t got = 0;
  zip_int64_t r = 1;
  while (buf && got <= e->size && r > 0) {  /* one byte more: the end and CRC */
    r = zip_fread(zf, buf + got, e->size + 1 - got);
    if (r > 0) got += (zip_uint64_t)r;
    if (got == e->size + 1) break;
  }
  if (!buf) {
    ln_error(LOAD ": %s: out of memory", z->m->name);
  } else if (r < 0) {
    zip_failed(z, e->file, zip_file_get_error(zf));
  } else if (got != e->size) {
    ln_error(LOAD ": %s: member '%.100s' does not hold the %llu bytes it claims",
             z->m->name, e->file, (unsigned long long)e->size);
  }
  zip_fclose(zf);
  if (buf && (r < 0 || got != e->size)) {
    free(buf);
    return NULL;
  }
  return buf;
}

ln_tensor *ln_npz_tensor(ln_npz *z, int64_t i) {
  if (i < 0 || i >= z->n) return ln_error(LOAD ": no array %lld", (long long)i), NULL;
  const member *e = &z->e[i];
  unsigned char *bytes = inflate_member(z, e);
  if (!bytes) return NULL;
  ln_mapping *mb = ln_mapping_borrow(bytes, (size_t)e->size, z->m->name);
  if (mb) mb->file_len = z->m->file_len; /* the archive bounds its arrays */
  ln_tensor *t = mb ? ln_npy_parse(mb, LOAD, e->file) : NULL;
  ln_mapping_release(mb);
  free(bytes);
  return t;
}

void ln_npz_close(ln_npz *z) {
  if (!z) return;
  if (z->zip) zip_discard(z->zip);
  for (int64_t i = 0; i < z->n; i++) {
    free(z->e[i].name);
    free(z->e[i].file);
  }
  free(z->e);
  ln_mapping_release(z->m);
  free(z);
}
