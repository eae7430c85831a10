/*
 * red-pack (a probe): `#pragma pack(1)` added: {char c; int x; short y} moves x from +4 to +1
 * and y from +8 to +5. Changed: make, show.
 */
#define HP_NAME "red-pack"
#include "../../samples/common/harness.h"

#if HP_VERSION == 2
#pragma pack(push, 1)
#endif
struct s {
  char c;
  int x;
  short y;
};
#if HP_VERSION == 2
#pragma pack(pop)
#endif

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->c = (char)k;
  o->x = k * 1000 + 1;
  o->y = (short)(k * 3);
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  return o->c * 100000LL + o->x * 10LL + o->y;
}

#include "red-pool.h"
