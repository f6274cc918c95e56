/* ws_client.h - the WebSocket client side that bench/rtload.c needs, kept
 * apart so tests/unit/test_bench_ws_client.c can check it: RFC 6455 frames
 * (a client masks what it sends; a server must not mask), the reassembly of
 * fragmented messages, the opening handshake's accept value, and the few
 * fields rtload reads from Phoenix frames (v2 arrays, vsn=2.0.0). No
 * allocation but the message buffer; no I/O. */
#ifndef MUNSHI_BENCH_WS_CLIENT_H
#define MUNSHI_BENCH_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

enum {
  WSC_CONT = 0x0,
  WSC_TEXT = 0x1,
  WSC_BINARY = 0x2,
  WSC_CLOSE = 0x8,
  WSC_PING = 0x9,
  WSC_PONG = 0xA
};

typedef struct wsc_frame {
  int fin;
  int opcode;
  const uint8_t *payload; /* into the parsed bytes */
  size_t len;
} wsc_frame;

/* Parses one server frame from data[0..n). Returns the bytes it takes (>0),
 * 0 when more bytes are needed, -1 when it is not a valid server frame
 * (masked, reserved bits set, unknown opcode, a control frame fragmented
 * or over 125 bytes, a payload over max_len). */
long wsc_parse(const uint8_t *data, size_t n, size_t max_len, wsc_frame *f);

/* Writes a final client frame of opcode with payload, masked with mask,
 * into out (cap bytes). Returns its length, or -1 when cap is too small. */
long wsc_encode(uint8_t *out, size_t cap, int opcode, const void *payload,
                size_t len, const uint8_t mask[4]);

/* Sec-WebSocket-Accept for key: base64(SHA-1(key + the RFC's GUID)). */
void wsc_accept(const char *key, char out[29]);

/* A data message being reassembled from its frames. */
typedef struct wsc_msg {
  uint8_t *data;
  size_t len, cap, max;
  int opcode; /* WSC_TEXT or WSC_BINARY once started */
  int open;   /* a fragmented message is in progress */
} wsc_msg;

void wsc_msg_init(wsc_msg *m, size_t max);
void wsc_msg_free(wsc_msg *m);
/* Adds a data frame (not a control frame). Returns 1 when a message is
 * complete (data/len/opcode; it is reset by the next call), 0 when more
 * frames are due, -1 on a protocol error (a continuation with no message,
 * a new message inside one, over max). */
int wsc_msg_add(wsc_msg *m, const wsc_frame *f);

/* The event (4th element) of a Phoenix v2 frame [join_ref, ref, topic,
 * event, payload]: copied into out (NUL-terminated); also the ref (2nd,
 * "" when null). 0, or -1 when the text is not such a frame. */
int wsc_phx_event(const char *msg, size_t len, char *event, size_t event_cap,
                  char *ref, size_t ref_cap);

/* The microseconds since the epoch of the ISO 8601 UTC time in the string
 * value of "key" (e.g. "commit_timestamp":"2026-12-01T10:00:00.123Z" or
 * "…+00:00"), searched in msg. 0, or -1 when absent or malformed. */
int wsc_json_time_us(const char *msg, size_t len, const char *key,
                     int64_t *out);

/* The integer after prefix in msg (e.g. prefix "\"full_name\":\"rt " and
 * the writer's clock after it). 0, or -1 when absent. */
int wsc_find_int(const char *msg, size_t len, const char *prefix,
                 int64_t *out);

#endif
