/* bpstore.c - STUB (issue 8, helper "blueprints" replaces it): see
 * bpstore.h. */
#include <stdio.h>
#include <string.h>

#include "flow/bpstore.h"
#include "flow/flow.h"
#include "flow/rpc_int.h"

int flow_blueprint_create(db *d, arena *a, const char *profile_id,
                          const char *created_by, const char *name,
                          const char *prompt, const char *explanation,
                          const char *nodes, const char *edges,
                          char id_out[37], bp_error *be, db_err *err) {
  (void)d, (void)a, (void)profile_id, (void)created_by, (void)name;
  (void)prompt, (void)explanation, (void)nodes, (void)edges, (void)err;
  id_out[0] = 0;
  memset(be, 0, sizeof *be);
  snprintf(be->message, sizeof be->message, "not built yet");
  return -1;
}
int flow_blueprint_load(db *d, arena *a, const char *profile_id,
                        const char *id, flow_bp_row *out, int *found,
                        db_err *err) {
  (void)d, (void)a, (void)profile_id, (void)id, (void)out, (void)err;
  *found = 0;
  return 0;
}
int flow_version_load(db *d, arena *a, const char *profile_id,
                      const char *blueprint_id, int version, blueprint *out,
                      int *found, db_err *err) {
  (void)d, (void)a, (void)profile_id, (void)blueprint_id, (void)version;
  (void)out, (void)err;
  *found = 0;
  return 0;
}
int flow_activate(db *d, arena *a, const char *profile_id, const char *id,
                  int on, int64_t now_us, int *found, bp_error *be,
                  db_err *err) {
  (void)d, (void)a, (void)profile_id, (void)id, (void)on, (void)now_us;
  (void)be, (void)err;
  *found = 0;
  return 0;
}
void flow_rpc_activate(db *d, api_req *req, const json *args, api_resp *resp) {
  (void)d, (void)req, (void)args;
  api_fail(resp, E_OP_INVALID, "not built yet", NULL, NULL);
}
void flow_rpc_deactivate(db *d, api_req *req, const json *args,
                         api_resp *resp) {
  (void)d, (void)req, (void)args;
  api_fail(resp, E_OP_INVALID, "not built yet", NULL, NULL);
}
int flow_cron_poll(void *arg, db *d, const char *worker, db_err *err) {
  (void)arg, (void)d, (void)worker, (void)err;
  return 0;
}
