/*
 * entry-args-alike (a probe, test/probe-args-live.test.ts): parameters that move where the
 * changed body's own uses of each argument slot cannot show it (issue #14, safety), the module
 * calling the exports only through pointers (no call site shows the new order). A module
 * compiled against v1 (entry-args-alike-importer.c) calls them in v1's order.
 * - order2(a, b) -> order2(b, a): two int pointers used exactly alike (each handed to the
 *   unchanged stamp(), which numbers the calls), only the order of the two calls tells them
 *   apart (case a). Every slot is handed to every call (its registers are untouched), so the
 *   use sets do not show it: the order of the first calls each is handed to in one argument
 *   position does (argument-uses.ts reorderedPass).
 * - calc_api(to, from), an unchanged export that computes its callee's arguments
 *   (`calc_impl(to + 1, from + 1)`: `add rcx,0x10` / `lea rcx,[rcx+0x10]` before its call or
 *   jump) entering calc_impl, whose two struct pointers swap (case b).
 * The twins (`*_fix`) keep their signatures and change their logic.
 */
#define HP_NAME "entry-args-alike"
#include "../../samples/common/harness.h"

struct pt { int x, y; long long tag; };

static int stamps;
HP_FN void stamp(int *p) { *p = *p + 10 * ++stamps; }

#if HP_VERSION == 1
HP_FN HP_EXPORT void order2(int *a, int *b) { stamp(a); stamp(b); }
HP_FN HP_EXPORT void order2_fix(int *a, int *b) { stamp(a); stamp(b); }
HP_FN void calc_impl(struct pt *to, const struct pt *from) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
HP_FN void calc_impl_fix(struct pt *to, const struct pt *from) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
#else
HP_FN HP_EXPORT void order2(int *b, int *a) { stamp(a); stamp(b); }
HP_FN HP_EXPORT void order2_fix(int *a, int *b) { stamp(a); stamp(b); stamp(a); }
HP_FN void calc_impl(const struct pt *from, struct pt *to) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
HP_FN void calc_impl_fix(struct pt *to, const struct pt *from) { to->x = from->x + 2; to->y = from->y * 3; to->tag = from->tag; }
#endif
HP_EXPORT void calc_api(void *a, void *b) { calc_impl((struct pt *)a + 1, (struct pt *)b + 1); }
HP_EXPORT void calc_api_fix(void *a, void *b) { calc_impl_fix((struct pt *)a + 1, (struct pt *)b + 1); }

static void *volatile hp_fns[] = { (void *)order2, (void *)order2_fix, (void *)calc_api, (void *)calc_api_fix };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
