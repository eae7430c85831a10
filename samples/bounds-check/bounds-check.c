/*
 * bounds-check: a security fix. v1's set_name copies any length into an 8-byte field (a
 * long name runs over into the next field, `tag`), and get_score reads any index (index 4
 * reads the neighbouring `secret`). v2 refuses both: -1. The overruns stay inside one
 * struct, so v1's (wrong) output is still deterministic. Changed functions: set_name,
 * get_score.
 *
 * objdump -d: v2's set_name and get_score start with a compare against 8 / 4 and a branch
 * to `mov $-1,%eax`; v1 has none.
 */
#define HP_NAME "bounds-check"
#include "../common/harness.h"

struct record {
  char name[8];
  char tag[8];
};

struct table {
  int scores[4];
  int secret;
};

HP_FN int set_name(struct record *r, const char *src, int len) {
#if HP_VERSION >= 2
  if (len < 0 || len > (int)sizeof r->name) return -1;
#endif
  char *dst = r->name;
  for (int i = 0; i < len; i++) dst[i] = src[i];
  return len;
}

HP_FN int get_score(const struct table *t, int idx) {
#if HP_VERSION >= 2
  if (idx < 0 || idx >= (int)(sizeof t->scores / sizeof t->scores[0])) return -1;
#endif
  return t->scores[idx];
}

static void hp_vectors(hp_out *o) {
  static const int lens[] = { 4, 8, 12 };
  for (unsigned k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    struct record r = { "--------", "tagtag." };
    int rc = set_name(&r, "ABCDEFGHIJKL", lens[k]);
    out_str(o, "set_name(len=");
    out_int(o, lens[k]);
    out_str(o, ") = ");
    out_int(o, rc);
    out_str(o, " name=");
    out_bytes(o, r.name, 8);
    out_str(o, " tag=");
    out_bytes(o, r.tag, 8);
    out_nl(o);
  }
  const struct table t = { { 10, 20, 30, 40 }, 0x5ec7e7 };
  for (int idx = 2; idx <= 4; idx++) {
    out_str(o, "get_score(idx=");
    out_int(o, idx);
    out_str(o, ") = ");
    out_int(o, get_score(&t, idx));
    out_nl(o);
  }
}
