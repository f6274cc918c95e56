/* engine.c - STUB (issue 8, helper "engine" replaces it): see engine.h. */
#include <string.h>

#include "flow/engine.h"
#include "flow/flow.h"
#include "flow/rpc_int.h"

static flow_settings settings;

void flow_configure(const flow_settings *s) { settings = *s; }
const flow_settings *flow_settings_get(void) { return &settings; }

int flow_run_start(db *d, arena *a, const flow_run_start_args *s,
                   char run_id[37], int *created, db_err *err) {
  (void)d, (void)a, (void)s, (void)err;
  run_id[0] = 0;
  *created = 0;
  return 0;
}
void flow_rpc_run(db *d, api_req *req, const json *args, api_resp *resp) {
  (void)d, (void)req, (void)args;
  api_fail(resp, E_OP_INVALID, "not built yet", NULL, NULL);
}
void flow_rpc_cancel(db *d, api_req *req, const json *args, api_resp *resp) {
  (void)d, (void)req, (void)args;
  api_fail(resp, E_OP_INVALID, "not built yet", NULL, NULL);
}
void flow_rpc_retry(db *d, api_req *req, const json *args, api_resp *resp) {
  (void)d, (void)req, (void)args;
  api_fail(resp, E_OP_INVALID, "not built yet", NULL, NULL);
}
void flow_webhook(db *d, api_req *req, api_resp *resp) {
  (void)d, (void)req;
  api_fail(resp, E_NOT_FOUND_ROUTE, "not built yet", NULL, NULL);
}
int flow_trigger_handle(void *arg, db *d, const event_row *ev, int attempts,
                        db_err *err) {
  (void)arg, (void)d, (void)ev, (void)attempts, (void)err;
  return 0;
}
int flow_steps_poll(void *arg, db *d, const char *worker, db_err *err) {
  (void)arg, (void)d, (void)worker, (void)err;
  return 0;
}
