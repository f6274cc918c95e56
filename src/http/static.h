/* static.h - files of the web/ folder, compiled into the binary
 * (cmake/embed_web.cmake writes the table), served under "/". */
#ifndef MUNSHI_HTTP_STATIC_H
#define MUNSHI_HTTP_STATIC_H

#include <stddef.h>

#include "base/api.h"

typedef struct web_file {
  const char *path; /* "/index.html" */
  const unsigned char *data;
  size_t len;
  const char *etag; /* quoted, from the content's SHA-256 */
} web_file;

/* Generated: every file under web/, ended by a row with path NULL. */
extern const web_file web_files[];

/* The embedded file for a URL path ("/" and "/dir/" mean their index.html);
 * NULL when there is none or the path could climb out ("..", "\\"). */
const web_file *static_find(const char *path);

/* The Content-Type for a file name, by its extension. */
const char *static_content_type(const char *path);

/* Serves req->path: 200 with the file, 304 when If-None-Match holds its
 * ETag, 404 when there is no such file, 405 for a method other than GET or
 * HEAD on one that exists. */
void static_serve(const api_req *req, api_resp *resp);

#endif
