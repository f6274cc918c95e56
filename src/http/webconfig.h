/* webconfig.h - GET /config.js: what the dashboard's page needs from the
 * server before it can talk to the API. */
#ifndef MUNSHI_HTTP_WEBCONFIG_H
#define MUNSHI_HTTP_WEBCONFIG_H

#include "auth/auth.h"
#include "base/api.h"
#include "db/db.h"

/* Answers a script that sets window.MUNSHI_CONFIG = {anon_key, first_run}:
 * the anon key (public by design: it identifies the application, and every
 * table still needs a user's token) and whether the installation has no
 * account yet, so the page greets its first visitor with sign-up. d may be
 * NULL (first_run is then false). */
void webconfig_serve(auth *au, db *d, const api_req *req, api_resp *resp);

#endif
