/* ident.c - the identifiers of Indian business (see ident.h): GSTINs, GST
 * state codes, HSN codes and phone numbers. They are checked byte by byte,
 * never through the locale, so a UTF-8 letter is never taken for an ASCII
 * one. Both the books (biz/) and sign-up (auth/) check them, which is why
 * they live below both. */
#include "base/ident.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

/* ---- GSTIN, state codes, HSN ------------------------------------------- */

int gst_state_valid(const char *code) {
  if (!code || !is_digit(code[0]) || !is_digit(code[1]) || code[2]) return 0;
  int v = (code[0] - '0') * 10 + (code[1] - '0');
  return (v >= 1 && v <= 38) || v == 97;
}

/* Indexed by the code's value: the names of the GST portal's list (25 and
 * 28 are codes of before the mergers of 2020 and 2014, still valid on old
 * registrations; 97 is "Other Territory"). */
static const char *const state_names[] = {
    [1] = "Jammu and Kashmir", [2] = "Himachal Pradesh", [3] = "Punjab",
    [4] = "Chandigarh", [5] = "Uttarakhand", [6] = "Haryana", [7] = "Delhi",
    [8] = "Rajasthan", [9] = "Uttar Pradesh", [10] = "Bihar",
    [11] = "Sikkim", [12] = "Arunachal Pradesh", [13] = "Nagaland",
    [14] = "Manipur", [15] = "Mizoram", [16] = "Tripura",
    [17] = "Meghalaya", [18] = "Assam", [19] = "West Bengal",
    [20] = "Jharkhand", [21] = "Odisha", [22] = "Chhattisgarh",
    [23] = "Madhya Pradesh", [24] = "Gujarat", [25] = "Daman and Diu",
    [26] = "Dadra and Nagar Haveli and Daman and Diu",
    [27] = "Maharashtra", [28] = "Andhra Pradesh (before division)",
    [29] = "Karnataka", [30] = "Goa", [31] = "Lakshadweep", [32] = "Kerala",
    [33] = "Tamil Nadu", [34] = "Puducherry",
    [35] = "Andaman and Nicobar Islands", [36] = "Telangana",
    [37] = "Andhra Pradesh", [38] = "Ladakh",
};

const char *gst_state_name(const char *code) {
  if (!gst_state_valid(code)) return NULL;
  int v = (code[0] - '0') * 10 + (code[1] - '0');
  return v == 97 ? "Other Territory" : state_names[v];
}

/* The value of a GSTIN character in base 36, or -1 (also for '\0'). */
static int b36(char c) {
  if (is_digit(c)) return c - '0';
  if (is_upper(c)) return c - 'A' + 10;
  return -1;
}

char gstin_check_char(const char *first14) {
  if (!first14) return '\0';
  int sum = 0;
  for (int i = 0; i < 14; i++) {
    int v = b36(first14[i]); /* stops at a short string's NUL */
    if (v < 0) return '\0';
    /* Luhn mod 36: every second character doubled, and a product above 35
     * folded back as its two base-36 digits added, which keeps doubling a
     * permutation of 0..35, so any single wrong character is caught. */
    int p = v * (i % 2 ? 2 : 1);
    sum += p / 36 + p % 36;
  }
  int c = (36 - sum % 36) % 36;
  return (char)(c < 10 ? '0' + c : 'A' + (c - 10));
}

static int gstin_fail(char *why, size_t whylen, const char *msg) {
  if (why && whylen) snprintf(why, whylen, "%s", msg);
  return -1;
}

int gstin_check(const char *gstin, char state[3], char *why, size_t whylen) {
  if (state) state[0] = '\0';
  if (why && whylen) why[0] = '\0';
  if (!gstin) return gstin_fail(why, whylen, "GSTIN is missing");
  size_t len = 0;
  while (len < 16 && gstin[len]) len++; /* no need to walk a long string */
  if (len != 15) return gstin_fail(why, whylen, "GSTIN must be 15 characters");
  if (!is_digit(gstin[0]) || !is_digit(gstin[1]))
    return gstin_fail(why, whylen,
                      "a GSTIN starts with a two-digit state code");
  char st[3] = {gstin[0], gstin[1], '\0'};
  if (!gst_state_valid(st)) {
    if (why && whylen)
      snprintf(why, whylen, "state code %s in the GSTIN is not a GST state",
               st);
    return -1;
  }
  /* Characters 3 to 12 are the holder's PAN: AAAAA9999A. */
  for (int i = 2; i < 7; i++)
    if (!is_upper(gstin[i]))
      return gstin_fail(why, whylen,
                        "characters 3 to 7 of a GSTIN (from the PAN) must be "
                        "capital letters");
  for (int i = 7; i < 11; i++)
    if (!is_digit(gstin[i]))
      return gstin_fail(
          why, whylen,
          "characters 8 to 11 of a GSTIN (from the PAN) must be digits");
  if (!is_upper(gstin[11]))
    return gstin_fail(why, whylen,
                      "character 12 of a GSTIN (from the PAN) must be a "
                      "capital letter");
  /* The holder's registrations in one state are counted 1-9, then A-Z. */
  if (!(is_upper(gstin[12]) || (gstin[12] >= '1' && gstin[12] <= '9')))
    return gstin_fail(why, whylen,
                      "character 13 of a GSTIN (the registration number) "
                      "must be 1-9 or A-Z");
  if (gstin[13] != 'Z')
    return gstin_fail(why, whylen, "character 14 of a GSTIN must be Z");
  char want = gstin_check_char(gstin);
  assert(want); /* the 14 characters were all checked above */
  if (gstin[14] != want) {
    if (why && whylen)
      snprintf(why, whylen, "GSTIN check character should be %c", want);
    return -1;
  }
  if (state) memcpy(state, st, 3);
  return 0;
}

int hsn_valid(const char *s) {
  if (!s) return 0;
  size_t i = 0;
  for (; s[i]; i++)
    if (i == 8 || !is_digit(s[i])) return 0;
  return i == 4 || i == 6 || i == 8;
}

/* ---- phone numbers ----------------------------------------------------- */

/* Writes "+" and n digits into out. */
static void put_e164(char out[17], const char *cc, const char *digits,
                     size_t n) {
  size_t ccl = strlen(cc);
  out[0] = '+';
  memcpy(out + 1, cc, ccl);
  memcpy(out + 1 + ccl, digits, n);
  out[1 + ccl + n] = '\0';
}

int phone_e164(const char *in, char out[17]) {
  if (!out) return -1;
  out[0] = '\0';
  if (!in) return -1;
  /* The longest form we take is "00" + 15 digits; a longer run of digits
   * is refused as soon as it is seen, so the buffer never overflows. */
  char dig[17];
  size_t nd = 0;
  int plus = 0;
  for (const char *p = in; *p; p++) {
    char c = *p;
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
    if (c == '+') {
      if (plus || nd) return -1; /* one +, before every digit */
      plus = 1;
      continue;
    }
    if (!is_digit(c) || nd == sizeof dig) return -1;
    dig[nd++] = c;
  }

  const char *intl = NULL; /* digits after the + (country code first) */
  size_t nintl = 0;
  if (plus) {
    intl = dig;
    nintl = nd;
  } else if (nd >= 2 && dig[0] == '0' && dig[1] == '0') {
    /* 00 is the international prefix dialled from India. */
    intl = dig + 2;
    nintl = nd - 2;
  } else if (nd == 10 && dig[0] >= '6' && dig[0] <= '9') {
    /* A bare mobile number. A bare 10 digits starting 0-5 would be a
     * landline with its STD code but without the trunk 0, too easily a
     * typo, so it is refused. */
    put_e164(out, "91", dig, 10);
    return 0;
  } else if (nd == 11 && dig[0] == '0') {
    /* Trunk 0 + 10 digits: a mobile or a landline with its STD code.
     * dig[1] is not 0 (that was the 00 branch). */
    put_e164(out, "91", dig + 1, 10);
    return 0;
  } else if (nd == 12 && dig[0] == '9' && dig[1] == '1' && dig[2] != '0') {
    put_e164(out, "91", dig + 2, 10);
    return 0;
  } else {
    return -1;
  }

  /* E.164: at most 15 digits; fewer than 8 is no real number anywhere
   * we sell to, and no country code starts with 0. */
  if (nintl < 8 || nintl > 15 || intl[0] == '0') return -1;
  /* India's numbers are always 10 digits after 91, so a +91 number of
   * another length is a typo, caught here rather than on WhatsApp. */
  if (intl[0] == '9' && intl[1] == '1' && (nintl != 12 || intl[2] == '0'))
    return -1;
  put_e164(out, "", intl, nintl);
  return 0;
}
