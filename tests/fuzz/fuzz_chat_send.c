/* fuzz_chat_send.c - libFuzzer target for what the outbox reads and builds
 * for documents (chat/send.c): a message row's document metadata, the
 * WhatsApp media upload's answer, and the multipart bodies.
 *
 * The first byte picks the part; the rest is its input:
 *   0  metadata of a "document" row: refused with a reason, or a document
 *      by link (http/https) or by source (1..32 of [a-z0-9_], a ref of
 *      printable bytes, a filename without '/', '\', '"' or controls);
 *      a source document with the input as its bytes then uploads as a
 *      multipart body holding those bytes exactly once after its headers;
 *   1  a media upload's answer: sent with a non-empty id, retried, or
 *      failed with a code;
 *   2  a multipart part of arbitrary bytes with a fixed boundary: built
 *      only when the boundary is not in the data, and then the part's
 *      bytes sit between the blank line and the closing CRLF.
 * A violated property aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "chat/send.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_chat_send: %s\n", what);
    abort();
  }
}

static const chat_send_target WA = {CHAT_WHATSAPP, "https://graph.example/v21.0",
                                    "1234567890", "EAAtoken", NULL, "919876543210"};

static void metadata(arena *a, const char *s, size_t n) {
  char *meta = arena_strndup(a, s, n);
  chat_message m;
  char why[256] = "";
  if (chat_message_from_row(a, "document", "caption", meta, &m, why, sizeof why)) {
    check(why[0] != 0, "refused without a reason");
    return;
  }
  check(m.kind == CHAT_MSG_DOCUMENT, "a document row read as another kind");
  if (!m.doc_source) {
    check(m.doc_link && (!strncmp(m.doc_link, "https://", 8) || !strncmp(m.doc_link, "http://", 7)),
          "a document without an http(s) link or a source");
    return;
  }
  size_t sl = strlen(m.doc_source);
  check(sl >= 1 && sl <= 32 && strspn(m.doc_source, "abcdefghijklmnopqrstuvwxyz0123456789_") == sl,
        "a bad source accepted");
  check(m.doc_ref && *m.doc_ref && strlen(m.doc_ref) <= 128, "a bad ref accepted");
  if (m.doc_filename)
    for (const char *p = m.doc_filename; *p; p++)
      check((unsigned char)*p >= 0x20 && *p != '/' && *p != '\\' && *p != '"',
            "a bad filename accepted");
  chat_http h;
  if (n == 0 || chat_media_build(a, &WA, m.doc_filename, "application/pdf", s, n, &h,
                                 why, sizeof why))
    return;
  const char *end = h.body + h.body_len, *hit = NULL;
  for (const char *p = h.body; p + n <= end && !hit; p++)
    if (!memcmp(p, s, n) && p >= h.body + 4 && !memcmp(p - 4, "\r\n\r\n", 4)) hit = p;
  check(hit != NULL, "the file's bytes are not in the upload");
}

static void media_answer(const char *s, size_t n) {
  chat_send_result r;
  chat_media_parse(200 + (long)(n % 400), s, n, n % 3 ? "5" : NULL, &r);
  if (r.outcome == CHAT_SEND_SENT)
    check(r.provider_id[0] != 0, "sent without a media id");
  else
    check(r.code[0] != 0, "failed without a code");
}

static void multipart(const char *s, size_t n) {
  buf b;
  buf_init(&b, n + 1024);
  chat_part p = {"file", "x.pdf", "application/pdf", s, n};
  int rc = chat_multipart_build(&b, "fz-boundary", &p, 1);
  int clash = 0;
  for (size_t i = 0; i + 11 <= n && !clash; i++) clash = !memcmp(s + i, "fz-boundary", 11);
  check(rc == (clash ? -1 : 0), "a boundary clash not refused, or a clean part refused");
  if (rc == 0) {
    const char *body = buf_cstr(&b);
    const char *blank = strstr(body, "\r\n\r\n");
    check(blank != NULL, "no blank line after the part's headers");
    blank += 4;
    check((size_t)(b.data + b.len - blank) >= n + 2 && !memcmp(blank, s, n) &&
              !memcmp(blank + n, "\r\n--fz-boundary--\r\n", 19),
          "the part's bytes are not exactly the data");
  }
  buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  arena *a = arena_new();
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  switch (data[0] % 3) {
    case 0: metadata(a, s, n); break;
    case 1: media_answer(s, n); break;
    default: multipart(s, n); break;
  }
  arena_free(a);
  return 0;
}
