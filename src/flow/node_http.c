/* node_http.c - http_request: a call to another server, its method, URL,
 * headers and body rendered from the run, through net/'s client with the
 * SSRF guard on (net/ssrf.h): a URL that resolves to loopback, private,
 * link-local, multicast or metadata addresses is refused, redirects are
 * not followed, and the response is capped in time and size.
 *
 * GET and HEAD are safe: a step run again sends them again. Any other
 * method is unsafe: its answer is stored under the step's effect key
 * (workflow_effects, kind http) and a step run again answers that instead
 * of sending twice; an unsafe call whose fate is unknown (a timeout, a
 * dropped connection, a 5xx) fails rather than being repeated by itself.
 *
 * MUNSHI_HTTP_ALLOW_HOSTS ("host:port,...") lets the operator reach
 * chosen hosts all the same - a local service, or the tests' fake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/timeutil.h"
#include "flow/effects.h"
#include "flow/node_int.h"
#include "net/http_client.h"

#define HTTP_TIMEOUT_DEFAULT 10000
#define HTTP_TIMEOUT_MAX 30000
#define HTTP_RESPONSE_DEFAULT (64 * 1024)
#define HTTP_RESPONSE_MAX (1024 * 1024)
#define HTTP_MAX_HEADERS 16

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH",
                                      "DELETE", NULL};

static int http_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"method", "url", "headers", "body",
                                      "timeout_ms", "max_response", NULL};
  if (np_only(p, known, e) || np_template(a, p, "url", 1, e)) return -1;
  const char *url = np_str(p, "url");
  if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8) &&
      strncmp(url, "{{", 2))
    return np_fail(e, "url", "must start with http:// or https://");
  const json *m = json_get(p, "method");
  if (m) {
    int ok = 0;
    for (int i = 0; methods[i] && !ok; i++)
      ok = m->type == JSON_STRING && !strcmp(m->str, methods[i]);
    if (!ok)
      return np_fail(e, "method", "must be GET, HEAD, POST, PUT, PATCH or "
                                  "DELETE");
  }
  const json *h = json_get(p, "headers");
  if (h) {
    if (h->type != JSON_OBJECT || h->n > HTTP_MAX_HEADERS)
      return np_fail(e, "headers", "must be an object of at most %d "
                                   "{name: text}", HTTP_MAX_HEADERS);
    for (size_t i = 0; i < h->n; i++)
      if (h->items[i]->type != JSON_STRING)
        return np_fail(e, "headers", "%.64s must be a text", h->keys[i]);
    if (np_templates_in(a, h, "headers", e)) return -1;
  }
  if (np_templates_in(a, json_get(p, "body"), "body", e)) return -1;
  int64_t n;
  const json *t = json_get(p, "timeout_ms");
  if (t && (json_int64(t, &n) || n < 1 || n > HTTP_TIMEOUT_MAX))
    return np_fail(e, "timeout_ms", "must be 1 to %d", HTTP_TIMEOUT_MAX);
  t = json_get(p, "max_response");
  if (t && (json_int64(t, &n) || n < 1 || n > HTTP_RESPONSE_MAX))
    return np_fail(e, "max_response", "must be 1 to %d bytes",
                   HTTP_RESPONSE_MAX);
  return 0;
}

/* Header values that are credentials are not written to the step's input
 * (step_results is shown to whoever reads the run). */
static int secret_header(const char *name) {
  if (!strcasecmp(name, "authorization") ||
      !strcasecmp(name, "proxy-authorization") || !strcasecmp(name, "cookie"))
    return 1;
  char low[64];
  size_t i = 0;
  for (; name[i] && i < sizeof low - 1; i++)
    low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
  low[i] = '\0';
  return strstr(low, "key") || strstr(low, "token") || strstr(low, "secret");
}

static int64_t param_int(const json *p, const char *key, int64_t def) {
  int64_t v;
  const json *j = json_get(p, key);
  return j && !json_int64(j, &v) ? v : def;
}

static int http_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  const json *p = c->bp->nodes[c->node].params;
  const char *method = np_str(p, "method") ? np_str(p, "method") : "GET";
  int safe = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  char msg[300];
  int rc = 0;
  net_result res;
  net_result_init(&res);
  buf body;
  buf_init(&body, 1 << 20);

  const char *url = node_render(c, np_str(p, "url"), 4096, msg, sizeof msg);
  if (!url) {
    node_input_params(c, r);
    rc = flow_step_fail(r, NODE_FAILED, "url: %s", msg);
    goto out;
  }
  const json *hp = json_get(p, "headers");
  net_header hdrs[HTTP_MAX_HEADERS + 1];
  size_t nh = 0;
  int has_ct = 0;
  for (size_t i = 0; hp && i < hp->n && nh < HTTP_MAX_HEADERS; i++) {
    const char *v = node_render(c, hp->items[i]->str, 4096, msg, sizeof msg);
    if (!v) {
      node_input_params(c, r);
      rc = flow_step_fail(r, NODE_FAILED, "headers: %s", msg);
      goto out;
    }
    hdrs[nh++] = (net_header){hp->keys[i], v};
    if (!strcasecmp(hp->keys[i], "content-type")) has_ct = 1;
  }
  const json *bp = json_get(p, "body");
  if (bp && bp->type == JSON_STRING) {
    const char *t = node_render(c, bp->str, 1 << 20, msg, sizeof msg);
    if (!t) {
      node_input_params(c, r);
      rc = flow_step_fail(r, NODE_FAILED, "body: %s", msg);
      goto out;
    }
    buf_puts(&body, t);
  } else if (bp) {
    if (node_render_json(c, bp, &body, msg, sizeof msg)) {
      node_input_params(c, r);
      rc = flow_step_fail(r, NODE_FAILED, "body: %s", msg);
      goto out;
    }
    if (!has_ct) hdrs[nh++] = (net_header){"Content-Type", "application/json"};
  }

  json_obj in, ho;
  json_obj_open(&in, &r->input);
  json_obj_str(&in, "method", method);
  json_obj_str(&in, "url", url);
  json_obj_nest(&in, "headers", &ho);
  for (size_t i = 0; i < nh; i++)
    json_obj_str(&ho, hdrs[i].name,
                 secret_header(hdrs[i].name) ? "(hidden)" : hdrs[i].value);
  json_obj_close(&ho);
  if (bp) json_obj_str(&in, "body", buf_cstr(&body));
  json_obj_close(&in);

  if (c->dry_run) {
    json_obj w;
    json_obj_open(&w, &r->output);
    json_obj_str(&w, "would", "http");
    json_obj_str(&w, "method", method);
    json_obj_str(&w, "url", url);
    json_obj_close(&w);
    r->outcome = NODE_DONE;
    goto out;
  }
  if (!safe) {
    int found = 0;
    if (flow_effect_find(c, c->effect_key, &found, &r->output, err)) {
      rc = -1;
      goto out;
    }
    if (found) {
      r->outcome = NODE_DONE;
      goto out;
    }
  }

  const char *keep[] = {"Content-Type", "Retry-After"};
  net_req req = {.method = method,
                 .url = url,
                 .headers = hdrs,
                 .n_headers = nh,
                 .body = body.len ? body.data : NULL,
                 .body_len = body.len,
                 .timeout_ms = (long)param_int(p, "timeout_ms",
                                               HTTP_TIMEOUT_DEFAULT),
                 .max_response = (size_t)param_int(p, "max_response",
                                                   HTTP_RESPONSE_DEFAULT),
                 .keep_headers = keep,
                 .n_keep = 2,
                 .guard_private = 1,
                 .guard_allow = getenv("MUNSHI_HTTP_ALLOW_HOSTS")};
  req.connect_timeout_ms = req.timeout_ms;
  if (net_request(&req, &res)) {
    switch (res.err) {
      case NET_EBLOCKED:
        rc = flow_step_fail(r, NODE_FAILED,
                            "http_request: %s is not allowed: it is (or "
                            "resolves to) a loopback, private, link-local, "
                            "multicast or metadata address",
                            url);
        break;
      case NET_EURL:
      case NET_EBADREQ:
      case NET_ETOOLARGE:
      case NET_ETLS:
        rc = flow_step_fail(r, NODE_FAILED, "http_request: %s",
                            net_strerror(res.err));
        break;
      case NET_ECONNECT: /* nothing was sent */
        rc = flow_step_fail(r, NODE_RETRY, "http_request: %s",
                            net_strerror(res.err));
        break;
      default:
        rc = flow_step_fail(r, safe ? NODE_RETRY : NODE_FAILED,
                            "http_request: %s%s", net_strerror(res.err),
                            safe ? "" : " (it may have arrived; not sent "
                                        "again)");
    }
    goto out;
  }
  /* The answer: its body as JSON when it is JSON, else as text. */
  json *bj = NULL;
  json_error je;
  const char *ct = net_result_header(&res, "Content-Type");
  json_obj o;
  json_obj_open(&o, &r->output);
  json_obj_int(&o, "status", res.status);
  json_obj_str(&o, "content_type", ct);
  if (res.body.len &&
      json_parse(c->a, res.body.data, res.body.len, &bj, &je) == 0)
    json_obj_raw(&o, "body", json_to_text(c->a, bj));
  else if (res.body.len && utf8_valid(res.body.data, res.body.len))
    json_obj_str(&o, "body", buf_cstr(&res.body));
  else
    json_obj_str(&o, "body", "");
  if (json_obj_close(&o)) {
    buf_reset(&r->output);
    rc = flow_step_fail(r, NODE_FAILED, "http_request: the answer is too large");
    goto out;
  }
  long st = res.status;
  if (st >= 400) {
    node_outcome oc = safe && (st == 429 || st >= 500) ? NODE_RETRY : NODE_FAILED;
    rc = flow_step_fail(r, oc, "http_request: the server answered %ld", st);
    if (oc == NODE_RETRY) {
      long ms;
      const char *ra = net_result_header(&res, "Retry-After");
      if (ra && !net_retry_after_ms(ra, time_now_us() / 1000000, &ms))
        r->retry_after_ms = (int)(ms > 3600000 ? 3600000 : ms);
    }
    goto out;
  }
  if (!safe &&
      flow_effect_record(c, c->effect_key, "http", 0, buf_cstr(&r->output), err)) {
    rc = -1;
    goto out;
  }
  r->outcome = NODE_DONE;
out:
  net_result_free(&res);
  buf_free(&body);
  return rc;
}

const flow_node_type flow_nt_http_request = {"http_request", NODE_EFFECT,
                                             http_validate, http_run};
