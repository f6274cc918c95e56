/* schema.c - the metadata of every table exposed through /rest/v1 (see
 * schema.h). Kept in the order of the migrations' CREATE TABLE statements;
 * a test compares it with the real schema on both backends. */
#include "rest/schema.h"

#include <string.h>

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Column shorthands. */
#define ID {"id", DBT_UUID, 0, CF_PK | CF_INSERT_ONLY | CF_NOTNULL | CF_DEFAULT, NULL, 0}
#define PROFILE {"profile_id", DBT_UUID, 0, CF_SERVER | CF_NOTNULL, NULL, 0}
#define CREATED {"created_at", DBT_TS, 0, CF_SERVER | CF_NOTNULL | CF_DEFAULT, NULL, 0}
#define UPDATED {"updated_at", DBT_TS, 0, CF_SERVER | CF_NOTNULL | CF_DEFAULT, NULL, 0}
#define TEXT(n) {n, DBT_TEXT, 0, 0, NULL, 0}
#define TEXT_NN(n) {n, DBT_TEXT, 0, CF_NOTNULL, NULL, 0}
#define TEXT_DEF(n) {n, DBT_TEXT, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0}
#define UUIDC(n) {n, DBT_UUID, 0, 0, NULL, 0}
#define UUID_NN(n) {n, DBT_UUID, 0, CF_NOTNULL, NULL, 0}
#define TS(n) {n, DBT_TS, 0, 0, NULL, 0}
#define BOOL_DEF(n) {n, DBT_BOOL, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0}
#define JSON_DEF(n) {n, DBT_JSON, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0}
#define MONEY_RO(n, op) {n, DBT_DEC, 2, CF_READONLY | CF_NOTNULL | CF_DEFAULT, op, 0}

static const char INVOICE_OPS[] =
    "invoices are kept by the business operations: use POST "
    "/rest/v1/rpc/create_invoice, issue_invoice or cancel_invoice";

static const rest_col profiles_cols[] = {
    {"id", DBT_UUID, 0, CF_PK | CF_SERVER | CF_NOTNULL, NULL, 0},
    TEXT("business_name"),
    TEXT("gst_number"),
    TEXT("whatsapp_number"),
    TEXT("state_code"),
    TEXT("address"),
    TEXT("upi_id"),
    TEXT_DEF("invoice_prefix"),
    BOOL_DEF("allow_negative_stock"),
    CREATED,
    UPDATED,
    TEXT("owner_phone"),
};

static const rest_col customers_cols[] = {
    PROFILE,
    ID,
    TEXT_NN("full_name"),
    TEXT("phone_number"),
    TEXT("email"),
    TEXT("gstin"),
    TEXT("state_code"),
    TEXT("address"),
    MONEY_RO("total_debt",
             "total_debt is kept by the business operations: it moves with "
             "invoices (create_invoice, cancel_invoice) and payments "
             "(record_payment)"),
    TEXT("notes"),
    CREATED,
    UPDATED,
    /* 0011: where Shiprocket delivers (biz/validate.c: six digits). */
    TEXT("city"),
    TEXT("pincode"),
};

static const rest_col products_cols[] = {
    PROFILE,
    ID,
    TEXT_NN("name"),
    TEXT("sku"),
    TEXT("hsn_code"),
    TEXT_DEF("unit"),
    {"gst_rate", DBT_DEC, 2, CF_NOTNULL | CF_DEFAULT, NULL, 5},
    {"base_price", DBT_DEC, 2, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    {"current_stock", DBT_DEC, 3, CF_INSERT_ONLY | CF_NOTNULL | CF_DEFAULT,
     "current_stock is set once as the opening stock; later changes go "
     "through the stock operations (POST /rest/v1/rpc/adjust_stock)", 0},
    {"low_stock_threshold", DBT_DEC, 3, 0, NULL, 0},
    BOOL_DEF("is_active"),
    CREATED,
    UPDATED,
};

static const rest_col invoices_cols[] = {
    PROFILE,
    ID,
    UUID_NN("customer_id"),
    TEXT("invoice_number"),
    {"invoice_date", DBT_DATE, 0, CF_NOTNULL, NULL, 0},
    {"due_date", DBT_DATE, 0, 0, NULL, 0},
    TEXT("place_of_supply"),
    TEXT_DEF("status"),
    MONEY_RO("subtotal", INVOICE_OPS),
    MONEY_RO("cgst_amount", INVOICE_OPS),
    MONEY_RO("sgst_amount", INVOICE_OPS),
    MONEY_RO("igst_amount", INVOICE_OPS),
    MONEY_RO("round_off", INVOICE_OPS),
    MONEY_RO("total_amount", INVOICE_OPS),
    MONEY_RO("amount_paid", INVOICE_OPS),
    MONEY_RO("balance_due", INVOICE_OPS),
    TEXT("notes"),
    TEXT("cancel_reason"),
    TS("issued_at"),
    TS("cancelled_at"),
    CREATED,
    UPDATED,
};
static const rest_fk invoices_fks[] = {{"customer_id", "customers"}};

static const rest_col invoice_items_cols[] = {
    PROFILE,
    ID,
    UUID_NN("invoice_id"),
    UUIDC("product_id"),
    {"line_no", DBT_INT, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    TEXT("description"),
    TEXT("hsn_code"),
    {"quantity", DBT_DEC, 3, CF_NOTNULL, NULL, 0},
    {"unit_price", DBT_DEC, 2, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    {"discount", DBT_DEC, 2, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    MONEY_RO("taxable_value", INVOICE_OPS),
    {"gst_rate", DBT_DEC, 2, CF_NOTNULL | CF_DEFAULT, NULL, 5},
    MONEY_RO("cgst_amount", INVOICE_OPS),
    MONEY_RO("sgst_amount", INVOICE_OPS),
    MONEY_RO("igst_amount", INVOICE_OPS),
    MONEY_RO("line_total", INVOICE_OPS),
    CREATED,
};
static const rest_fk invoice_items_fks[] = {{"invoice_id", "invoices"},
                                            {"product_id", "products"}};

static const rest_col payments_cols[] = {
    PROFILE,
    ID,
    UUID_NN("customer_id"),
    UUIDC("invoice_id"),
    {"amount_received", DBT_DEC, 2, CF_NOTNULL, NULL, 0},
    TEXT_NN("payment_mode"),
    TEXT("reference"),
    {"received_at", DBT_TS, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    TEXT("notes"),
    CREATED,
    /* 0011: a payment a provider reported (once per provider id). */
    TEXT("provider"),
    TEXT("provider_payment_id"),
};
static const rest_fk payments_fks[] = {{"customer_id", "customers"},
                                       {"invoice_id", "invoices"}};

static const char SHIP_OPS[] =
    "kept by the shipment operations: POST /rest/v1/rpc/create_shipment, "
    "rpc/track_shipment";

static const rest_col shipments_cols[] = {
    PROFILE,
    ID,
    UUIDC("invoice_id"),
    TEXT("awb_number"),
    TEXT("courier_name"),
    TEXT_DEF("status"),
    TEXT("tracking_url"),
    TS("shipped_at"),
    TS("delivered_at"),
    CREATED,
    UPDATED,
    /* 0011: a shipment made through Shiprocket (rpc/create_shipment) keeps
     * each step and its last error; only the operations write these. */
    {"provider", DBT_TEXT, 0, CF_READONLY, SHIP_OPS, 0},
    {"sr_order_id", DBT_TEXT, 0, CF_READONLY, SHIP_OPS, 0},
    {"sr_shipment_id", DBT_TEXT, 0, CF_READONLY, SHIP_OPS, 0},
    {"courier_id", DBT_TEXT, 0, CF_READONLY, SHIP_OPS, 0},
    {"label_url", DBT_TEXT, 0, CF_READONLY, SHIP_OPS, 0},
    {"pickup_location", DBT_TEXT, 0, CF_READONLY, SHIP_OPS, 0},
    {"pickup_scheduled_at", DBT_TS, 0, CF_READONLY, SHIP_OPS, 0},
    {"payment_method", DBT_TEXT, 0, CF_READONLY, SHIP_OPS, 0},
    {"length_cm", DBT_DEC, 2, CF_READONLY, SHIP_OPS, 0},
    {"breadth_cm", DBT_DEC, 2, CF_READONLY, SHIP_OPS, 0},
    {"height_cm", DBT_DEC, 2, CF_READONLY, SHIP_OPS, 0},
    {"weight_kg", DBT_DEC, 3, CF_READONLY, SHIP_OPS, 0},
    {"status_code", DBT_INT, 0, CF_READONLY, SHIP_OPS, 0},
    {"etd", DBT_TS, 0, CF_READONLY, SHIP_OPS, 0},
    {"last_error", DBT_JSON, 0, CF_READONLY, SHIP_OPS, 0},
    {"last_tracked_at", DBT_TS, 0, CF_READONLY, SHIP_OPS, 0},
    /* 0012: create_shipment's own bookkeeping (integrations/shipment.c). */
    {"step_lease_until", DBT_TS, 0, CF_HIDDEN | CF_SERVER, NULL, 0},
    {"order_sent_at", DBT_TS, 0, CF_HIDDEN | CF_SERVER, NULL, 0},
};
static const rest_fk shipments_fks[] = {{"invoice_id", "invoices"}};

/* Conversations may be written over REST (a web chat logs its own), but a
 * message inserted here is only logged, never sent: sending goes through
 * the outbox (docs/chat.md). */
static const char CHAT_OPS[] =
    "kept by the chat module: send with POST /rest/v1/rpc/send_message, "
    "hand over with rpc/set_bot_active";

static const rest_col sessions_cols[] = {
    PROFILE,
    ID,
    UUIDC("customer_id"),
    TEXT_DEF("channel"),
    TEXT_NN("contact_id"),
    TEXT("contact_name"),
    BOOL_DEF("is_bot_active"),
    TS("last_message_at"),
    CREATED,
    UPDATED,
    {"channel_id", DBT_UUID, 0, CF_READONLY, CHAT_OPS, 0},
    TEXT_DEF("status"),
    {"last_inbound_at", DBT_TS, 0, CF_READONLY, CHAT_OPS, 0},
    {"unread_count", DBT_INT, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    {"agent_state", DBT_JSON, 0, CF_READONLY | CF_NOTNULL | CF_DEFAULT, CHAT_OPS, 0},
};
static const rest_fk sessions_fks[] = {{"customer_id", "customers"},
                                       {"channel_id", "channels"}};

static const rest_col unified_messages_cols[] = {
    PROFILE,
    ID,
    UUID_NN("session_id"),
    TEXT_NN("direction"),
    TEXT("content"),
    TEXT_DEF("message_type"),
    TEXT_DEF("status"),
    TEXT("provider_message_id"),
    JSON_DEF("metadata"),
    CREATED,
    {"channel_id", DBT_UUID, 0, CF_READONLY, CHAT_OPS, 0},
    TEXT("sender"),
    {"error", DBT_JSON, 0, 0, NULL, 0},
    {"reply_to", DBT_UUID, 0, CF_READONLY, CHAT_OPS, 0},
    UPDATED,
};
static const rest_fk unified_messages_fks[] = {{"session_id", "sessions"},
                                               {"channel_id", "channels"}};

/* Secrets are write-only: a client sets them, nobody reads them back (not
 * over REST, not in the realtime feed: rest_col_readable). The rules for a
 * channel (what each platform needs, formats) are in biz/validate.c. */
#define SECRET(n) {n, DBT_TEXT, 0, CF_WRITE_ONLY, NULL, 0}
static const rest_col channels_cols[] = {
    PROFILE,
    ID,
    {"platform", DBT_TEXT, 0, CF_NOTNULL | CF_INSERT_ONLY, NULL, 0},
    TEXT("name"),
    TEXT("phone_number_id"),
    TEXT("display_phone_number"),
    SECRET("access_token"),
    SECRET("app_secret"),
    SECRET("verify_token"),
    SECRET("bot_token"),
    SECRET("webhook_secret"),
    TEXT("bot_username"),
    JSON_DEF("templates"),
    TEXT("default_template"),
    {"rate_limit_per_s", DBT_INT, 0, 0, NULL, 0},
    {"owner_chat_id", DBT_TEXT, 0, CF_READONLY, "the owner's chat is linked with a one-time code (docs/chat.md)", 0},
    /* Made by rpc/link_owner_telegram, never by a client, never shown. */
    {"owner_link_code", DBT_TEXT, 0, CF_WRITE_ONLY | CF_READONLY,
     "the one-time code is made by rpc/link_owner_telegram", 0},
    {"owner_link_expires_at", DBT_TS, 0, CF_READONLY, "set by rpc/link_owner_telegram", 0},
    BOOL_DEF("is_active"),
    CREATED,
    UPDATED,
    {"verified_phone_number_id", DBT_TEXT, 0, CF_READONLY,
     "set by POST /rest/v1/rpc/connect_whatsapp", 0},
};

/* Credentials of outside services (0011, docs/integrations.md), one row
 * per provider per business; secrets write-only as for channels. The
 * rules per provider are in biz/validate.c. */
static const rest_col integrations_cols[] = {
    PROFILE,
    ID,
    {"provider", DBT_TEXT, 0, CF_NOTNULL | CF_INSERT_ONLY, NULL, 0},
    TEXT("email"),
    SECRET("password"),
    SECRET("webhook_token"),
    TEXT("pickup_location"),
    TEXT("key_id"),
    SECRET("key_secret"),
    SECRET("webhook_secret"),
    BOOL_DEF("is_active"),
    CREATED,
    UPDATED,
};

#define WF_DERIVED "derived from the blueprint's nodes when it is saved"
#define WF_ACTIVATE \
  "set by POST /rest/v1/rpc/activate_workflow and rpc/deactivate_workflow"
static const rest_col workflow_blueprints_cols[] = {
    PROFILE,
    ID,
    TEXT_NN("name"),
    TEXT("description"),
    TEXT("prompt"),
    TEXT("trigger_event"),
    JSON_DEF("nodes"),
    JSON_DEF("edges"),
    BOOL_DEF("is_active"),
    {"created_by", DBT_UUID, 0, CF_SERVER, NULL, 0},
    CREATED,
    UPDATED,
    /* Kept by the workflow module (0008_flow, docs/workflows.md): derived
     * from the graph when it is saved, or set by the engine. */
    {"version", DBT_INT, 0, CF_READONLY | CF_NOTNULL | CF_DEFAULT, WF_DERIVED, 0},
    {"active_version", DBT_INT, 0, CF_READONLY, WF_ACTIVATE, 0},
    {"trigger_kind", DBT_TEXT, 0, CF_READONLY, WF_DERIVED, 0},
    {"cron", DBT_TEXT, 0, CF_READONLY, WF_DERIVED, 0},
    {"timezone", DBT_TEXT, 0, CF_READONLY, WF_DERIVED, 0},
    {"next_run_at", DBT_TS, 0, CF_READONLY, WF_DERIVED, 0},
    {"last_run_at", DBT_TS, 0, CF_READONLY, WF_DERIVED, 0},
    /* The webhook trigger's secret: shown only inside webhook_url. */
    {"webhook_token", DBT_TEXT, 0, CF_HIDDEN | CF_SERVER, NULL, 0},
    {"webhook_url", DBT_TEXT, 0, CF_READONLY, WF_DERIVED, 0},
    TEXT("explanation"),
    {"max_messages_per_hour", DBT_INT, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    {"max_money_per_day", DBT_DEC, 2, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    {"paused_reason", DBT_TEXT, 0, CF_READONLY, WF_ACTIVATE, 0},
    {"paused_at", DBT_TS, 0, CF_READONLY, WF_ACTIVATE, 0},
};

static const rest_col workflow_logs_cols[] = {
    PROFILE,
    ID,
    UUID_NN("blueprint_id"),
    TEXT_DEF("status"),
    UUIDC("trigger_event_id"),
    JSON_DEF("step_results"),
    TEXT("error"),
    {"started_at", DBT_TS, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    TS("finished_at"),
    CREATED,
    {"version", DBT_INT, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    TEXT("trigger_kind"),
    TEXT("trigger_key"),
    JSON_DEF("input"),
    JSON_DEF("context"),
    BOOL_DEF("rehearsal"),
    UPDATED,
};
static const rest_fk workflow_logs_fks[] = {{"blueprint_id", "workflow_blueprints"}};

static const rest_col events_cols[] = {
    PROFILE,
    ID,
    TEXT_NN("event_type"),
    TEXT_NN("entity_type"),
    UUID_NN("entity_id"),
    JSON_DEF("payload"),
    CREATED,
    /* The outbox position (0003_jobs, docs/jobs.md): the order consumers
     * read events in. Written by the database, never by a client. */
    /* The outbox's position: counts across every business, so hidden. */
    {"seq", DBT_INT, 0, CF_SERVER | CF_NOTNULL | CF_DEFAULT | CF_HIDDEN, NULL, 0},
    {"txid", DBT_INT, 0, CF_SERVER | CF_NOTNULL | CF_DEFAULT | CF_HIDDEN, NULL, 0},
};

static const rest_col stock_movements_cols[] = {
    PROFILE,
    ID,
    UUID_NN("product_id"),
    {"quantity_delta", DBT_DEC, 3, CF_NOTNULL, NULL, 0},
    {"balance_after", DBT_DEC, 3, CF_NOTNULL, NULL, 0},
    TEXT_NN("reason"),
    TEXT("note"),
    TEXT("ref_type"),
    UUIDC("ref_id"),
    CREATED,
};
static const rest_fk stock_movements_fks[] = {{"product_id", "products"}};

static const rest_col payment_allocations_cols[] = {
    PROFILE,
    ID,
    UUID_NN("payment_id"),
    UUID_NN("invoice_id"),
    {"amount", DBT_DEC, 2, CF_NOTNULL, NULL, 0},
    CREATED,
};
static const rest_fk payment_allocations_fks[] = {{"payment_id", "payments"},
                                                  {"invoice_id", "invoices"}};

static const rest_col shipment_scans_cols[] = {
    PROFILE,
    ID,
    UUID_NN("shipment_id"),
    {"scanned_at", DBT_TS, 0, CF_NOTNULL, NULL, 0},
    TEXT("status"),
    TEXT("activity"),
    TEXT("location"),
    {"status_code", DBT_INT, 0, 0, NULL, 0},
    CREATED,
};
static const rest_fk shipment_scans_fks[] = {{"shipment_id", "shipments"}};

static const rest_col refunds_cols[] = {
    PROFILE,
    ID,
    UUID_NN("customer_id"),
    UUIDC("payment_id"),
    {"amount", DBT_DEC, 2, CF_NOTNULL, NULL, 0},
    TEXT("reason"),
    TEXT("provider"),
    TEXT("provider_refund_id"),
    {"refunded_at", DBT_TS, 0, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    CREATED,
};
static const rest_fk refunds_fks[] = {{"customer_id", "customers"},
                                      {"payment_id", "payments"}};

static const rest_col payment_links_cols[] = {
    PROFILE,
    ID,
    UUID_NN("invoice_id"),
    TEXT_NN("provider"),
    TEXT("provider_link_id"),
    TEXT_NN("reference_id"),
    TEXT("short_url"),
    {"amount", DBT_DEC, 2, CF_NOTNULL, NULL, 0},
    {"amount_paid", DBT_DEC, 2, CF_NOTNULL | CF_DEFAULT, NULL, 0},
    TEXT_DEF("status"),
    TS("expire_by"),
    UUIDC("integration_id"),
    {"last_error", DBT_JSON, 0, 0, NULL, 0},
    CREATED,
    UPDATED,
};
static const rest_fk payment_links_fks[] = {{"invoice_id", "invoices"}};

#define NOFK(name, flags, hint) \
  {#name, name##_cols, N(name##_cols), NULL, 0, flags, hint}

static const rest_table tables[] = {
    {"profiles", profiles_cols, N(profiles_cols), NULL, 0,
     TF_PROFILES | TF_NO_INSERT | TF_NO_DELETE | TF_TIMESTAMPS,
     "a profile is created with its account (POST /auth/v1/signup) and "
     "lives as long as the account"},
    NOFK(customers, TF_TENANT | TF_TIMESTAMPS | TF_EVENTS, NULL),
    NOFK(products, TF_TENANT | TF_TIMESTAMPS | TF_EVENTS, NULL),
    {"invoices", invoices_cols, N(invoices_cols), invoices_fks,
     N(invoices_fks),
     TF_TENANT | TF_TIMESTAMPS | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     INVOICE_OPS},
    {"invoice_items", invoice_items_cols, N(invoice_items_cols),
     invoice_items_fks, N(invoice_items_fks),
     TF_TENANT | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "invoice items are written with their invoice: use POST "
     "/rest/v1/rpc/create_invoice"},
    {"payments", payments_cols, N(payments_cols), payments_fks,
     N(payments_fks), TF_TENANT | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "payments move the debt ledger: use POST /rest/v1/rpc/record_payment"},
    {"shipments", shipments_cols, N(shipments_cols), shipments_fks,
     N(shipments_fks), TF_TENANT | TF_TIMESTAMPS, NULL},
    {"sessions", sessions_cols, N(sessions_cols), sessions_fks,
     N(sessions_fks), TF_TENANT | TF_TIMESTAMPS, NULL},
    {"unified_messages", unified_messages_cols, N(unified_messages_cols),
     unified_messages_fks, N(unified_messages_fks),
     TF_TENANT | TF_TIMESTAMPS, NULL},
    NOFK(workflow_blueprints, TF_TENANT | TF_TIMESTAMPS, NULL),
    {"workflow_logs", workflow_logs_cols, N(workflow_logs_cols),
     workflow_logs_fks, N(workflow_logs_fks),
     TF_TENANT | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "runs are kept by the workflow engine: start one with POST "
     "/rest/v1/rpc/run_workflow, stop it with rpc/cancel_run"},
    {"stock_movements", stock_movements_cols, N(stock_movements_cols),
     stock_movements_fks, N(stock_movements_fks),
     TF_TENANT | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "stock moves only through the operations: POST "
     "/rest/v1/rpc/adjust_stock, and invoices as they are issued or "
     "cancelled"},
    {"payment_allocations", payment_allocations_cols,
     N(payment_allocations_cols), payment_allocations_fks,
     N(payment_allocations_fks),
     TF_TENANT | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "allocations are made by POST /rest/v1/rpc/record_payment"},
    {"events", events_cols, N(events_cols), NULL, 0,
     TF_TENANT | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "events are written by the business operations that cause them"},
    NOFK(channels, TF_TENANT | TF_TIMESTAMPS, NULL),
    NOFK(integrations, TF_TENANT | TF_TIMESTAMPS, NULL),
    {"shipment_scans", shipment_scans_cols, N(shipment_scans_cols),
     shipment_scans_fks, N(shipment_scans_fks),
     TF_TENANT | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "scans come from Shiprocket: its webhook (POST /webhooks/shiprocket) "
     "or POST /rest/v1/rpc/track_shipment"},
    {"refunds", refunds_cols, N(refunds_cols), refunds_fks, N(refunds_fks),
     TF_TENANT | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "refunds move the debt ledger: use POST /rest/v1/rpc/record_refund"},
    {"payment_links", payment_links_cols, N(payment_links_cols),
     payment_links_fks, N(payment_links_fks),
     TF_TENANT | TF_TIMESTAMPS | TF_NO_INSERT | TF_NO_UPDATE | TF_NO_DELETE,
     "payment links are made by POST /rest/v1/rpc/create_payment_link"},
};

const rest_table *schema_tables(int *n) {
  *n = N(tables);
  return tables;
}

const rest_table *schema_table(const char *name, size_t len) {
  for (int i = 0; i < N(tables); i++)
    if (strlen(tables[i].name) == len && memcmp(tables[i].name, name, len) == 0)
      return &tables[i];
  return NULL;
}

const rest_col *schema_col(const rest_table *t, const char *name, size_t len) {
  for (int i = 0; i < t->ncols; i++)
    if (strlen(t->cols[i].name) == len &&
        memcmp(t->cols[i].name, name, len) == 0)
      return t->cols[i].flags & CF_HIDDEN ? NULL : &t->cols[i];
  return NULL;
}

int rest_col_readable(const rest_col *c) {
  return c && !(c->flags & (CF_HIDDEN | CF_WRITE_ONLY));
}

int schema_col_index(const rest_table *t, const rest_col *c) {
  return (int)(c - t->cols);
}
