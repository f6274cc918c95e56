/* demo.h - the sample business: `munshi demo` loads it as a demo account
 * (products with HSN codes and GST rates, customers in two states,
 * invoices, payments, a conversation and a workflow), and the dashboard's
 * rpc/load_sample_business loads the same books into the signed-in
 * owner's own, empty business. Every row is made through the same handlers
 * the API uses, so the sample obeys every rule the API does. */
#ifndef MUNSHI_DEMO_DEMO_H
#define MUNSHI_DEMO_DEMO_H

#include <stdio.h>

#include "auth/auth.h"
#include "base/api.h"
#include "db/db.h"

#define DEMO_EMAIL "demo@munshi.local"
#define DEMO_PASSWORD "munshi-demo-password"

/* Returns 0 when loaded (or already there), -1 with a message on out. */
int demo_load(db *d, auth *au, FILE *out);

/* 1 for the operations demo_rpc serves ("load_sample_business"). */
int demo_rpc_known(const char *op);

/* POST /rest/v1/rpc/load_sample_business {}: the sample's books into the
 * caller's business (a signed-in owner; anon 401, service role 403). Only
 * into an empty business (no customers, products, invoices or workflows:
 * 409 MU409 otherwise), so it never mixes with real books; a profile
 * without a state code gets Maharashtra's (27), the sample's. Answers 200
 * {profile_id, products, customers, invoices, payments, sessions,
 * messages, workflows} (the counts loaded). The rows are written by
 * several operations, each its own transaction: a failure part way (the
 * database gone) leaves what was written and answers the error. */
void demo_rpc(db *d, const char *op, api_req *req, api_resp *resp);

#endif
