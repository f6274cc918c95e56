/* pdf.c - A4 PDF documents with cairo, Pango and libqrencode (pdf.h).
 *
 * One pdf_doc is one cairo PDF surface writing into the caller's buffer,
 * one cairo context and ONE Pango layout reused for every text of the
 * document: making a layout makes a Pango context, which is most of the
 * cost of a short text, so a document makes one. Font sizes are absolute
 * (points = the surface's units), so Pango's screen resolution never
 * enters, and metric hinting is off, as it means nothing in a PDF. */
#include "integrations/pdf.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>
#include <pthread.h>
#include <qrencode.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "biz/upi.h"

/* Latin text in Noto Sans; fontconfig falls back along the list, so a
 * Devanagari name is set (and shaped by HarfBuzz) in Noto Sans Devanagari,
 * and the rupee sign comes from whichever has it. */
#define PDF_FAMILIES "Noto Sans, Noto Sans Devanagari, sans-serif"

struct pdf_doc {
  buf *out;
  cairo_surface_t *surface;
  cairo_t *cr;
  PangoLayout *layout;
  PangoFontDescription *font;
  PangoLayout *cells[PDF_MAX_CELLS]; /* a table row's texts, made on use */
  char *text;      /* the cleaned text handed to Pango (layout_text) */
  size_t text_cap; /* its size */
};

/* Bytes handed to Pango by every document of the process (pdf_text_bytes). */
static atomic_ullong shaped_bytes;

size_t pdf_text_bytes(void) { return (size_t)atomic_load(&shaped_bytes); }

/* Fonts at exit. Each thread that draws gets its own Pango font map, which
 * Pango frees when the thread ends; what stays is the font map of a thread
 * still running at exit (the main thread's, in tests) and fontconfig's
 * configuration, which the sanitizer run reports as leaks. At exit, when no
 * document is being drawn, both are released; when one is (exit() called
 * while a worker draws), nothing is, as freeing fonts under it could crash
 * the exit. */
static atomic_int drawing;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void release_fonts(void) {
  if (atomic_load(&drawing)) return;
  pango_cairo_font_map_set_default(NULL); /* this thread's */
  FcFini();
}

static void register_release(void) { atexit(release_fonts); }

static cairo_status_t write_out(void *closure, const unsigned char *data,
                                unsigned int length) {
  buf *b = closure;
  return buf_append(b, data, length) ? CAIRO_STATUS_WRITE_ERROR
                                     : CAIRO_STATUS_SUCCESS;
}

static void doc_free(pdf_doc *p) {
  if (!p) return;
  atomic_fetch_sub(&drawing, 1);
  if (p->font) pango_font_description_free(p->font);
  for (int i = 0; i < PDF_MAX_CELLS; i++)
    if (p->cells[i]) g_object_unref(p->cells[i]);
  if (p->layout) g_object_unref(p->layout);
  if (p->cr) cairo_destroy(p->cr);
  if (p->surface) cairo_surface_destroy(p->surface);
  free(p->text);
  free(p);
}


pdf_doc *pdf_begin(buf *out, const char *title) {
  pthread_once(&exit_once, register_release);
  pdf_doc *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  atomic_fetch_add(&drawing, 1);
  p->out = out;
  p->surface =
      cairo_pdf_surface_create_for_stream(write_out, out, PDF_A4_W, PDF_A4_H);
  if (cairo_surface_status(p->surface) != CAIRO_STATUS_SUCCESS) goto fail;
  if (title)
    cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_TITLE,
                                   title);
  cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_CREATOR,
                                 "munshi");
  p->cr = cairo_create(p->surface);
  if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) goto fail;
  /* pango_cairo_create_layout uses this thread's default font map. */
  p->layout = pango_cairo_create_layout(p->cr);
  if (!p->layout) goto fail;
  cairo_font_options_t *fo = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
  PangoContext *ctx = pango_layout_get_context(p->layout);
  pango_cairo_context_set_font_options(ctx, fo);
  /* Pango rounds glyph positions to whole device units (here points) by
   * default, for screens; then nearly every glyph's advance differs from
   * the font's, and cairo writes a kerning number between every two glyphs
   * of the PDF's text. Unrounded, the text is set as the font's metrics
   * say, and a word is one string. */
  pango_context_set_round_glyph_positions(ctx, FALSE);
  cairo_font_options_destroy(fo);
  pango_layout_context_changed(p->layout);
  pango_layout_set_wrap(p->layout, PANGO_WRAP_WORD_CHAR);
  p->font = pango_font_description_from_string(PDF_FAMILIES);
  pdf_font(p, 9, 0);
  pdf_gray(p, 0);
  return p;
fail:
  doc_free(p);
  return NULL;
}

int pdf_end(pdf_doc *p, char *why, size_t whylen) {
  if (!p) {
    snprintf(why, whylen, "no document");
    return -1;
  }
  /* The layout and context first: finishing the surface writes the fonts
   * and the trailer. */
  for (int i = 0; i < PDF_MAX_CELLS; i++)
    if (p->cells[i]) g_object_unref(p->cells[i]);
  memset(p->cells, 0, sizeof p->cells);
  g_object_unref(p->layout);
  p->layout = NULL;
  cairo_destroy(p->cr);
  p->cr = NULL;
  cairo_surface_finish(p->surface);
  cairo_status_t st = cairo_surface_status(p->surface);
  doc_free(p);
  if (st != CAIRO_STATUS_SUCCESS) {
    snprintf(why, whylen, "the PDF could not be written: %s",
             cairo_status_to_string(st));
    return -1;
  }
  return 0;
}

void pdf_abort(pdf_doc *p) { doc_free(p); }

void pdf_font(pdf_doc *p, double size, int bold) {
  pango_font_description_set_absolute_size(p->font, size * PANGO_SCALE);
  pango_font_description_set_weight(p->font, bold ? PANGO_WEIGHT_BOLD
                                                  : PANGO_WEIGHT_NORMAL);
  pango_layout_set_font_description(p->layout, p->font);
}

void pdf_gray(pdf_doc *p, double level) {
  cairo_set_source_rgb(p->cr, level, level, level);
}

/* Sets s in l, w wide. At most max bytes of s are shaped (cut at a code
 * point, with an ellipsis): Pango's cost of wrapping one long unbroken
 * text grows faster than its length (it shapes what is left again at each
 * break), so a 1,000-character product name in a narrow column cost
 * milliseconds per row, and 500 such rows seconds. Bidi overrides and
 * control characters are dropped (biz_text_clean), so an address cannot
 * print reversed. */
static void layout_text(pdf_doc *p, PangoLayout *l, double w,
                        pdf_align align, const char *s, size_t max) {
  pango_layout_set_width(l, (int)(w * PANGO_SCALE));
  pango_layout_set_alignment(l, align == PDF_CENTER  ? PANGO_ALIGN_CENTER
                                : align == PDF_RIGHT ? PANGO_ALIGN_RIGHT
                                                     : PANGO_ALIGN_LEFT);
  size_t n = s ? strlen(s) : 0;
  int cut = 0;
  if (n > max) {
    n = max;
    while (n && ((unsigned char)s[n] & 0xc0) == 0x80) n--;
    cut = 1;
  }
  if (p->text_cap < n + 4) {
    free(p->text);
    p->text_cap = n + 4 > 256 ? n + 4 : 256;
    p->text = xmalloc(p->text_cap);
  }
  size_t m = biz_text_clean(p->text, s ? s : "", n, 1);
  if (cut) {
    memcpy(p->text + m, "\xe2\x80\xa6", 4); /* U+2026 and the NUL */
    m += 3;
  }
  atomic_fetch_add(&shaped_bytes, m);
  /* Pango wants valid UTF-8 (it warns and draws boxes otherwise); the
   * database's text is, and a caller's invalid bytes show as boxes. */
  pango_layout_set_text(l, p->text, (int)m);
}

static void set_text(pdf_doc *p, double w, pdf_align align, const char *s) {
  layout_text(p, p->layout, w, align, s, PDF_TEXT_MAX);
}

double pdf_cells_set(pdf_doc *p, int n, const double *w,
                     const pdf_align *align, const char *const *texts) {
  double h = 0;
  for (int i = 0; i < n && i < PDF_MAX_CELLS; i++) {
    if (!p->cells[i]) {
      /* Same context as the main layout: same font options and map. */
      p->cells[i] = pango_layout_new(pango_layout_get_context(p->layout));
      pango_layout_set_wrap(p->cells[i], PANGO_WRAP_WORD_CHAR);
    }
    pango_layout_set_font_description(p->cells[i], p->font);
    layout_text(p, p->cells[i], w[i], align[i], texts[i], PDF_CELL_MAX);
    int lw, lh;
    pango_layout_get_size(p->cells[i], &lw, &lh);
    if ((double)lh / PANGO_SCALE > h) h = (double)lh / PANGO_SCALE;
  }
  return h;
}

void pdf_cells_draw(pdf_doc *p, int n, const double *x, double y) {
  for (int i = 0; i < n && i < PDF_MAX_CELLS; i++) {
    cairo_move_to(p->cr, x[i], y);
    pango_cairo_show_layout(p->cr, p->cells[i]);
  }
}

double pdf_text(pdf_doc *p, double x, double y, double w, pdf_align align,
                const char *utf8) {
  set_text(p, w, align, utf8);
  cairo_move_to(p->cr, x, y);
  pango_cairo_show_layout(p->cr, p->layout);
  int lw, lh;
  pango_layout_get_size(p->layout, &lw, &lh);
  return (double)lh / PANGO_SCALE;
}

double pdf_text_height(pdf_doc *p, double w, const char *utf8) {
  set_text(p, w, PDF_LEFT, utf8);
  int lw, lh;
  pango_layout_get_size(p->layout, &lw, &lh);
  return (double)lh / PANGO_SCALE;
}

void pdf_line(pdf_doc *p, double x1, double y1, double x2, double y2,
              double width) {
  cairo_set_line_width(p->cr, width);
  cairo_move_to(p->cr, x1, y1);
  cairo_line_to(p->cr, x2, y2);
  cairo_stroke(p->cr);
}

void pdf_rect(pdf_doc *p, double x, double y, double w, double h, int fill) {
  cairo_rectangle(p->cr, x, y, w, h);
  if (fill) {
    cairo_fill(p->cr);
  } else {
    cairo_set_line_width(p->cr, 0.6);
    cairo_stroke(p->cr);
  }
}

void pdf_page(pdf_doc *p) { cairo_show_page(p->cr); }

/* The quiet zone the QR specification asks for around the symbol. */
#define QR_QUIET 4

static QRcode *qr_encode(const char *text) {
  if (!text || !*text) return NULL;
  return QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
}

/* The dark modules of q as rectangles, calling fn(cls, col, row, w, h) in
 * module units: a run of dark modules in a row is one rectangle, extended
 * downwards over the rows below that hold exactly the same run. About half
 * as many rectangles as runs, and each costs the PDF writer a few
 * microseconds. -1 when out of memory. */
static int qr_rects(const QRcode *q, void (*fn)(void *, int, int, int, int),
                    void *cls) {
  int n = q->width;
  const unsigned char *d = q->data;
  unsigned char *taken = calloc((size_t)n * (size_t)n, 1);
  if (!taken) return -1;
#define DARK(r, c) (d[(r) * n + (c)] & 1)
#define FREE(r, c) (DARK(r, c) && !taken[(r) * n + (c)])
  for (int r = 0; r < n; r++) {
    for (int c = 0; c < n;) {
      if (!FREE(r, c)) {
        c++;
        continue;
      }
      int c0 = c;
      while (c < n && FREE(r, c)) c++;
      int r1 = r + 1;
      for (; r1 < n; r1++) {
        int same = !(c0 > 0 && DARK(r1, c0 - 1)) && !(c < n && DARK(r1, c));
        for (int k = c0; same && k < c; k++) same = FREE(r1, k);
        if (!same) break;
        memset(taken + r1 * n + c0, 1, (size_t)(c - c0));
      }
      fn(cls, c0, r, c - c0, r1 - r);
    }
  }
#undef DARK
#undef FREE
  free(taken);
  return 0;
}

/* Runs of dark modules along rows (vertical 0) or columns (vertical 1):
 * their count, and each one to fn(cls, along, start, length) when fn is
 * not NULL. */
static int qr_runs(const QRcode *q, int vertical,
                   void (*fn)(void *, int, int, int), void *cls) {
  int n = q->width, count = 0;
#define DARKV(a, b) (q->data[vertical ? (b) * n + (a) : (a) * n + (b)] & 1)
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n;) {
      if (!DARKV(a, b)) {
        b++;
        continue;
      }
      int b0 = b;
      while (b < n && DARKV(a, b)) b++;
      count++;
      if (fn) fn(cls, a, b0, b - b0);
    }
#undef DARKV
  return count;
}

typedef struct qr_pdf {
  cairo_t *cr;
  double x, y, m;
  int vertical;
} qr_pdf;

/* A run as a line one module thick through the middle of its modules,
 * with butt caps: exactly the modules' squares. Four numbers in the PDF
 * where a rectangle path takes eight to ten, and the PDF writer's cost is
 * per number. */
static void qr_pdf_run(void *cls, int along, int start, int len) {
  qr_pdf *q = cls;
  double a = (QR_QUIET + along + 0.5) * q->m, b = (QR_QUIET + start) * q->m;
  if (q->vertical) {
    cairo_move_to(q->cr, q->x + a, q->y + b);
    cairo_rel_line_to(q->cr, 0, len * q->m);
  } else {
    cairo_move_to(q->cr, q->x + b, q->y + a);
    cairo_rel_line_to(q->cr, len * q->m, 0);
  }
}

int pdf_qr(pdf_doc *p, double x, double y, double size, const char *text) {
  QRcode *q = qr_encode(text);
  if (!q) return -1;
  qr_pdf ctx = {p->cr, x, y, size / (q->width + 2 * QR_QUIET), 0};
  /* Rows or columns, whichever have fewer runs. */
  ctx.vertical = qr_runs(q, 1, NULL, NULL) < qr_runs(q, 0, NULL, NULL);
  cairo_save(p->cr);
  cairo_set_source_rgb(p->cr, 1, 1, 1);
  cairo_rectangle(p->cr, x, y, size, size);
  cairo_fill(p->cr);
  cairo_set_source_rgb(p->cr, 0, 0, 0);
  cairo_set_line_width(p->cr, ctx.m);
  cairo_set_line_cap(p->cr, CAIRO_LINE_CAP_BUTT);
  qr_runs(q, ctx.vertical, qr_pdf_run, &ctx);
  cairo_stroke(p->cr);
  cairo_restore(p->cr);
  QRcode_free(q);
  return 0;
}

typedef struct qr_svg {
  buf *out;
  int rc;
} qr_svg;

static void qr_svg_rect(void *cls, int c, int r, int w, int h) {
  qr_svg *q = cls;
  q->rc |= buf_printf(q->out, "M%d %dh%dv%dh-%dz", QR_QUIET + c, QR_QUIET + r,
                      w, h, w);
}

int pdf_qr_svg(buf *out, const char *text) {
  QRcode *q = qr_encode(text);
  if (!q) return -1;
  int side = q->width + 2 * QR_QUIET;
  qr_svg ctx = {out, 0};
  ctx.rc |= buf_printf(out,
                       "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "
                       "%d %d\" shape-rendering=\"crispEdges\"><rect width=\"%d\" "
                       "height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                       side, side, side, side);
  ctx.rc |= qr_rects(q, qr_svg_rect, &ctx);
  ctx.rc |= buf_puts(out, "\"/></svg>");
  QRcode_free(q);
  return ctx.rc ? -1 : 0;
}
