/*
** plot.h: line plots drawn with cairo into PNG files (internal;
** luann.plot's core).
*/
#ifndef LUANN_PLOT_H
#define LUANN_PLOT_H

#include "internal.h"
#include "luann_core.h"

#define LN_PLOT_MIN_SIDE 160   /* room for the labels around a plot area */
#define LN_PLOT_MAX_SIDE 8192
#define LN_PLOT_MAX_SERIES 64

typedef struct ln_plot_series {
  const char *name;  /* any bytes: invalid UTF-8 is shown as '?' */
  const double *x;   /* NULL: 1, 2, ..., n */
  const double *y;
  int64_t n;         /* at least 1 */
} ln_plot_series;

typedef struct ln_plot_options {
  const char *title, *xlabel, *ylabel; /* NULL or "": none */
  int width, height;                   /* pixels */
  bool logy;                           /* log10 y axis; y <= 0 is skipped */
} ln_plot_options;

/* Draws the series as lines (in order, each its own colour, a legend
** naming them) and writes the picture to path as an RGB PNG, atomically.
** NaN and infinite points are skipped, breaking the line. */
LN_INTERNAL int ln_plot_line(const char *path, const ln_plot_series *series,
                             int count, const ln_plot_options *opt);
/* The series colours, 0xRRGGBB, in order: series k gets colors[k % count]
** (later rounds dashed). Returns count. */
LN_INTERNAL int ln_plot_palette(const uint32_t **colors);

#endif
