/* agent.c - PLACEHOLDER owned by the "agent" work: answers message.received
 * events (chat.h chat_agent_handle). */
#include "chat/chat.h"

int chat_agent_handle(void *arg, db *d, const event_row *ev, int attempts,
                      db_err *err) {
  (void)arg, (void)d, (void)ev, (void)attempts, (void)err;
  return 0;
}
