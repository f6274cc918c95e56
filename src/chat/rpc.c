/* rpc.c - PLACEHOLDER owned by the "outbox" work: the chat operations under
 * /rest/v1/rpc (chat.h chat_rpc). */
#include "chat/chat.h"

int chat_rpc_known(const char *op) {
  (void)op;
  return 0;
}

void chat_rpc(db *d, const char *op, api_req *req, api_resp *resp) {
  (void)d, (void)op, (void)req;
  api_fail(resp, E_UNAVAILABLE, "not ready", NULL, NULL);
}
