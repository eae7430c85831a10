/*
 * red-table (a probe): a .rdata name table is reordered (v1 {zero, one, two, three}, v2
 * reversed) and make stores v2's index for the same name (3 - k), so both versions print the
 * same. show (unchanged source) reads the table with the index an object holds: after a
 * patch, v1's objects hold v1's indexes. Changed: make (and the table).
 */
#define HP_NAME "red-table"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
static const char *const g_names[4] = { "zero", "one", "two", "three" };
#define SLOT(k) (k)
#else
static const char *const g_names[4] = { "three", "two", "one", "zero" };
#define SLOT(k) (3 - (k))
#endif

struct s { int n; int code; };

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->n = k;
  o->code = SLOT(k & 3);
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  const char *name = g_names[o->code & 3];
  return o->n * 1000 + name[0] * 10 + name[1] - 'a';
}

#include "red-pool.h"
