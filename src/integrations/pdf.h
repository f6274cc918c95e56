/* pdf.h - a small drawing surface for documents munshi prints: an A4 PDF
 * written into a buffer, text set with Pango (so Devanagari and other
 * complex scripts are shaped, with Noto Sans and Noto Sans Devanagari found
 * through fontconfig), lines, boxes and QR codes drawn as vector squares.
 * invoice_pdf.c lays out the GST invoice with it.
 *
 * Threads: any number of threads may each draw their own document at the
 * same time. Cairo objects are never shared between documents; Pango's
 * default font map is per thread (Pango >= 1.32.6), and fontconfig and
 * libqrencode lock their own shared state. Coordinates are PostScript
 * points (1/72 inch) from the top left of the page. */
#ifndef MUNSHI_INTEGRATIONS_PDF_H
#define MUNSHI_INTEGRATIONS_PDF_H

#include <stddef.h>

#include "base/buf.h"

#define PDF_A4_W 595.28
#define PDF_A4_H 841.89

typedef struct pdf_doc pdf_doc;

typedef enum { PDF_LEFT, PDF_CENTER, PDF_RIGHT } pdf_align;

/* Starts an A4 document whose bytes go to out (appended; out's cap bounds
 * the size: past it pdf_end fails). title goes into the PDF's metadata.
 * Returns NULL when cairo cannot start one. */
pdf_doc *pdf_begin(buf *out, const char *title);
/* Finishes the document (the bytes are complete in out afterwards) and
 * frees it. 0, or -1 with why set when cairo failed (out's cap passed). Accepts
 * NULL (-1). */
int pdf_end(pdf_doc *p, char *why, size_t whylen);
/* Frees a document without finishing it (an error path). Accepts NULL. */
void pdf_abort(pdf_doc *p);

/* The font of the texts that follow: size in points, bold or not. */
void pdf_font(pdf_doc *p, double size, int bold);
/* The colour of what follows, grey level 0 (black) .. 1 (white). */
void pdf_gray(pdf_doc *p, double level);
/* Sets utf8 in a box w points wide at (x, y) (its top left), wrapped at
 * word boundaries (or anywhere, for one long word), aligned in the box.
 * Returns the height it took. Every text drawn is cleaned first: bidi
 * embeddings, overrides, isolates and marks and control characters (but
 * newlines) are dropped (biz_text_clean), and at most PDF_TEXT_MAX bytes
 * (a table cell: PDF_CELL_MAX) are set, cut with an ellipsis, which bounds
 * the shaping work of one text and so of a row. */
#define PDF_TEXT_MAX 4000
#define PDF_CELL_MAX 300
double pdf_text(pdf_doc *p, double x, double y, double w, pdf_align align,
                const char *utf8);
/* The height pdf_text would take, drawing nothing. */
double pdf_text_height(pdf_doc *p, double w, const char *utf8);
/* A table row: up to PDF_MAX_CELLS texts, each in its own box (widths w,
 * alignments align), set in the current font. pdf_cells_set shapes them
 * once and answers the tallest height; pdf_cells_draw then draws them with
 * their boxes' left edges at x[i] and tops at y. Shaping is most of a text's
 * cost, so a row measured before it is drawn (to break the page) is not
 * shaped twice. */
#define PDF_MAX_CELLS 16
double pdf_cells_set(pdf_doc *p, int n, const double *w,
                     const pdf_align *align, const char *const *texts);
void pdf_cells_draw(pdf_doc *p, int n, const double *x, double y);
/* The bytes of text handed to Pango so far by all documents (cleaned and
 * cut): a measure of the shaping work, for tests. */
size_t pdf_text_bytes(void);
/* A line from (x1, y1) to (x2, y2), width points thick. */
void pdf_line(pdf_doc *p, double x1, double y1, double x2, double y2,
              double width);
/* A rectangle, filled with the current grey (fill) or outlined. */
void pdf_rect(pdf_doc *p, double x, double y, double w, double h, int fill);
/* Starts a new page. */
void pdf_page(pdf_doc *p);

/* The QR code of text (byte mode, error correction M), drawn as black
 * squares in a size x size square at (x, y), with its quiet zone inside
 * that square. 0, or -1 when text cannot be encoded (too long). */
int pdf_qr(pdf_doc *p, double x, double y, double size, const char *text);
/* The same QR code as an SVG document (a path of unit squares in a
 * viewBox with a four-module quiet zone), appended to out. 0 or -1. */
int pdf_qr_svg(buf *out, const char *text);

#endif
