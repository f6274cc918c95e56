/* visible.c - the feed's one tenancy rule: a change goes to a subscriber
 * only when that subscriber could read the row through /rest/v1 (see
 * rest/sql.c's sql_where): the service role reads every row, a signed-in
 * user the rows of its own profile (for the profiles table: its own
 * profile row, whose profile_id is its id), anon and nobody nothing. The
 * columns are already cut to the readable ones when the change is built. */
#include <string.h>

#include "realtime/change.h"

int rt_visible(const api_principal *who, const rt_change *c) {
  if (!who || !c) return 0;
  if (who->role == ROLE_SERVICE) return 1;
  if (who->role != ROLE_AUTHENTICATED || !who->sub[0]) return 0;
  if (!(c->table->flags & (TF_TENANT | TF_PROFILES))) return 0;
  return strcmp(who->sub, c->profile_id) == 0;
}
