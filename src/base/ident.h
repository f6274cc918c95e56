/* ident.h - checks and normal forms of the identifiers a business gives:
 * GSTINs, GST state codes, HSN codes, phone numbers. Pure functions, no
 * allocation. */
#ifndef MUNSHI_BASE_IDENT_H
#define MUNSHI_BASE_IDENT_H

#include <stddef.h>

/* Two-digit GST state codes: 01..38 and 97 (other territory). 1 if valid,
 * else 0. */
int gst_state_valid(const char *code);
/* The state's name for a valid code ("29" -> "Karnataka"), else NULL. */
const char *gst_state_name(const char *code);
/* Checks a GSTIN: 15 characters, a valid state code, PAN shape, 'Z' at
 * position 14 and the mod-36 check character. Returns 0 (and the state code
 * in state[3] when not NULL) or -1 with a reason in why. Lower case is
 * refused; callers upper-case first if they want to accept it. */
int gstin_check(const char *gstin, char state[3], char *why, size_t whylen);
/* The check character of the first 14 characters of a GSTIN, or '\0' when
 * one of them is not 0-9 or A-Z (or the string is shorter). */
char gstin_check_char(const char *first14);

/* HSN codes: 4, 6 or 8 digits (1 if valid, else 0). */
int hsn_valid(const char *s);

/* Normalises a phone number to E.164: spaces, dashes, dots and brackets
 * dropped; a 10-digit Indian mobile (leading 6-9) or one with a leading 0
 * or 91 gains +91; a number with + (or the international prefix 00) keeps
 * its country code and must have 8..15 digits, exactly 12 after +91. Bare
 * landlines (no trunk 0 or code) are refused. Returns 0 with out (at most
 * 16 characters) or -1 (out "") when it cannot be a phone number. */
int phone_e164(const char *in, char out[17]);

#endif
