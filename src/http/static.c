/* static.c - serving the files compiled in from web/ (see static.h).
 *
 * The files live in a table in the binary, so a request can only name one
 * of them: there is no file system path to climb out of. Paths holding ".."
 * or a backslash are refused anyway, so a later switch to files on disk
 * does not inherit a hole. Each file carries an ETag made at build time;
 * browsers revalidate (Cache-Control: no-cache) and get 304 when it holds. */
#include "http/static.h"

#include <string.h>
#include <strings.h>

static int climbs(const char *path) {
  if (strchr(path, '\\')) return 1;
  for (const char *p = path; (p = strstr(p, "..")); p += 2) {
    int start = p == path || p[-1] == '/';
    int end = p[2] == '\0' || p[2] == '/';
    if (start && end) return 1;
  }
  return 0;
}

const web_file *static_find(const char *path) {
  if (!path || path[0] != '/' || climbs(path)) return NULL;
  size_t n = strlen(path);
  for (const web_file *f = web_files; f->path; f++) {
    if (path[n - 1] == '/') {
      /* "/dir/" is "/dir/index.html" */
      if (!strncmp(f->path, path, n) && !strcmp(f->path + n, "index.html"))
        return f;
    } else if (!strcmp(f->path, path)) {
      return f;
    }
  }
  return NULL;
}

const char *static_content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
  };
  const char *dot = strrchr(path, '.');
  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (!strcasecmp(dot, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

/* 1 when an If-None-Match value lists etag (or is "*"). */
static int etag_listed(const char *inm, const char *etag) {
  size_t el = strlen(etag);
  const char *p = inm;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) break;
    if (p[0] == '*') return 1;
    const char *q = p;
    if (!strncmp(q, "W/", 2)) q += 2; /* weak comparison, as for GET */
    if (!strncmp(q, etag, el) &&
        (q[el] == '\0' || q[el] == ',' || q[el] == ' ' || q[el] == '\t'))
      return 1;
    while (*p && *p != ',') p++;
  }
  return 0;
}

void static_serve(const api_req *req, api_resp *resp) {
  const web_file *f = static_find(req->path);
  if (!f) {
    api_failf(resp, E_NOT_FOUND_ROUTE, "no route for %.16s %.128s",
              req->method, req->path);
    return;
  }
  if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
    api_failf(resp, E_METHOD, "%.16s is not allowed on %.128s; use GET, HEAD",
              req->method, req->path);
    api_header(resp, "Allow", "GET, HEAD");
    return;
  }
  api_header(resp, "ETag", f->etag);
  api_header(resp, "Cache-Control", "no-cache");
  api_header(resp, "X-Content-Type-Options", "nosniff");
  /* The dashboard's pages: scripts only from this server, no framing by
   * another site (clickjacking). Styles may be inline (the screens set
   * style attributes); connections go to this origin (REST, Realtime). */
  if (!strcmp(static_content_type(f->path), "text/html; charset=utf-8")) {
    api_header(resp, "Content-Security-Policy",
               "default-src 'self'; script-src 'self'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
               "form-action 'self'; object-src 'none'");
    api_header(resp, "X-Frame-Options", "DENY");
  }
  const char *inm = req->header ? req->header(req, "if-none-match") : NULL;
  if (inm && etag_listed(inm, f->etag)) {
    resp->status = 304;
    resp->content_type = NULL;
    return;
  }
  resp->status = 200;
  resp->content_type = static_content_type(f->path);
  buf_append(&resp->body, f->data, f->len);
}
