/*
 * rodata-identity: two const objects with equal contents are two objects. ops_x and ops_y
 * hold the same bytes (ops_z differs); the unchanged pick stores &ops_y in g_cur on the
 * first run, before any patch, and v2 changes is_y, which compares g_cur with &ops_y. A
 * package that resolves new code's &ops_y by content alone may take OLD's ops_x (the first
 * old object with those bytes) or carry a copy of ops_y (GCC lays out ops_x, ops_y, ops_z
 * adjacent, so ops_y's start is also ops_x's end and the pair travels glued): either way
 * g_cur == &ops_y is false after the patch, where NEW says true. The counterpart among old
 * objects of equal contents is the one matched code references at the same place
 * (compiler/diff/rodata-counterparts.ts).
 * Changed functions: is_y, and sum_of (so the output changes: 3 -> 12).
 *
 * objdump -t: ops_x, ops_y, ops_z in .rdata, 8 bytes each; objdump -d: `lea ops_y(%rip)`
 * in pick and is_y.
 */
#define HP_NAME "rodata-identity"
#include "../common/harness.h"

struct ops {
  int a;
  int b;
};

static const struct ops ops_z = { 7, 8 };
static const struct ops ops_y = { 1, 2 };
static const struct ops ops_x = { 1, 2 };

static const struct ops *volatile g_cur;

HP_FN void pick(void) {
  if (g_cur == 0) g_cur = &ops_y;
}

HP_FN int is_y(void) {
#if HP_VERSION == 1
  return g_cur == &ops_y;
#else
  return g_cur != 0 && g_cur == &ops_y;
#endif
}

HP_FN int is_x(void) { return g_cur == &ops_x || g_cur == &ops_z; }

HP_FN int sum_of(const struct ops *o) {
#if HP_VERSION == 1
  return o->a + o->b;
#else
  return o->a * 10 + o->b;
#endif
}

static void hp_vectors(hp_out *o) {
  pick();
  out_str(o, "is_y() = ");
  out_int(o, is_y());
  out_nl(o);
  out_str(o, "is_x() = ");
  out_int(o, is_x());
  out_nl(o);
  out_str(o, "sum_of(g_cur) = ");
  out_int(o, sum_of(g_cur));
  out_nl(o);
}
