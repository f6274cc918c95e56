/* feed.h - the change feed of one process: the triggers that record every
 * change of the watched tables (capture.c), and the thread that reads them
 * in order and hands them to the hub (feed.c). See change.h for the path
 * of a change and docs/realtime.md for the window. */
#ifndef MUNSHI_REALTIME_FEED_H
#define MUNSHI_REALTIME_FEED_H

#include <stddef.h>

#include "db/db.h"
#include "realtime/change.h"

/* Creates or updates the capture triggers of every table of
 * schema_tables() so that they record exactly the columns REST shows
 * (write-only ones as null, hidden ones not at all). Idempotent and cheap
 * when nothing changed (a fingerprint of the generated SQL is kept); safe
 * when several processes start at once. main calls it after the
 * migrations; tests call it on their database. */
int rt_capture_install(db *d, db_err *err);

rt_hub *rt_hub_new(void);
void rt_hub_free(rt_hub *h); /* after every sink is detached; accepts NULL */

typedef struct rt_feed rt_feed;
/* Starts the feed thread on its own connection(s) to db_url: it publishes
 * changes newer than the moment it starts to hub, and purges changes older
 * than window_s seconds from the database. */
int rt_feed_start(const char *db_url, rt_hub *hub, int window_s, rt_feed **out,
                  char *err, size_t errlen);
void rt_feed_stop(rt_feed *f); /* accepts NULL */

#endif
