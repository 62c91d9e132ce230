/*
** error.c: the thread's last error message. The core never raises: it
** returns LN_ERR or NULL and leaves the message here for the caller.
*/
#include <stdarg.h>
#include <stdio.h>

#include "luann_core.h"

static _Thread_local char message[512];

const char *ln_error_message(void) { return message; }

void ln_error_clear(void) { message[0] = '\0'; }

int ln_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  return LN_ERR;
}
