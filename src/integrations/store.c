/* store.c - the module's settings and the credentials of each business's
 * integrations, read on the server side (secrets included: they never
 * leave the process but in the requests to the provider). */
#include <string.h>

#include "base/uuid.h"
#include "integrations/integrations.h"

/* Copies of the strings main passed (it may free its config after). */
static char shiprocket_url[512] = "https://apiv2.shiprocket.in/v1/external";
static char razorpay_url[512] = "https://api.razorpay.com/v1";
static char rzp_key_id[128], rzp_key_secret[256], rzp_webhook_secret[256];
static integ_settings settings = {shiprocket_url, razorpay_url, rzp_key_id,
                                  rzp_key_secret, rzp_webhook_secret, 1800};

static void copy(char *dst, size_t cap, const char *src) {
  size_t n = src ? strlen(src) : 0;
  if (n >= cap) n = cap - 1; /* config.c caps them below these sizes */
  memcpy(dst, src ? src : "", n);
  dst[n] = 0;
}

void integ_configure(const integ_settings *s) {
  if (s->shiprocket_api_url && *s->shiprocket_api_url)
    copy(shiprocket_url, sizeof shiprocket_url, s->shiprocket_api_url);
  if (s->razorpay_api_url && *s->razorpay_api_url)
    copy(razorpay_url, sizeof razorpay_url, s->razorpay_api_url);
  copy(rzp_key_id, sizeof rzp_key_id, s->razorpay_key_id);
  copy(rzp_key_secret, sizeof rzp_key_secret, s->razorpay_key_secret);
  copy(rzp_webhook_secret, sizeof rzp_webhook_secret,
       s->razorpay_webhook_secret);
  settings.track_every_s = s->track_every_s > 0 ? s->track_every_s : 1800;
}

const integ_settings *integ_settings_get(void) { return &settings; }

#define CREDS_COLS                                                          \
  "profile_id, id, provider, email, password, webhook_token, "              \
  "pickup_location, key_id, key_secret, webhook_secret, is_active, "        \
  "updated_at FROM integrations "

static const char *opt(arena *a, db_res *r, int col) {
  return db_res_isnull(r, 0, col) ? NULL : arena_strdup(a, db_res_text(r, 0, col));
}

static int creds_from(db_res *r, arena *a, integ_creds *out, int *found) {
  memset(out, 0, sizeof *out);
  *found = db_res_rows(r) == 1;
  if (!*found) return 0;
  uuid_normalize(db_res_text(r, 0, 0), out->profile_id);
  uuid_normalize(db_res_text(r, 0, 1), out->id);
  out->provider = arena_strdup(a, db_res_text(r, 0, 2));
  out->email = opt(a, r, 3);
  out->password = opt(a, r, 4);
  out->webhook_token = opt(a, r, 5);
  out->pickup_location = opt(a, r, 6);
  out->key_id = opt(a, r, 7);
  out->key_secret = opt(a, r, 8);
  out->webhook_secret = opt(a, r, 9);
  out->is_active = db_res_bool(r, 0, 10);
  out->updated_at = db_res_ts(r, 0, 11);
  return 0;
}

int integ_creds_load(db *d, arena *a, const char *profile_id,
                     const char *provider, integ_creds *out, int *found,
                     db_err *err) {
  db_val v[] = {db_uuid(profile_id), db_text(provider)};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "SELECT " CREDS_COLS
                     "WHERE profile_id = $1 AND provider = $2",
                     v, 2, &r, err))
    return -1;
  creds_from(r, a, out, found);
  db_res_free(r);
  return 0;
}

int integ_creds_by_id(db *d, arena *a, const char *id, const char *provider,
                      integ_creds *out, int *found, db_err *err) {
  char norm[37];
  *found = 0;
  memset(out, 0, sizeof *out);
  if (uuid_normalize(id, norm)) return 0; /* not a UUID: no such row */
  db_val v[] = {db_uuid(norm), db_text(provider)};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "SELECT " CREDS_COLS "WHERE id = $1 AND provider = $2",
                     v, 2, &r, err))
    return -1;
  creds_from(r, a, out, found);
  db_res_free(r);
  return 0;
}
