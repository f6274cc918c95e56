/* test_bench_ws_client.c - the WebSocket side of the realtime load client
 * (bench/ws_client.c): frames a server sends, parsed at every length class
 * and from every split of the byte stream (as reads deliver it); what it
 * refuses (masked, reserved bits, bad control frames, long forms of short
 * lengths, over the cap); the client's masked frames; fragmented messages
 * with a ping between the fragments; the handshake's accept value (RFC 6455's
 * example); and the Phoenix fields it reads (event, ref, commit_timestamp). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ws_client.h"

/* A server frame (unmasked) of opcode and payload. */
static size_t server_frame(uint8_t *out, int fin, int op, const void *p,
                           size_t len) {
  size_t h = 0;
  out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
  if (len < 126) {
    out[h++] = (uint8_t)len;
  } else if (len <= 0xffff) {
    out[h++] = 126;
    out[h++] = (uint8_t)(len >> 8);
    out[h++] = (uint8_t)len;
  } else {
    out[h++] = 127;
    for (int i = 0; i < 8; i++) out[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  }
  memcpy(out + h, p, len);
  return h + len;
}

static void parses_each_length_form(void **state) {
  (void)state;
  size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 70000};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t len = sizes[k];
    uint8_t *p = malloc(len + 1), *f = malloc(len + 16);
    for (size_t i = 0; i < len; i++) p[i] = (uint8_t)('a' + i % 26);
    size_t n = server_frame(f, 1, WSC_TEXT, p, len);
    wsc_frame fr;
    assert_int_equal(wsc_parse(f, n, 1 << 20, &fr), (long)n);
    assert_int_equal(fr.fin, 1);
    assert_int_equal(fr.opcode, WSC_TEXT);
    assert_int_equal(fr.len, len);
    if (len) assert_memory_equal(fr.payload, p, len);
    /* Every proper prefix needs more bytes. */
    for (size_t cut = 0; cut < n; cut += (n > 300 ? 97 : 1))
      assert_int_equal(wsc_parse(f, cut, 1 << 20, &fr), 0);
    /* Over the cap: refused, not read. */
    if (len) assert_int_equal(wsc_parse(f, n, len - 1, &fr), -1);
    free(p);
    free(f);
  }
}

static void refuses_what_a_server_may_not_send(void **state) {
  (void)state;
  wsc_frame fr;
  uint8_t masked[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
  assert_int_equal(wsc_parse(masked, sizeof masked, 100, &fr), -1);
  uint8_t rsv[] = {0xC1, 0x01, 'x'};
  assert_int_equal(wsc_parse(rsv, sizeof rsv, 100, &fr), -1);
  uint8_t badop[] = {0x83, 0x00};
  assert_int_equal(wsc_parse(badop, sizeof badop, 100, &fr), -1);
  uint8_t fragping[] = {0x09, 0x00};
  assert_int_equal(wsc_parse(fragping, sizeof fragping, 100, &fr), -1);
  uint8_t longping[130] = {0x89, 126, 0, 126};
  assert_int_equal(wsc_parse(longping, sizeof longping, 1000, &fr), -1);
  uint8_t notshortest[] = {0x81, 126, 0, 5, 'a', 'b', 'c', 'd', 'e'};
  assert_int_equal(wsc_parse(notshortest, sizeof notshortest, 100, &fr), -1);
  uint8_t huge[10] = {0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(wsc_parse(huge, sizeof huge, (size_t)-1, &fr), -1);
}

static void client_frames_are_masked(void **state) {
  (void)state;
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  size_t sizes[] = {5, 126, 70000};
  for (size_t k = 0; k < 3; k++) {
    size_t len = sizes[k];
    char *p = malloc(len);
    for (size_t i = 0; i < len; i++) p[i] = (char)('A' + i % 23);
    uint8_t *out = malloc(len + 14);
    long n = wsc_encode(out, len + 14, WSC_TEXT, p, len, mask);
    size_t hdr = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    assert_int_equal(n, (long)(hdr + 4 + len));
    assert_int_equal(out[0], 0x81);
    assert_true(out[1] & 0x80);
    assert_memory_equal(out + hdr, mask, 4);
    for (size_t i = 0; i < len; i++)
      assert_int_equal(out[hdr + 4 + i] ^ mask[i & 3], (uint8_t)p[i]);
    /* The parser refuses it: a server never gets a masked frame back. */
    wsc_frame fr;
    assert_int_equal(wsc_parse(out, (size_t)n, 1 << 20, &fr), -1);
    assert_int_equal(wsc_encode(out, hdr + 3 + len, WSC_TEXT, p, len, mask), -1);
    free(out);
    free(p);
  }
  /* RFC 6455 5.7: "Hello" masked with 37 fa 21 3d. */
  uint8_t out[16];
  assert_int_equal(wsc_encode(out, sizeof out, WSC_TEXT, "Hello", 5, mask), 11);
  const uint8_t want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
  assert_memory_equal(out, want, sizeof want);
}

/* A byte stream of: text "ab" in three fragments with a ping between them,
 * then a whole text "cd", then a close. Read in chunks of every size, as a
 * socket may deliver it, the messages and the control frames come out the
 * same. */
static void reassembles_from_every_split(void **state) {
  (void)state;
  uint8_t s[128];
  size_t n = 0;
  n += server_frame(s + n, 0, WSC_TEXT, "a", 1);
  n += server_frame(s + n, 1, WSC_PING, "p", 1);
  n += server_frame(s + n, 0, WSC_CONT, "", 0);
  n += server_frame(s + n, 1, WSC_CONT, "b", 1);
  n += server_frame(s + n, 1, WSC_TEXT, "cd", 2);
  n += server_frame(s + n, 1, WSC_CLOSE, "\x03\xe8", 2);
  for (size_t chunk = 1; chunk <= n; chunk++) {
    uint8_t rb[128];
    size_t have = 0, fed = 0;
    wsc_msg m;
    wsc_msg_init(&m, 1024);
    char got[64] = "";
    int pings = 0, closes = 0;
    while (fed < n || have) {
      size_t k = n - fed < chunk ? n - fed : chunk;
      memcpy(rb + have, s + fed, k);
      have += k;
      fed += k;
      for (;;) {
        wsc_frame fr;
        long used = wsc_parse(rb, have, 1024, &fr);
        assert_true(used >= 0);
        if (!used) break;
        if (fr.opcode == WSC_PING) pings++;
        else if (fr.opcode == WSC_CLOSE) closes++;
        else if (wsc_msg_add(&m, &fr) == 1) {
          strncat(got, (const char *)m.data, m.len);
          strcat(got, "|");
        }
        memmove(rb, rb + used, have - (size_t)used);
        have -= (size_t)used;
      }
      if (fed == n) break;
    }
    assert_int_equal(have, 0);
    assert_string_equal(got, "ab|cd|");
    assert_int_equal(pings, 1);
    assert_int_equal(closes, 1);
    wsc_msg_free(&m);
  }
}

static void refuses_bad_fragment_order(void **state) {
  (void)state;
  wsc_msg m;
  wsc_msg_init(&m, 4);
  wsc_frame cont = {1, WSC_CONT, (const uint8_t *)"x", 1};
  assert_int_equal(wsc_msg_add(&m, &cont), -1);
  wsc_frame start = {0, WSC_TEXT, (const uint8_t *)"ab", 2};
  assert_int_equal(wsc_msg_add(&m, &start), 0);
  wsc_frame again = {1, WSC_TEXT, (const uint8_t *)"c", 1};
  assert_int_equal(wsc_msg_add(&m, &again), -1);
  wsc_frame big = {1, WSC_CONT, (const uint8_t *)"cde", 3};
  assert_int_equal(wsc_msg_add(&m, &big), -1); /* 5 bytes > max 4 */
  wsc_msg_free(&m);
}

static void accept_value_of_the_rfc(void **state) {
  (void)state;
  char out[29];
  wsc_accept("dGhlIHNhbXBsZSBub25jZQ==", out);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void phoenix_fields(void **state) {
  (void)state;
  char ev[32], ref[16];
  const char *reply =
      "[\"6\",\"6\",\"realtime:x\",\"phx_reply\",{\"status\":\"ok\"}]";
  assert_int_equal(wsc_phx_event(reply, strlen(reply), ev, sizeof ev, ref,
                                 sizeof ref),
                   0);
  assert_string_equal(ev, "phx_reply");
  assert_string_equal(ref, "6");
  const char *change =
      "[null, null,\"realtime:x\",\"postgres_changes\",{\"ids\":[1],\"data\":"
      "{\"schema\":\"public\",\"table\":\"customers\",\"commit_timestamp\":"
      "\"2026-08-21T10:00:00.250Z\",\"type\":\"INSERT\",\"record\":{"
      "\"full_name\":\"rt 1787306400123456\"}}}]";
  assert_int_equal(wsc_phx_event(change, strlen(change), ev, sizeof ev, ref,
                                 sizeof ref),
                   0);
  assert_string_equal(ev, "postgres_changes");
  assert_string_equal(ref, "");
  int64_t t;
  assert_int_equal(
      wsc_json_time_us(change, strlen(change), "commit_timestamp", &t), 0);
  /* 2026-08-21T10:00:00Z is 1787306400 s after the epoch. */
  assert_int_equal(t, 1787306400LL * 1000000 + 250000);
  const char *pg = "{\"commit_timestamp\":\"2026-08-21T10:00:00.123456+00:00\"}";
  assert_int_equal(wsc_json_time_us(pg, strlen(pg), "commit_timestamp", &t), 0);
  assert_int_equal(t, 1787306400LL * 1000000 + 123456);
  const char *bad = "{\"commit_timestamp\":\"2026-13-21T10:00:00Z\"}";
  assert_int_equal(wsc_json_time_us(bad, strlen(bad), "commit_timestamp", &t),
                   -1);
  assert_int_equal(wsc_json_time_us(pg, strlen(pg), "missing", &t), -1);
  assert_int_equal(wsc_find_int(change, strlen(change), "\"full_name\":\"rt ", &t),
                   0);
  assert_int_equal(t, 1787306400123456LL);
  const char *notphx = "{\"event\":\"x\"}";
  assert_int_equal(wsc_phx_event(notphx, strlen(notphx), ev, sizeof ev, ref,
                                 sizeof ref),
                   -1);
  const char *short3 = "[null,null,\"t\"]";
  assert_int_equal(wsc_phx_event(short3, strlen(short3), ev, sizeof ev, ref,
                                 sizeof ref),
                   -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_each_length_form),
      cmocka_unit_test(refuses_what_a_server_may_not_send),
      cmocka_unit_test(client_frames_are_masked),
      cmocka_unit_test(reassembles_from_every_split),
      cmocka_unit_test(refuses_bad_fragment_order),
      cmocka_unit_test(accept_value_of_the_rfc),
      cmocka_unit_test(phoenix_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
