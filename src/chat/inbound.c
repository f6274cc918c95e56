/* inbound.c - PLACEHOLDER owned by the "inbound" work: processes stored
 * webhooks (chat.h chat_inbound_poll). */
#include "chat/chat.h"

int chat_inbound_poll(void *arg, db *d, const char *worker, db_err *err) {
  (void)arg, (void)d, (void)worker, (void)err;
  return 0;
}
