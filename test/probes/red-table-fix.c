/*
 * red-table-fix (the twin of red-table): the .rdata name table keeps its order; v2 corrects
 * one entry in place ("three" -> "tres": every index keeps its meaning), v2's make clamps
 * the code it stores (the same codes for the pool's k) and v2's show reads the name's last
 * letter where v1 read its second. Changed: make, show (and the table).
 */
#define HP_NAME "red-table-fix"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
static const char *const g_names[4] = { "zero", "one", "two", "three" };
#else
static const char *const g_names[4] = { "zero", "one", "two", "tres" };
#endif

struct s { int n; int code; };

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->n = k;
#if HP_VERSION == 1
  o->code = k & 3;
#else
  o->code = k < 0 ? 0 : k & 3;
#endif
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  const char *name = g_names[o->code & 3];
#if HP_VERSION == 1
  return o->n * 1000 + name[0] * 10 + name[1] - 'a';
#else
  int last = 0;
  while (name[last + 1]) last++;
  return o->n * 1000 + name[0] * 10 + name[last] - 'a';
#endif
}

#include "red-pool.h"
