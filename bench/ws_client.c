/* ws_client.c - RFC 6455 frames and Phoenix fields for the load client (see
 * ws_client.h). The parser is strict about what a server may send, so that
 * the benchmark also notices a server that frames wrongly. */
#include "ws_client.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

long wsc_parse(const uint8_t *data, size_t n, size_t max_len, wsc_frame *f) {
  if (n < 2) return 0;
  int fin = data[0] >> 7;
  int rsv = (data[0] >> 4) & 7;
  int op = data[0] & 0x0f;
  int masked = data[1] >> 7;
  uint64_t len = data[1] & 0x7f;
  size_t hdr = 2;
  if (rsv || masked) return -1;
  if (op != WSC_CONT && op != WSC_TEXT && op != WSC_BINARY && op != WSC_CLOSE &&
      op != WSC_PING && op != WSC_PONG)
    return -1;
  if (len == 126) {
    if (n < 4) return 0;
    len = (uint64_t)data[2] << 8 | data[3];
    if (len < 126) return -1; /* not the shortest form */
    hdr = 4;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; i++) len = len << 8 | data[2 + i];
    if (len >> 63 || len <= 0xffff) return -1;
    hdr = 10;
  }
  if (op >= WSC_CLOSE && (!fin || len > 125)) return -1;
  if (len > max_len) return -1;
  if (n - hdr < len) return 0;
  f->fin = fin;
  f->opcode = op;
  f->payload = data + hdr;
  f->len = (size_t)len;
  return (long)(hdr + len);
}

long wsc_encode(uint8_t *out, size_t cap, int opcode, const void *payload,
                size_t len, const uint8_t mask[4]) {
  size_t hdr = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
  if (cap < hdr + 4 + len) return -1;
  out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
  if (len < 126) {
    out[1] = (uint8_t)(0x80 | len);
  } else if (len <= 0xffff) {
    out[1] = 0x80 | 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
  } else {
    out[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  }
  memcpy(out + hdr, mask, 4);
  const uint8_t *p = payload;
  for (size_t i = 0; i < len; i++) out[hdr + 4 + i] = p[i] ^ mask[i & 3];
  return (long)(hdr + 4 + len);
}

void wsc_accept(const char *key, char out[29]) {
  char in[128];
  size_t kl = strlen(key);
  if (kl > sizeof in - sizeof WS_GUID) kl = sizeof in - sizeof WS_GUID;
  memcpy(in, key, kl);
  memcpy(in + kl, WS_GUID, sizeof WS_GUID - 1);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_Digest(in, kl + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen); /* 28 + NUL */
}

void wsc_msg_init(wsc_msg *m, size_t max) {
  memset(m, 0, sizeof *m);
  m->max = max;
}

void wsc_msg_free(wsc_msg *m) {
  free(m->data);
  memset(m, 0, sizeof *m);
}

int wsc_msg_add(wsc_msg *m, const wsc_frame *f) {
  if (!m->open) {
    if (f->opcode == WSC_CONT) return -1;
    m->len = 0;
    m->opcode = f->opcode;
  } else if (f->opcode != WSC_CONT) {
    return -1;
  }
  if (f->len > m->max - m->len) return -1;
  if (m->len + f->len + 1 > m->cap) {
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < m->len + f->len + 1) cap *= 2;
    uint8_t *d = realloc(m->data, cap);
    if (!d) return -1;
    m->data = d;
    m->cap = cap;
  }
  if (f->len) memcpy(m->data + m->len, f->payload, f->len);
  m->len += f->len;
  m->data[m->len] = 0;
  m->open = !f->fin;
  return f->fin ? 1 : 0;
}

/* Skips blanks; returns the new position. */
static size_t skip_ws(const char *s, size_t i, size_t n) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

/* Reads one element that is null or a string at s[i]; copies a string into
 * out (when out). Returns the position after it, or (size_t)-1. */
static size_t read_elem(const char *s, size_t i, size_t n, char *out,
                        size_t cap) {
  i = skip_ws(s, i, n);
  if (out && cap) out[0] = 0;
  if (n - i >= 4 && !memcmp(s + i, "null", 4)) return i + 4;
  if (i >= n || s[i] != '"') return (size_t)-1;
  size_t o = 0;
  for (i++; i < n; i++) {
    char c = s[i];
    if (c == '"') {
      if (out && cap) out[o < cap ? o : cap - 1] = 0;
      return i + 1;
    }
    if (c == '\\') {
      if (++i >= n) return (size_t)-1;
      c = s[i]; /* the benchmark's fields hold no escapes worth decoding */
    }
    if (out && o + 1 < cap) out[o++] = c;
  }
  return (size_t)-1;
}

int wsc_phx_event(const char *msg, size_t len, char *event, size_t event_cap,
                  char *ref, size_t ref_cap) {
  size_t i = skip_ws(msg, 0, len);
  if (i >= len || msg[i] != '[') return -1;
  i++;
  for (int k = 0; k < 4; k++) {
    char *o = k == 1 ? ref : k == 3 ? event : NULL;
    size_t cap = k == 1 ? ref_cap : k == 3 ? event_cap : 0;
    i = read_elem(msg, i, len, o, cap);
    if (i == (size_t)-1) return -1;
    i = skip_ws(msg, i, len);
    if (i >= len || msg[i] != ',') return -1;
    i++;
  }
  return 0;
}

static const char *find(const char *s, size_t n, const char *needle) {
  size_t k = strlen(needle);
  if (!k || k > n) return NULL;
  for (size_t i = 0; i + k <= n; i++)
    if (s[i] == needle[0] && !memcmp(s + i, needle, k)) return s + i;
  return NULL;
}

static int digits(const char *p, const char *end, int count, int *out) {
  if (end - p < count) return -1;
  int v = 0;
  for (int i = 0; i < count; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  *out = v;
  return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int wsc_json_time_us(const char *msg, size_t len, const char *key,
                     int64_t *out) {
  char pat[96];
  size_t kl = strlen(key);
  if (kl + 5 > sizeof pat) return -1;
  pat[0] = '"';
  memcpy(pat + 1, key, kl);
  memcpy(pat + 1 + kl, "\":\"", 4);
  const char *p = find(msg, len, pat);
  if (!p) return -1;
  p += strlen(pat);
  const char *end = msg + len;
  int y, mo, d, h, mi, s;
  if (digits(p, end, 4, &y) || end - p < 20 || p[4] != '-' ||
      digits(p + 5, end, 2, &mo) || p[7] != '-' || digits(p + 8, end, 2, &d) ||
      (p[10] != 'T' && p[10] != ' ') || digits(p + 11, end, 2, &h) ||
      p[13] != ':' || digits(p + 14, end, 2, &mi) || p[16] != ':' ||
      digits(p + 17, end, 2, &s))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return -1;
  p += 19;
  int64_t frac = 0;
  if (p < end && *p == '.') {
    int nd = 0;
    for (p++; p < end && *p >= '0' && *p <= '9'; p++, nd++)
      if (nd < 6) frac = frac * 10 + (*p - '0');
    if (!nd) return -1;
    for (; nd < 6; nd++) frac *= 10;
  }
  if (p < end && *p == 'Z') p++;
  else if (end - p >= 6 && !memcmp(p, "+00:00", 6))
    p += 6;
  else if (end - p >= 3 && !memcmp(p, "+00", 3))
    p += 3;
  else
    return -1;
  if (p >= end || *p != '"') return -1;
  *out = ((days_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000000) +
         frac;
  return 0;
}

int wsc_find_int(const char *msg, size_t len, const char *prefix,
                 int64_t *out) {
  const char *p = find(msg, len, prefix);
  if (!p) return -1;
  p += strlen(prefix);
  const char *end = msg + len;
  if (p >= end || *p < '0' || *p > '9') return -1;
  int64_t v = 0;
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    if (v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return 0;
}
