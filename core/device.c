/*
** device.c: naming devices and finding their backends.
** A backend registers here by one line in `backends`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#ifdef LN_WITH_OPENCL
LN_INTERNAL extern const ln_backend ln_backend_opencl;
int ln_opencl_device_count(void); /* 0 when there is no platform */
#endif

static const struct {
  const char *name, *title;
  const ln_backend *backend;
  int (*count)(void);
} backends[] = {
  {"cpu", "CPU", &ln_backend_cpu, NULL},
#ifdef LN_WITH_OPENCL
  {"opencl", "OpenCL", &ln_backend_opencl, ln_opencl_device_count},
#endif
};
#define NBACKENDS (sizeof backends / sizeof backends[0])

ln_device ln_device_cpu(void) { return (ln_device){&ln_backend_cpu, 0}; }

bool ln_device_equal(ln_device a, ln_device b) {
  return a.backend == b.backend && a.index == b.index;
}

void ln_device_name(ln_device d, char *buf, size_t len) {
  if (d.backend == &ln_backend_cpu)
    snprintf(buf, len, "cpu");
  else
    snprintf(buf, len, "%s:%d", d.backend->name, d.index);
}

int ln_device_parse(const char *spec, ln_device *out) {
  const char *colon = strchr(spec, ':');
  size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
  for (size_t i = 0; i < NBACKENDS; i++) {
    if (strlen(backends[i].name) != len || strncmp(spec, backends[i].name, len))
      continue;
    int index = 0;
    if (colon) {
      char *end;
      long v = strtol(colon + 1, &end, 10);
      if (*end || end == colon + 1 || v < 0 || v > 1000)
        return ln_error("invalid device '%s' (expected NAME or NAME:N)", spec);
      index = (int)v;
    }
    if (backends[i].count) {
      int n = backends[i].count();
      if (n < 0) return LN_ERR;
      if (n == 0) return ln_error("no %s device found", backends[i].title);
      if (index >= n)
        return ln_error("device '%s' does not exist (%d %s device%s found)",
                        spec, n, backends[i].name, n == 1 ? "" : "s");
    } else if (index != 0) {
      return ln_error("device '%s' does not exist (only cpu:0)", spec);
    }
    *out = (ln_device){backends[i].backend, index};
    return LN_OK;
  }
  return ln_error("unknown device '%s' (expected cpu%s)", spec,
#ifdef LN_WITH_OPENCL
                  ", opencl or opencl:N"
#else
                  "; this build has no OpenCL"
#endif
  );
}
