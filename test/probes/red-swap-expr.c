/*
 * red-swap-expr (a twin of red-swap): the same struct in both versions; v2's show fixes
 * which weight each field takes (b*100 + a*10 for a*100 + b*10). Its loads of a and b come
 * out exactly as red-swap's show (the two offsets exchanged, all else the same), but no store
 * and no other function shows the exchange: a lone read-only exchange passes
 * (compiler/diff/field-swap.ts), and patched it prints v2. Changed: show.
 */
#define HP_NAME "red-swap-expr"
#include "../../samples/common/harness.h"

struct s {
  int a;
  int b;
  long long c;
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->a = k * 3;
  o->b = k * 5 + 1;
  o->c = k;
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
#if HP_VERSION == 1
  return o->a * 100 + o->b * 10 + o->c;
#else
  return o->b * 100 + o->a * 10 + o->c;
#endif
}

#include "red-pool.h"
