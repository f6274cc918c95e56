/* outbox.c - PLACEHOLDER owned by the "outbox" work: sends queued messages
 * (chat.h chat_outbox_poll). */
#include "chat/chat.h"

int chat_outbox_poll(void *arg, db *d, const char *worker, db_err *err) {
  (void)arg, (void)d, (void)worker, (void)err;
  return 0;
}
