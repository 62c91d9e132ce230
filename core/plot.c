/*
** plot.c: line plots drawn with cairo, written as PNG (luann.plot.line).
**
** Layout, outside in: the title across the top, the y label turned on the
** left, tick labels beside the axes, the x label along the bottom, and the
** legend in a column right of the plot area, where it hides no data (inside
** the plot area's top right corner when the picture is too narrow for
** that). Ticks fall on 1-2-5 steps, or on decades (with their 2 and 5
** multiples when few) on a log axis; each axis runs from a tick below the
** data to a tick above it. Points that are NaN or infinite, or not positive
** on a log axis, are skipped: the line breaks there, and a point left
** alone gets a dot. Text uses cairo's toy font API ("sans-serif").
*/
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "atomic_file.h"
#include "plot.h"

/* matplotlib's "tab10": distinct, and readable on white. */
static const uint32_t palette[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728,
                                   0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f,
                                   0xbcbd22, 0x17becf};
#define NCOLORS (int)(sizeof palette / sizeof palette[0])

int ln_plot_palette(const uint32_t **colors) {
  *colors = palette;
  return NCOLORS;
}

#define MAX_TICKS 32
#define MAX_LABEL 48 /* characters of a name shown in the legend */

/* One axis: its range and ticks in axis units (log10 of the data on a
** log axis). */
typedef struct axis {
  bool log;
  double lo, hi;
  int nticks;
  double ticks[MAX_TICKS];
  char labels[MAX_TICKS][32];
} axis;

/* Where things go, in pixels; s scales sizes with the picture. */
typedef struct layout {
  double s, font, title_font, pad, tick;
  double left, top, right, bottom; /* the plot area */
  double line;                     /* series line width */
  double swatch, inner;            /* legend: a swatch's length, padding */
  double legend_text;              /* the widest name the legend shows */
  bool legend_inside;
} layout;

static void set_rgb(cairo_t *cr, uint32_t c) {
  cairo_set_source_rgb(cr, (c >> 16 & 255) / 255.0, (c >> 8 & 255) / 255.0,
                       (c & 255) / 255.0);
}

/* ---- text ------------------------------------------------------------------ */

/* Copies at most max characters of s into out (size n) as valid UTF-8:
** invalid bytes become '?', control characters spaces, and a cut string
** ends in "...". cairo refuses a string that is not UTF-8. */
static void clean_text(char *out, size_t n, const char *s, int max) {
  size_t o = 0;
  int chars = 0;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p && o + 8 < n) {
    if (chars == max) {
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3
            : (*p >> 3) == 30 ? 4 : 0;
    for (int k = 1; k < len; k++)
      if ((p[k] & 0xc0) != 0x80) len = 0;
    if (len == 2 && *p < 0xc2) len = 0; /* overlong */
    if (len == 3 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] >= 0xa0)))
      len = 0; /* overlong, or a UTF-16 surrogate */
    if (len == 4 && ((*p == 0xf0 && p[1] < 0x90) || *p > 0xf4 || (*p == 0xf4 && p[1] >= 0x90)))
      len = 0; /* overlong, or past U+10FFFF */
    if (len == 0) {
      out[o++] = '?';
      p++;
    } else if (len == 1 && (*p < 0x20 || *p == 0x7f)) {
      out[o++] = ' ';
      p++;
    } else {
      memcpy(out + o, p, (size_t)len);
      o += (size_t)len;
      p += len;
    }
    chars++;
  }
  out[o] = 0;
}

static double text_width(cairo_t *cr, const char *s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s, &e);
  return e.x_advance;
}

/* clean_text cut to fit width pixels in the current font ("" when not
** even one character fits). */
static void fit_text(cairo_t *cr, char *out, size_t n, const char *s, int max,
                     double width) {
  for (int chars = max; chars >= 1; chars--) {
    clean_text(out, n, s, chars);
    if (text_width(cr, out) <= width) return;
  }
  out[0] = 0;
}

/* Draws s with its anchor at (x, y): ax 0 left, 0.5 centre, 1 right; the
** text's middle (by the font's ascent) on y. */
static void draw_text(cairo_t *cr, const char *s, double x, double y,
                      double ax) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_move_to(cr, x - ax * text_width(cr, s), y + fe.ascent * 0.4);
  cairo_show_text(cr, s);
}

static void use_font(cairo_t *cr, double size, bool bold) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

/* ---- ticks ----------------------------------------------------------------- */

/* The 1-2-5 step nearest above raw. */
static double nice_step(double raw) {
  double mag = pow(10, floor(log10(raw)));
  double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void add_tick(axis *a, double at, const char *label) {
  if (a->nticks == MAX_TICKS) return;
  a->ticks[a->nticks] = at;
  snprintf(a->labels[a->nticks], sizeof a->labels[0], "%s", label);
  a->nticks++;
}

/* A tick value as people write it: fixed decimals enough for the step,
** or %g's exponent for very large and very small numbers. */
static void format_value(char *buf, size_t n, double v, double step,
                         double mag) {
  if (v == 0) {
    snprintf(buf, n, "0");
  } else if (mag >= 1e6 || mag < 1e-4 || step < 1e-5) {
    snprintf(buf, n, "%.4g", v);
  } else {
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", decimals, v);
  }
}

/* Linear axis over the data range [lo, hi] (lo > hi: no data), widened by
** margin of the range on each side, with about target ticks inside. */
static void linear_axis(axis *a, double lo, double hi, int target,
                        double margin) {
  char label[32];
  *a = (axis){.log = false};
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (lo == hi) { /* widen, inward near the double's limits */
    double d = lo == 0 ? 1 : fabs(lo) * 0.1;
    if (!isfinite(hi + d)) lo -= 2 * d;
    else if (!isfinite(lo - d)) hi += 2 * d;
    else lo -= d, hi += d;
  }
  long double m = ((long double)hi - lo) * margin;
  if (isfinite((double)(lo - m)) && isfinite((double)(hi + m)))
    lo = (double)(lo - m), hi = (double)(hi + m);
  a->lo = lo, a->hi = hi;
  double step = nice_step((double)(((long double)hi - lo) / target));
  double first = ceil(lo / step), last = floor(hi / step);
  if (!isfinite(step) || step <= 0 || !isfinite(first * step) ||
      !isfinite(last * step) || last - first > MAX_TICKS - 1 || last < first ||
      fmax(fabs(first), fabs(last)) > 1e15) {
    /* Beyond nice numbers (near the double's limits, or steps too fine
    ** for the doubles to count): label the ends. */
    snprintf(label, sizeof label, "%.4g", lo);
    add_tick(a, lo, label);
    snprintf(label, sizeof label, "%.4g", hi);
    add_tick(a, hi, label);
    return;
  }
  double mag = fmax(fabs(first * step), fabs(last * step));
  for (int i = 0; i <= (int)(last - first); i++) {
    double v = (first + i) * step;
    if (fabs(v) < step * 1e-9) v = 0; /* no "-0" or "1e-17" */
    format_value(label, sizeof label, v, step, mag);
    add_tick(a, v, label);
  }
}

/* 10^e as a label: "0.001", "100", "1e+06". */
static void format_power(char *buf, size_t n, int m, int e) {
  if (e >= -4 && e <= 5) snprintf(buf, n, "%g", m * pow(10, e));
  else snprintf(buf, n, "%de%+d", m, e);
}

/* Log axis over positive data [lo, hi], widened as linear_axis does in
** log space: whole decades, their 2 and 5 multiples when the axis spans
** two decades or so, and linear ticks when neither gives two. */
static void log_axis(axis *a, double lo, double hi, int target, double margin) {
  char label[32];
  *a = (axis){.log = true};
  if (!(lo <= hi)) lo = 1, hi = 10;
  double l0 = log10(lo), l1 = log10(hi);
  if (l0 == l1) l0 -= 0.5, l1 += 0.5;
  double m = (l1 - l0) * margin;
  a->lo = l0 - m, a->hi = l1 + m;
  int e0 = (int)ceil(a->lo), e1 = (int)floor(a->hi);
  int stride = (e1 - e0 + target) / target;
  for (int e = e0; e <= e1; e += stride) {
    format_power(label, sizeof label, 1, e);
    add_tick(a, e, label);
  }
  if (a->hi - a->lo <= 2.5) {
    for (int e = (int)floor(a->lo); e <= e1; e++) {
      for (int mult = 2; mult <= 5; mult += 3) {
        double at = e + log10(mult);
        if (at < a->lo || at > a->hi) continue;
        format_power(label, sizeof label, mult, e);
        add_tick(a, at, label);
      }
    }
  }
  if (a->nticks >= 2) return;
  axis lin; /* less than a decade: ticks at linear steps, placed in log space */
  linear_axis(&lin, pow(10, a->lo), pow(10, a->hi), target, 0);
  a->nticks = 0;
  for (int i = 0; i < lin.nticks; i++)
    if (lin.ticks[i] > 0) add_tick(a, log10(lin.ticks[i]), lin.labels[i]);
}

/* Axis units to pixels, p0 at lo and p1 at hi. long double: the distance
** between two doubles may itself pass the double's range. Cairo's fixed
** point coordinates wrap past about 2^23, so the result is bounded. */
static double axis_px(const axis *a, double u, double p0, double p1) {
  long double f = ((long double)u - a->lo) / ((long double)a->hi - a->lo);
  double px = p0 + (double)(f * (p1 - p0));
  return fmin(fmax(px, -1e6), 1e6);
}

/* Whether point i of series s is drawn, and its axis units. */
static bool point(const ln_plot_series *s, int64_t i, bool logy, double *x,
                  double *y) {
  *x = s->x ? s->x[i] : (double)(i + 1);
  *y = s->y[i];
  if (!isfinite(*x) || !isfinite(*y) || (logy && *y <= 0)) return false;
  if (logy) *y = log10(*y);
  return true;
}

/* The range of the points drawn (lo > hi when none). */
static void data_range(const ln_plot_series *series, int count, bool logy,
                       double *xlo, double *xhi, double *ylo, double *yhi) {
  *xlo = *ylo = INFINITY;
  *xhi = *yhi = -INFINITY;
  for (int k = 0; k < count; k++) {
    for (int64_t i = 0; i < series[k].n; i++) {
      double x, y;
      if (!point(&series[k], i, false, &x, &y) || (logy && y <= 0)) continue;
      *xlo = fmin(*xlo, x), *xhi = fmax(*xhi, x);
      *ylo = fmin(*ylo, y), *yhi = fmax(*yhi, y);
    }
  }
}

/* ---- layout ---------------------------------------------------------------- */

static int clampi(double v, int lo, int hi) {
  return v < lo ? lo : v > hi ? hi : (int)v;
}

/* The widest legend name, each cut to MAX_LABEL characters. */
static double widest_name(cairo_t *cr, const ln_plot_series *series,
                          int count) {
  char name[MAX_LABEL * 4 + 8];
  double w = 0;
  for (int k = 0; k < count; k++) {
    clean_text(name, sizeof name, series[k].name, MAX_LABEL);
    w = fmax(w, text_width(cr, name));
  }
  return w;
}

/* Places the plot area, then the ticks that fit it. The legend goes right
** of the plot area when names cut to a third of the picture's width still
** show a few characters, else into the plot area's corner. */
static void place(cairo_t *cr, layout *l, axis *ax, axis *ay,
                  const ln_plot_series *series, int count,
                  const ln_plot_options *o) {
  double w = o->width, h = o->height;
  l->s = fmin(fmax(fmin(w / 640, h / 480), 0.85), 4);
  l->font = 12 * l->s, l->title_font = 15 * l->s;
  l->pad = 8 * l->s, l->tick = 5 * l->s;
  l->line = fmax(2, 2 * round(l->s)); /* even: the legend's swatches fill
                                         whole pixels of the series colour */
  l->swatch = round(24 * l->s), l->inner = round(6 * l->s);
  bool title = o->title && *o->title, xlabel = o->xlabel && *o->xlabel;
  bool ylabel = o->ylabel && *o->ylabel;
  l->top = l->pad + (title ? l->title_font * 1.3 + l->pad : l->font * 0.6);
  l->bottom = h - l->pad - l->font * 1.3 - l->tick - l->pad * 0.5 -
              (xlabel ? l->font * 1.3 + l->pad * 0.5 : 0);
  double xlo, xhi, ylo, yhi;
  data_range(series, count, o->logy, &xlo, &xhi, &ylo, &yhi);
  int ytarget = clampi((l->bottom - l->top) / (50 * l->s), 2, 10);
  if (o->logy) log_axis(ay, ylo, yhi, ytarget, 0.05);
  else linear_axis(ay, ylo, yhi, ytarget, 0.05);
  use_font(cr, l->font, false);
  double labels = 0;
  for (int i = 0; i < ay->nticks; i++)
    labels = fmax(labels, text_width(cr, ay->labels[i]));
  l->left = l->pad + (ylabel ? l->font * 1.3 + l->pad * 0.5 : 0) + labels +
            l->tick + l->pad * 0.5;
  double frame = l->swatch + 3 * l->inner + 2; /* the legend less its text */
  double names = widest_name(cr, series, count);
  double room = w / 3 - frame;
  l->legend_inside = room < 4 * l->font;
  l->legend_text = fmin(names, room);
  l->right = w - l->pad - (l->legend_inside ? 0 : l->legend_text + frame + l->pad);
  l->right = fmax(l->right, l->left + 10);
  if (l->legend_inside)
    l->legend_text = fmin(names, fmax(l->right - l->left - 2 * l->pad - frame, 0));
  int xtarget = clampi((l->right - l->left) / (80 * l->s), 2, 10);
  linear_axis(ax, xlo, xhi, xtarget, 0.03);
}

/* ---- drawing --------------------------------------------------------------- */

static void draw_axes(cairo_t *cr, const layout *l, const axis *ax,
                      const axis *ay) {
  cairo_set_line_width(cr, 1);
  cairo_set_source_rgb(cr, 0.88, 0.88, 0.88); /* grid */
  for (int i = 0; i < ax->nticks; i++) {
    double x = round(axis_px(ax, ax->ticks[i], l->left, l->right)) + 0.5;
    cairo_move_to(cr, x, l->top);
    cairo_line_to(cr, x, l->bottom);
  }
  for (int i = 0; i < ay->nticks; i++) {
    double y = round(axis_px(ay, ay->ticks[i], l->bottom, l->top)) + 0.5;
    cairo_move_to(cr, l->left, y);
    cairo_line_to(cr, l->right, y);
  }
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  use_font(cr, l->font, false);
  for (int i = 0; i < ax->nticks; i++) {
    double x = round(axis_px(ax, ax->ticks[i], l->left, l->right)) + 0.5;
    cairo_move_to(cr, x, l->bottom);
    cairo_line_to(cr, x, l->bottom + l->tick);
    draw_text(cr, ax->labels[i], x, l->bottom + l->tick + l->pad * 0.5 + l->font * 0.6, 0.5);
  }
  for (int i = 0; i < ay->nticks; i++) {
    double y = round(axis_px(ay, ay->ticks[i], l->bottom, l->top)) + 0.5;
    cairo_move_to(cr, l->left, y);
    cairo_line_to(cr, l->left - l->tick, y);
    draw_text(cr, ay->labels[i], l->left - l->tick - l->pad * 0.5, y, 1);
  }
  cairo_rectangle(cr, round(l->left) + 0.5, round(l->top) + 0.5,
                  round(l->right) - round(l->left), round(l->bottom) - round(l->top));
  cairo_stroke(cr);
}

static void set_series_style(cairo_t *cr, const layout *l, int k) {
  static const double dashes[][4] = {{6, 3}, {2, 2}, {8, 3, 2, 3}};
  static const int ndashes[] = {2, 2, 4};
  set_rgb(cr, palette[k % NCOLORS]);
  cairo_set_line_width(cr, l->line);
  int round_k = (k / NCOLORS) % 4; /* 0: solid, then the dash patterns */
  if (round_k == 0) {
    cairo_set_dash(cr, NULL, 0, 0);
  } else {
    double d[4];
    for (int i = 0; i < ndashes[round_k - 1]; i++)
      d[i] = dashes[round_k - 1][i] * l->line;
    cairo_set_dash(cr, d, ndashes[round_k - 1], 0);
  }
}

/* One series: a path through each run of drawn points, a dot for a run of
** one. */
static void draw_series(cairo_t *cr, const layout *l, const axis *ax,
                        const axis *ay, const ln_plot_series *s, int k,
                        bool logy) {
  set_series_style(cr, l, k);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  int64_t run = 0;
  double px = 0, py = 0;
  for (int64_t i = 0; i <= s->n; i++) {
    double x, y;
    bool drawn = i < s->n && point(s, i, logy, &x, &y);
    if (drawn) {
      px = axis_px(ax, x, l->left, l->right);
      py = axis_px(ay, y, l->bottom, l->top);
      if (run++ == 0) cairo_move_to(cr, px, py);
      else cairo_line_to(cr, px, py);
      continue;
    }
    if (run == 1) {
      cairo_new_path(cr);
      cairo_arc(cr, px, py, l->line * 1.5, 0, 2 * M_PI);
      cairo_fill(cr);
    } else if (run > 1) {
      cairo_stroke(cr);
    }
    run = 0;
  }
  cairo_set_dash(cr, NULL, 0, 0);
}

/* The legend: a framed column of (swatch, name) rows; rows that do not
** fit the plot area's height are summed up in a last "(N more)" row. */
static void draw_legend(cairo_t *cr, const layout *l,
                        const ln_plot_series *series, int count) {
  char name[MAX_LABEL * 4 + 8];
  use_font(cr, l->font, false);
  double row = round(l->font * 1.5), inner = l->inner, swatch = l->swatch;
  double width = l->legend_text + swatch + inner + 2;
  int fit = (int)((l->bottom - l->top - 2 * inner) / row);
  int shown = count <= fit ? count : fit - 1;
  if (shown < 0) shown = 0;
  int rows = shown + (shown < count);
  double x = round(l->legend_inside ? l->right - width - 2 * inner - l->pad
                                    : l->right + l->pad);
  double y = round(l->top + (l->legend_inside ? l->pad : 0));
  cairo_rectangle(cr, x + 0.5, y + 0.5, round(width + 2 * inner), rows * row + 2 * inner);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  for (int k = 0; k < rows; k++) {
    double mid = y + inner + row * k + round(row / 2);
    if (k == shown) {
      snprintf(name, sizeof name, "(%d more)", count - shown);
      cairo_set_source_rgb(cr, 0, 0, 0);
      draw_text(cr, name, x + inner, mid, 0);
      break;
    }
    set_series_style(cr, l, k);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_move_to(cr, x + inner, mid);   /* mid is whole: an even line width */
    cairo_line_to(cr, x + inner + swatch, mid); /* covers whole pixels */
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    fit_text(cr, name, sizeof name, series[k].name, MAX_LABEL, l->legend_text);
    draw_text(cr, name, x + inner + swatch + inner, mid, 0);
  }
}

static void draw_labels(cairo_t *cr, const layout *l,
                        const ln_plot_options *o) {
  char text[4 * 200 + 8];
  cairo_set_source_rgb(cr, 0, 0, 0);
  double cx = (l->left + l->right) / 2, cy = (l->top + l->bottom) / 2;
  if (o->title && *o->title) {
    use_font(cr, l->title_font, true);
    fit_text(cr, text, sizeof text, o->title, 200, o->width - 2 * l->pad);
    draw_text(cr, text, o->width / 2.0, l->pad + l->title_font * 0.65, 0.5);
  }
  use_font(cr, l->font, false);
  if (o->xlabel && *o->xlabel) {
    fit_text(cr, text, sizeof text, o->xlabel, 200, l->right - l->left);
    draw_text(cr, text, cx, o->height - l->pad - l->font * 0.65, 0.5);
  }
  if (o->ylabel && *o->ylabel) {
    fit_text(cr, text, sizeof text, o->ylabel, 200, l->bottom - l->top);
    cairo_save(cr);
    cairo_translate(cr, l->pad + l->font * 0.65, cy);
    cairo_rotate(cr, -M_PI / 2);
    draw_text(cr, text, 0, 0, 0.5);
    cairo_restore(cr);
  }
}

static void draw(cairo_t *cr, const ln_plot_series *series, int count,
                 const ln_plot_options *o) {
  layout l;
  axis ax, ay;
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  place(cr, &l, &ax, &ay, series, count, o);
  draw_axes(cr, &l, &ax, &ay);
  cairo_save(cr);
  cairo_rectangle(cr, l.left, l.top, l.right - l.left, l.bottom - l.top);
  cairo_clip(cr);
  for (int k = 0; k < count; k++)
    draw_series(cr, &l, &ax, &ay, &series[k], k, o->logy);
  cairo_restore(cr);
  draw_labels(cr, &l, o);
  draw_legend(cr, &l, series, count);
}

/* ---- writing --------------------------------------------------------------- */

typedef struct png_sink {
  FILE *f;
  int os_error;
} png_sink;

static cairo_status_t write_bytes(void *closure, const unsigned char *data,
                                  unsigned int n) {
  png_sink *sink = closure;
  errno = 0;
  if (fwrite(data, 1, n, sink->f) == n) return CAIRO_STATUS_SUCCESS;
  sink->os_error = errno ? errno : EIO;
  return CAIRO_STATUS_WRITE_ERROR;
}

static int check_options(const ln_plot_series *series, int count,
                         const ln_plot_options *o) {
  if (count < 1) return ln_error("plot.line: no series to plot");
  if (count > LN_PLOT_MAX_SERIES)
    return ln_error("plot.line: %d series, more than the %d a legend can "
                    "tell apart", count, LN_PLOT_MAX_SERIES);
  for (int k = 0; k < count; k++)
    if (series[k].n < 1)
      return ln_error("plot.line: series %d is empty", k + 1);
  if (o->width < LN_PLOT_MIN_SIDE || o->width > LN_PLOT_MAX_SIDE ||
      o->height < LN_PLOT_MIN_SIDE || o->height > LN_PLOT_MAX_SIDE)
    return ln_error("plot.line: width and height must be %d to %d pixels, "
                    "got %d x %d", LN_PLOT_MIN_SIDE, LN_PLOT_MAX_SIDE,
                    o->width, o->height);
  return LN_OK;
}

int ln_plot_line(const char *path, const ln_plot_series *series, int count,
                 const ln_plot_options *o) {
  if (check_options(series, count, o) != LN_OK) return LN_ERR;
  cairo_surface_t *surface =
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, o->width, o->height);
  cairo_t *cr = cairo_create(surface);
  draw(cr, series, count, o);
  cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  int rc = st == CAIRO_STATUS_SUCCESS
               ? LN_OK
               : ln_error("plot.line: drawing failed: %s",
                          cairo_status_to_string(st));
  ln_atomic_file a = {0};
  if (rc == LN_OK) rc = ln_atomic_open(&a, "plot.line", path);
  if (rc == LN_OK) {
    png_sink sink = {a.f, 0};
    st = cairo_surface_write_to_png_stream(surface, write_bytes, &sink);
    if (st != CAIRO_STATUS_SUCCESS) {
      rc = ln_error("plot.line: cannot write %s: %s", path,
                    sink.os_error ? strerror(sink.os_error)
                                  : cairo_status_to_string(st));
      ln_atomic_abort(&a);
    } else {
      rc = ln_atomic_commit(&a, "plot.line");
    }
  }
  cairo_surface_destroy(surface);
  return rc;
}
