/*
 * entry-args-pshapes (a probe, test/probe-args-live.test.ts): more shapes of parameters that
 * change meaning while every register keeps its pointer/integer role, the module calling the
 * exports only through pointers (no call site shows the new order). Each has a twin (`*_fix`)
 * that keeps its signature and changes its logic, which must stay hotpatchable.
 * - copyn(dst, src, n) -> copyn(src, dst, n): two char pointers swapped in a copy loop.
 * - cpy(dst, src) -> cpy(src, dst): two char pointers swapped on their way to strcpy and strlen.
 * - drop4(a, b, c, d) -> drop4(a, c, d): a middle parameter of four removed (two slots move).
 * - move_api(to, from) -> move_api(from, to), an export whose body is `jmp move_impl` in both
 *   builds (unchanged), entering move_impl, whose two struct pointers swap: the old callers'
 *   registers reach the changed body unmoved.
 */
#define HP_NAME "entry-args-pshapes"
#include <string.h>
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT void copyn(char *dst, const char *src, int n) { for (int i = 0; i < n; i++) dst[i] = (char)(src[i] ^ 0x20); }
HP_FN HP_EXPORT size_t cpy(char *dst, const char *src) { strcpy(dst, src); return strlen(dst); }
HP_FN HP_EXPORT int drop4(int a, int b, int c, int d) { return a * 1000 + b * 100 + c * 10 + d; }
#else
HP_FN HP_EXPORT void copyn(const char *src, char *dst, int n) { for (int i = 0; i < n; i++) dst[i] = (char)(src[i] ^ 0x20); }
HP_FN HP_EXPORT size_t cpy(const char *src, char *dst) { strcpy(dst, src); return strlen(dst); }
HP_FN HP_EXPORT int drop4(int a, int c, int d) { return a * 1000 + c * 10 + d; }
#endif

struct pt { int x, y; long long tag; };

#if HP_VERSION == 1
HP_FN void move_impl(struct pt *to, const struct pt *from) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
HP_FN void move_impl_fix(struct pt *to, const struct pt *from) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
#else
HP_FN void move_impl(const struct pt *from, struct pt *to) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
HP_FN void move_impl_fix(struct pt *to, const struct pt *from) { to->x = from->x + 2; to->y = from->y * 3; to->tag = from->tag; }
#endif
HP_EXPORT void move_api(void *a, void *b) { move_impl(a, b); }
HP_EXPORT void move_api_fix(void *a, void *b) { move_impl_fix(a, b); }

#if HP_VERSION == 1
HP_FN HP_EXPORT void copyn_fix(char *dst, const char *src, int n) { for (int i = 0; i < n; i++) dst[i] = (char)(src[i] ^ 0x20); }
HP_FN HP_EXPORT size_t cpy_fix(char *dst, const char *src) { strcpy(dst, src); return strlen(dst); }
HP_FN HP_EXPORT int drop4_fix(int a, int b, int c, int d) { return a * 1000 + b * 100 + c * 10 + d; }
#else
HP_FN HP_EXPORT void copyn_fix(char *dst, const char *src, int n) { for (int i = 0; i < n; i++) dst[i] = (char)(src[i] ^ 0x20) + 1; }
HP_FN HP_EXPORT size_t cpy_fix(char *dst, const char *src) { strcpy(dst, src); return strlen(dst) + 1; }
HP_FN HP_EXPORT int drop4_fix(int a, int b, int c, int d) { (void)d; return a * 1000 + b * 100 + c * 10; }
#endif

static void *volatile hp_fns[] = { (void *)copyn, (void *)cpy, (void *)drop4, (void *)copyn_fix, (void *)cpy_fix, (void *)drop4_fix, (void *)move_api, (void *)move_api_fix };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
