/* demo.h - `munshi demo`: loads a sample business (products with HSN codes
 * and GST rates, customers in two states, invoices, payments) through the
 * same handlers the API uses, so a newcomer can try every operation. */
#ifndef MUNSHI_DEMO_DEMO_H
#define MUNSHI_DEMO_DEMO_H

#include <stdio.h>

#include "auth/auth.h"
#include "db/db.h"

#define DEMO_EMAIL "demo@munshi.local"
#define DEMO_PASSWORD "munshi-demo-password"

/* Returns 0 when loaded (or already there), -1 with a message on out. */
int demo_load(db *d, auth *au, FILE *out);

#endif
