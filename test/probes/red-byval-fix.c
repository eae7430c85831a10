/*
 * red-byval-fix (the twin of red-byval): the structs keep their size in both versions; v2 fixes
 * the arithmetic of weigh (a struct of two ints by value, in rcx: -O0 spills it and reads its
 * halves from the slot) and of weighq (a struct of four ints by value, passed by hidden
 * pointer). The parameters keep their roles: hotpatchable. Changed: weigh, weighq.
 */
#define HP_NAME "red-byval-fix"
#include "../../samples/common/harness.h"

struct r { int a; int b; };
struct q { int a; int b; int c; int d; };

HP_EXPORT HP_FN struct r get(int k) {
  struct r v = { 0 };
  v.a = k * 2;
  v.b = k * 3;
  return v;
}

HP_EXPORT HP_FN int weigh(struct r v) {
#if HP_VERSION == 1
  return v.a * 10 + v.b;
#else
  return v.a * 10 + v.b * 2;
#endif
}

HP_EXPORT HP_FN int weighq(struct q v) {
#if HP_VERSION == 1
  return v.a * 1000 + v.b * 100 + v.c * 10 + v.d;
#else
  return v.a * 1000 + v.b * 100 + v.c * 10 + v.d * 3;
#endif
}

static void hp_vectors(hp_out *o) {
  struct r v = get(5);
  struct q w = { 1, 2, 3, 4 };
  out_str(o, "weigh(get(5)) = ");
  out_int(o, weigh(v));
  out_nl(o);
  out_str(o, "weighq({1, 2, 3, 4}) = ");
  out_int(o, weighq(w));
  out_nl(o);
}
