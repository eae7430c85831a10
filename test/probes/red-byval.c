/*
 * red-byval (a probe, with red-importer.c): a struct returned by value grows from 8 bytes
 * (rax) to 12 (a hidden pointer in rcx), and a struct parameter by value grows from 8 bytes
 * (in rcx) to 12 (passed by address). The importer, compiled against v1, calls both the
 * v1 way. Changed: get, weigh.
 */
#define HP_NAME "red-byval"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
struct r { int a; int b; };
#else
struct r { int a; int b; int c; };
#endif

HP_EXPORT HP_FN struct r get(int k) {
  struct r v = { 0 };
  v.a = k * 2;
  v.b = k * 3;
  return v;
}

HP_EXPORT HP_FN int weigh(struct r v) {
  return v.a * 10 + v.b;
}

static void hp_vectors(hp_out *o) {
  struct r v = get(5);
  out_str(o, "weigh(get(5)) = ");
  out_int(o, weigh(v));
  out_nl(o);
}
