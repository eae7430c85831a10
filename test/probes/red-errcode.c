/*
 * red-errcode (an over-refusal check): check's return value changes meaning (v1 returns 0 on
 * error, v2 returns 1) and its callers are unchanged: a logic change the user wants, which
 * must stay hotpatchable (no layout is involved). Changed: check.
 */
#define HP_NAME "red-errcode"
#include "../../samples/common/harness.h"

struct s { int n; int v; };

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->n = k;
  o->v = k * 9 - 20;
}

HP_FN int check(const struct s *o) {
#if HP_VERSION == 1
  return o->v >= 0;
#else
  return o->v < 0;
#endif
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  return o->n * 100 + check(o);
}

#include "red-pool.h"
