/* rtload.c - the realtime load client of bench/realtime.sh.
 *
 * One thread, one epoll loop. It opens N WebSockets to
 * /realtime/v1/websocket (vsn 2.0.0, as supabase-js does), spread over the
 * tenants whose access tokens it is given (socket i belongs to tenant
 * i % tenants), and joins on each a channel with one postgres_changes
 * binding: every change of the customers table. Once every socket has
 * joined it either holds them idle (rate 0: the memory measurement) or
 * writes: W keep-alive HTTP connections POST customers for the tenants in
 * turn at R rows/s in all, each row's full_name stamped with the writer's
 * clock ("rt <µs>"). Each change must reach every socket of its tenant and
 * no other (the server checks each socket's token against each row).
 *
 * It reports, on one RESULT line: the deliveries counted and expected
 * (the writes answered 2xx times the sockets of their tenant),
 * deliveries/s (from the first write to the last delivery), and the
 * percentiles of the latency from the commit (the event's
 * commit_timestamp) and from the write being sent (the stamp) to the
 * event's arrival. Same machine, same clock. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ws_client.h"

#define MAX_MSG (1 << 20)
#define HEARTBEAT_US (25 * 1000000LL)
#define MAX_TENANTS 1024
#define MAX_SAMPLES (20 * 1000 * 1000)

enum { K_WS, K_HTTP };
enum { S_CONNECTING, S_HANDSHAKE, S_JOINING, S_JOINED, S_CLOSED };

typedef struct conn {
  int fd, kind, state, tenant, idx;
  uint8_t *rb;
  size_t rlen, rcap;
  uint8_t *wb;
  size_t wlen, woff, wcap;
  int want_out;
  wsc_msg msg;
  char key[32];
  int64_t next_hb;
  int hb;
  /* HTTP writers */
  int busy;
  int64_t sent_us;
} conn;

static struct {
  const char *host;
  int port;
  const char *apikey;
  char *tokens[MAX_TENANTS];
  int ntokens;
  int sockets, writers, max_handshakes;
  double rate;
  double duration, drain, hold;
  const char *ready_file;
  int verbose;
} opt = {"127.0.0.1", 0, NULL, {0}, 0, 1000, 8, 50, 0, 10, 10, 0, NULL, 0};

static struct {
  int epfd;
  int started, handshaking, joined, failed, closed_early, join_errors;
  int joined_per[MAX_TENANTS];
  long long writes_sent, writes_ok, writes_bad, writes_skipped;
  long long ok_per[MAX_TENANTS];
  long long delivered, system_errors, other_events, bad_frames;
  int64_t first_write_us, last_delivery_us;
  int32_t *commit_lat, *write_lat, *http_lat;
  size_t ncommit, nwrite, nhttp;
  long long unparsed_ts;
  uint64_t phone_seq;
  int phone_salt;
  /* In every topic: a channel of an earlier run that rejoined within the
   * server's window would be sent what it missed (a reconnect). */
  int run_id;
} g;

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *msg) {
  fprintf(stderr, "rtload: %s\n", msg);
  exit(2);
}

static int int_arg(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < 0 || v > 10000000) die("a number argument is out of range");
  return (int)v;
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n);
  if (!p) die("out of memory");
  return p;
}

static void sample(int32_t **arr, size_t *n, int64_t v) {
  if (*n >= MAX_SAMPLES) return;
  if (!*arr) *arr = xrealloc(NULL, MAX_SAMPLES * sizeof **arr);
  if (v < 0) v = 0;
  if (v > INT32_MAX) v = INT32_MAX;
  (*arr)[(*n)++] = (int32_t)v;
}

static void out_append(conn *c, const void *p, size_t n) {
  if (c->wlen + n > c->wcap) {
    size_t cap = c->wcap ? c->wcap : 1024;
    while (cap < c->wlen + n) cap *= 2;
    c->wb = xrealloc(c->wb, cap);
    c->wcap = cap;
  }
  memcpy(c->wb + c->wlen, p, n);
  c->wlen += n;
}

static void set_events(conn *c, int out) {
  if (c->want_out == out) return;
  c->want_out = out;
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(conn *c) {
  if (c->state == S_CLOSED) return;
  if (c->kind == K_WS) {
    if (c->state == S_JOINED) {
      g.joined--;
      g.joined_per[c->tenant]--;
      g.closed_early++;
    } else {
      if (c->state == S_HANDSHAKE || c->state == S_CONNECTING) g.handshaking--;
      g.failed++;
    }
  }
  epoll_ctl(g.epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = S_CLOSED;
}

static void flush_out(conn *c) {
  while (c->woff < c->wlen) {
    ssize_t k = send(c->fd, c->wb + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      conn_close(c);
      return;
    }
    c->woff += (size_t)k;
  }
  if (c->woff == c->wlen) c->woff = c->wlen = 0;
  set_events(c, c->wlen > 0);
}

static void ws_send_text(conn *c, const char *text, size_t len) {
  uint8_t mask[4];
  uint32_t r = (uint32_t)rand();
  memcpy(mask, &r, 4);
  size_t cap = len + 14;
  uint8_t *f = xrealloc(NULL, cap);
  long n = wsc_encode(f, cap, WSC_TEXT, text, len, mask);
  out_append(c, f, (size_t)n);
  free(f);
  flush_out(c);
}

static void ws_send_ctrl(conn *c, int op, const uint8_t *p, size_t len) {
  uint8_t f[140], mask[4] = {1, 2, 3, 4};
  long n = wsc_encode(f, sizeof f, op, p, len, mask);
  if (n > 0) out_append(c, f, (size_t)n);
  flush_out(c);
}

static int tcp_connect(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
  if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1) die("--host must be an IPv4 address");
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

static void b64(const uint8_t *in, size_t n, char *out) {
  static const char t[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                 (i + 2 < n ? in[i + 2] : 0);
    out[o++] = t[v >> 18 & 63];
    out[o++] = t[v >> 12 & 63];
    out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? t[v & 63] : '=';
  }
  out[o] = 0;
}

static void ws_start(conn *c) {
  c->fd = tcp_connect();
  if (c->fd < 0) {
    c->state = S_CLOSED;
    g.failed++;
    return;
  }
  c->state = S_CONNECTING;
  g.handshaking++;
  uint8_t raw[16];
  for (int i = 0; i < 16; i++) raw[i] = (uint8_t)rand();
  b64(raw, 16, c->key);
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET /realtime/v1/websocket?apikey=%s&vsn=2.0.0 HTTP/1.1\r\n"
                   "Host: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   opt.apikey, opt.host, opt.port, c->key);
  out_append(c, req, (size_t)n);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  c->want_out = 1;
  epoll_ctl(g.epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void ws_join(conn *c) {
  char *m = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&m, &len);
  fprintf(f,
          "[\"1\",\"1\",\"realtime:rt%d_%d\",\"phx_join\",{\"config\":{\"broadcast\":"
          "{\"ack\":false,\"self\":false},\"presence\":{\"key\":\"\",\"enabled\":"
          "false},\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\","
          "\"table\":\"customers\"}],\"private\":false},\"access_token\":\"%s\"}]",
          g.run_id, c->idx, opt.tokens[c->tenant]);
  fclose(f);
  ws_send_text(c, m, len);
  free(m);
  c->state = S_JOINING;
}

static const char *find_ci(const char *s, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (!strncasecmp(s + i, needle, k)) return s + i;
  return NULL;
}

static void on_message(conn *c, const char *m, size_t len) {
  char ev[40], ref[24];
  if (wsc_phx_event(m, len, ev, sizeof ev, ref, sizeof ref)) {
    g.bad_frames++;
    return;
  }
  if (!strcmp(ev, "postgres_changes")) {
    int64_t t = now_us(), ts;
    g.delivered++;
    g.last_delivery_us = t;
    if (!wsc_json_time_us(m, len, "commit_timestamp", &ts))
      sample(&g.commit_lat, &g.ncommit, t - ts);
    else
      g.unparsed_ts++;
    if (!wsc_find_int(m, len, "\"full_name\":\"rt ", &ts))
      sample(&g.write_lat, &g.nwrite, t - ts);
    return;
  }
  if (!strcmp(ev, "phx_reply")) {
    if (c->state == S_JOINING && !strcmp(ref, "1")) {
      if (strstr(m, "\"status\":\"ok\"")) {
        c->state = S_JOINED;
        g.joined++;
        g.joined_per[c->tenant]++;
      } else {
        if (g.join_errors++ < 3) fprintf(stderr, "rtload: join refused: %.*s\n", (int)(len > 400 ? 400 : len), m);
      }
    }
    return;
  }
  if (!strcmp(ev, "system")) {
    if (strstr(m, "\"status\":\"error\"")) {
      if (g.system_errors++ < 3) fprintf(stderr, "rtload: system error: %.*s\n", (int)(len > 400 ? 400 : len), m);
    }
    return;
  }
  g.other_events++;
  if (opt.verbose) fprintf(stderr, "rtload: %.*s\n", (int)(len > 300 ? 300 : len), m);
}

static void ws_readable(conn *c) {
  for (;;) {
    if (c->rcap - c->rlen < 65536) {
      c->rcap = c->rcap ? c->rcap * 2 : 131072;
      c->rb = xrealloc(c->rb, c->rcap);
    }
    ssize_t k = recv(c->fd, c->rb + c->rlen, c->rcap - c->rlen - 1, 0);
    if (k == 0) {
      conn_close(c);
      return;
    }
    if (k < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) conn_close(c);
      break;
    }
    c->rlen += (size_t)k;
    if ((size_t)k < 65536) break;
  }
  if (c->state == S_CLOSED) return;
  size_t off = 0;
  if (c->state == S_HANDSHAKE || c->state == S_CONNECTING) {
    c->rb[c->rlen] = 0;
    char *end = strstr((char *)c->rb, "\r\n\r\n");
    if (!end) {
      if (c->rlen > 8192) conn_close(c);
      return;
    }
    size_t hl = (size_t)(end + 4 - (char *)c->rb);
    char want[29];
    wsc_accept(c->key, want);
    const char *acc = find_ci((char *)c->rb, hl, "sec-websocket-accept:");
    int ok = !strncmp((char *)c->rb, "HTTP/1.1 101", 12) && acc;
    if (ok) {
      acc += strlen("sec-websocket-accept:");
      while (*acc == ' ') acc++;
      ok = !strncmp(acc, want, 28);
    }
    if (!ok) {
      if (g.failed < 3)
        fprintf(stderr, "rtload: handshake refused: %.*s\n", (int)(hl > 300 ? 300 : hl), (char *)c->rb);
      conn_close(c);
      return;
    }
    g.handshaking--;
    off = hl;
    wsc_msg_init(&c->msg, MAX_MSG);
    ws_join(c);
    if (c->state == S_CLOSED) return;
  }
  while (off < c->rlen) {
    wsc_frame f;
    long used = wsc_parse(c->rb + off, c->rlen - off, MAX_MSG, &f);
    if (used < 0) {
      g.bad_frames++;
      conn_close(c);
      return;
    }
    if (!used) break;
    off += (size_t)used;
    if (f.opcode == WSC_PING) {
      ws_send_ctrl(c, WSC_PONG, f.payload, f.len);
    } else if (f.opcode == WSC_PONG) {
    } else if (f.opcode == WSC_CLOSE) {
      ws_send_ctrl(c, WSC_CLOSE, f.payload, f.len < 2 ? f.len : 2);
      conn_close(c);
      return;
    } else {
      int r = wsc_msg_add(&c->msg, &f);
      if (r < 0) {
        g.bad_frames++;
        conn_close(c);
        return;
      }
      if (r == 1) on_message(c, (const char *)c->msg.data, c->msg.len);
    }
    if (c->state == S_CLOSED) return;
  }
  memmove(c->rb, c->rb + off, c->rlen - off);
  c->rlen -= off;
}

/* ---- writers ------------------------------------------------------------ */

static int next_tenant;

static void http_send(conn *c) {
  int t = next_tenant++ % opt.ntokens;
  c->tenant = t;
  char body[160];
  int64_t t0 = now_us();
  int bl = snprintf(body, sizeof body,
                    "{\"full_name\":\"rt %lld\",\"phone_number\":\"+6%03d%08llu\","
                    "\"state_code\":\"27\"}",
                    (long long)t0, g.phone_salt, (unsigned long long)(g.phone_seq++ % 100000000ULL));
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "POST /rest/v1/customers HTTP/1.1\r\nHost: %s:%d\r\napikey: %s\r\n"
                   "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                   "Prefer: return=minimal\r\nContent-Length: %d\r\n\r\n%s",
                   opt.host, opt.port, opt.apikey, opt.tokens[t], bl, body);
  if (n <= 0 || (size_t)n >= sizeof req) die("write request too long");
  c->busy = 1;
  c->sent_us = t0;
  if (!g.first_write_us) g.first_write_us = t0;
  g.writes_sent++;
  out_append(c, req, (size_t)n);
  flush_out(c);
}

static void http_readable(conn *c) {
  for (;;) {
    if (c->rcap - c->rlen < 4096) {
      c->rcap = c->rcap ? c->rcap * 2 : 16384;
      c->rb = xrealloc(c->rb, c->rcap);
    }
    ssize_t k = recv(c->fd, c->rb + c->rlen, c->rcap - c->rlen - 1, 0);
    if (k == 0) {
      conn_close(c);
      return;
    }
    if (k < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) conn_close(c);
      break;
    }
    c->rlen += (size_t)k;
  }
  if (c->state == S_CLOSED) return;
  for (;;) {
    c->rb[c->rlen] = 0;
    char *end = strstr((char *)c->rb, "\r\n\r\n");
    if (!end) return;
    size_t hl = (size_t)(end + 4 - (char *)c->rb);
    size_t cl = 0;
    const char *h = find_ci((char *)c->rb, hl, "\r\ncontent-length:");
    if (h) cl = (size_t)strtoull(h + 17, NULL, 10);
    if (c->rlen < hl + cl) return;
    int status = (int)strtol((char *)c->rb + 9, NULL, 10);
    if (status >= 200 && status < 300) {
      g.writes_ok++;
      g.ok_per[c->tenant]++;
    } else {
      if (g.writes_bad++ < 3)
        fprintf(stderr, "rtload: write answered %.*s\n", (int)((hl + cl) > 400 ? 400 : hl + cl), (char *)c->rb);
    }
    sample(&g.http_lat, &g.nhttp, now_us() - c->sent_us);
    c->busy = 0;
    memmove(c->rb, c->rb + hl + cl, c->rlen - hl - cl);
    c->rlen -= hl + cl;
  }
}

/* ---- the loop ------------------------------------------------------------ */

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static double pct_ms(int32_t *v, size_t n, double p) {
  if (!n) return -1;
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return v[i] / 1000.0;
}

static void loop_once(conn *ws, int nws, conn *wr, int nwr, int timeout_ms) {
  (void)nwr;
  (void)wr;
  struct epoll_event evs[512];
  int n = epoll_wait(g.epfd, evs, 512, timeout_ms);
  for (int i = 0; i < n; i++) {
    conn *c = evs[i].data.ptr;
    if (c->state == S_CLOSED) continue;
    if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
      conn_close(c);
      continue;
    }
    if (evs[i].events & EPOLLOUT) {
      if (c->state == S_CONNECTING) c->state = S_HANDSHAKE;
      flush_out(c);
      if (c->state == S_CLOSED) continue;
    }
    if (evs[i].events & EPOLLIN) {
      if (c->kind == K_WS) ws_readable(c);
      else http_readable(c);
    }
  }
  /* Heartbeats: what a Phoenix client does every 25 s. */
  int64_t t = now_us();
  for (int i = 0; i < nws; i++) {
    conn *c = &ws[i];
    if (c->state != S_JOINED) continue;
    if (!c->next_hb) c->next_hb = t + HEARTBEAT_US + (i % 1000) * 1000;
    if (t >= c->next_hb) {
      char hb[64];
      int k = snprintf(hb, sizeof hb, "[null,\"hb%d\",\"phoenix\",\"heartbeat\",{}]", ++c->hb);
      ws_send_text(c, hb, (size_t)k);
      c->next_hb = t + HEARTBEAT_US;
    }
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: rtload -p PORT -k ANON_KEY -T TOKENS_FILE [-h HOST] [-n SOCKETS]\n"
          "              [-r CHANGES_PER_S] [-w WRITERS] [-d SECONDS] [-D DRAIN_S]\n"
          "              [-c HANDSHAKES] [-R READY_FILE] [-H HOLD_S] [-v]\n"
          "  rate 0: no writes; hold the joined sockets idle for HOLD_S seconds\n"
          "  (or until SIGTERM), writing READY_FILE once all have joined.\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *tokens_file = NULL;
  int o;
  while ((o = getopt(argc, argv, "h:p:k:T:n:r:w:d:D:c:R:H:v")) != -1) {
    switch (o) {
      case 'h': opt.host = optarg; break;
      case 'p': opt.port = int_arg(optarg); break;
      case 'k': opt.apikey = optarg; break;
      case 'T': tokens_file = optarg; break;
      case 'n': opt.sockets = int_arg(optarg); break;
      case 'r': opt.rate = atof(optarg); break;
      case 'w': opt.writers = int_arg(optarg); break;
      case 'd': opt.duration = atof(optarg); break;
      case 'D': opt.drain = atof(optarg); break;
      case 'c': opt.max_handshakes = int_arg(optarg); break;
      case 'R': opt.ready_file = optarg; break;
      case 'H': opt.hold = atof(optarg); break;
      case 'v': opt.verbose = 1; break;
      default: usage();
    }
  }
  if (!opt.port || !opt.apikey || !tokens_file || opt.sockets < 1 || opt.writers < 1)
    usage();
  FILE *tf = fopen(tokens_file, "r");
  if (!tf) die("cannot open the tokens file");
  char line[8192];
  while (opt.ntokens < MAX_TENANTS && fgets(line, sizeof line, tf)) {
    size_t l = strcspn(line, "\r\n");
    line[l] = 0;
    if (l) opt.tokens[opt.ntokens++] = strdup(line);
  }
  fclose(tf);
  if (!opt.ntokens) die("no tokens in the tokens file");
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  srand((unsigned)now_us());
  g.phone_salt = (int)((now_us() / 1000) % 1000);
  g.run_id = (int)getpid();
  g.epfd = epoll_create1(0);

  conn *ws = calloc((size_t)opt.sockets, sizeof *ws);
  conn *wr = calloc((size_t)opt.writers, sizeof *wr);
  if (!ws || !wr) die("out of memory");
  for (int i = 0; i < opt.sockets; i++) {
    ws[i].kind = K_WS;
    ws[i].idx = i;
    ws[i].tenant = i % opt.ntokens;
    ws[i].state = S_CLOSED;
  }

  /* Connect and join, a few handshakes at a time. */
  int64_t t0 = now_us();
  int next = 0;
  while (!stop_flag) {
    while (next < opt.sockets && g.handshaking < opt.max_handshakes) ws_start(&ws[next++]);
    int joining = 0;
    for (int i = 0; i < next; i++) joining += ws[i].state == S_JOINING;
    if (next == opt.sockets && !g.handshaking && !joining) break;
    if (now_us() - t0 > 60 * 1000000LL) {
      fprintf(stderr, "rtload: the sockets did not all join within 60 s\n");
      break;
    }
    loop_once(ws, opt.sockets, wr, 0, 10);
  }
  double join_s = (double)(now_us() - t0) / 1e6;
  fprintf(stderr, "rtload: %d of %d sockets joined in %.2f s (%d failed)\n", g.joined,
          opt.sockets, join_s, g.failed);
  if (opt.ready_file) {
    FILE *rf = fopen(opt.ready_file, "w");
    if (rf) {
      fprintf(rf, "joined=%d\n", g.joined);
      fclose(rf);
    }
  }

  if (opt.rate <= 0) {
    int64_t until = now_us() + (int64_t)(opt.hold * 1e6);
    while (!stop_flag && (opt.hold <= 0 || now_us() < until)) loop_once(ws, opt.sockets, wr, 0, 100);
    printf("RESULT mode=idle sockets=%d joined=%d failed=%d closed=%d join_s=%.2f\n",
           opt.sockets, g.joined, g.failed, g.closed_early, join_s);
    return g.joined == opt.sockets ? 0 : 1;
  }

  for (int i = 0; i < opt.writers; i++) {
    wr[i].kind = K_HTTP;
    wr[i].fd = tcp_connect();
    if (wr[i].fd < 0) die("cannot connect a writer");
    wr[i].state = S_JOINED;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wr[i]};
    epoll_ctl(g.epfd, EPOLL_CTL_ADD, wr[i].fd, &ev);
  }
  /* The writes: one every 1/rate s in all, on whichever writer is free. */
  int64_t start = now_us(), end = start + (int64_t)(opt.duration * 1e6);
  double interval = 1e6 / opt.rate;
  double due = (double)start;
  while (!stop_flag && now_us() < end) {
    int64_t t = now_us();
    while ((double)t >= due) {
      conn *free_w = NULL;
      for (int i = 0; i < opt.writers; i++)
        if (wr[i].state != S_CLOSED && !wr[i].busy) {
          free_w = &wr[i];
          break;
        }
      if (!free_w) {
        /* Every writer waits for an answer: the server is behind. */
        g.writes_skipped++;
        due += interval;
        break;
      }
      http_send(free_w);
      due += interval;
    }
    int wait_ms = (int)((due - (double)now_us()) / 1000);
    loop_once(ws, opt.sockets, wr, opt.writers, wait_ms < 0 ? 0 : wait_ms > 10 ? 10 : wait_ms);
  }
  /* Answers still due, then the deliveries still on their way. */
  int64_t until = now_us() + (int64_t)(opt.drain * 1e6);
  for (;;) {
    int busy = 0;
    for (int i = 0; i < opt.writers; i++) busy += wr[i].state != S_CLOSED && wr[i].busy;
    long long expected = 0;
    for (int t = 0; t < opt.ntokens; t++) expected += g.ok_per[t] * g.joined_per[t];
    if ((!busy && g.delivered >= expected) || now_us() >= until || stop_flag) break;
    loop_once(ws, opt.sockets, wr, opt.writers, 10);
  }
  long long expected = 0;
  for (int t = 0; t < opt.ntokens; t++) expected += g.ok_per[t] * g.joined_per[t];
  double span = (double)(g.last_delivery_us - g.first_write_us) / 1e6;
  double write_span = (double)(end - start) / 1e6;
  qsort(g.commit_lat, g.ncommit, sizeof *g.commit_lat, cmp_i32);
  qsort(g.write_lat, g.nwrite, sizeof *g.write_lat, cmp_i32);
  qsort(g.http_lat, g.nhttp, sizeof *g.http_lat, cmp_i32);
  printf("RESULT mode=load sockets=%d joined=%d tenants=%d rate=%.0f writes=%lld writes_ok=%lld "
         "writes_bad=%lld writes_skipped=%lld writes_per_s=%.1f expected=%lld delivered=%lld "
         "missing=%lld deliveries_per_s=%.0f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f "
         "write_p50_ms=%.2f write_p95_ms=%.2f http_p95_ms=%.2f closed=%d system_errors=%lld "
         "bad_frames=%lld\n",
         opt.sockets, g.joined, opt.ntokens, opt.rate, g.writes_sent, g.writes_ok, g.writes_bad,
         g.writes_skipped, (double)g.writes_ok / write_span, expected, g.delivered,
         expected - g.delivered, span > 0 ? (double)g.delivered / span : 0,
         pct_ms(g.commit_lat, g.ncommit, 0.50), pct_ms(g.commit_lat, g.ncommit, 0.95),
         pct_ms(g.commit_lat, g.ncommit, 0.99), pct_ms(g.write_lat, g.nwrite, 0.50),
         pct_ms(g.write_lat, g.nwrite, 0.95), pct_ms(g.http_lat, g.nhttp, 0.95), g.closed_early,
         g.system_errors, g.bad_frames);
  return g.delivered == expected && g.joined == opt.sockets ? 0 : 1;
}
