/*
 * The harness every scenario DLL exports, identical in every version of every scenario:
 *
 *   int hp_run(char *out, int cap)   runs the scenario's test vectors and writes one result
 *                                     line per vector ("name(args) = result\n") into out,
 *                                     NUL-terminated; returns the length, or -1 when cap is
 *                                     too small (out then holds a truncated, terminated text).
 *   const char *hp_name(void)        the scenario name (HP_NAME).
 *
 * A scenario source defines HP_NAME, then includes this header, then defines
 * `static void hp_vectors(hp_out *o)` that prints its vectors with the out_* helpers below.
 *
 * Text is formatted here by hand rather than with sprintf: the harness then imports nothing,
 * so a DLL's import table only holds what the scenario itself (and the mingw startup code)
 * needs. That matters for `new-import`, whose v1 must not import the function v2 calls.
 * hp_run may run on several threads at once (the host's worker), so a scenario whose vectors
 * write a global object holds hp_lock over the whole loop: two loops sharing one object would
 * mix their results (an init by one thread between another's init and read), which looks
 * exactly like a wrong patch.
 */
#ifndef HP_HARNESS_H
#define HP_HARNESS_H

#ifndef HP_VERSION
#error "build with -DHP_VERSION=1, 2 or 3"
#endif

/* Keeps a function under test a real, separate function with its own body: not inlined,
 * not cloned (.constprop/.isra), and callers assume nothing about it across versions, so
 * only the functions a scenario lists change between versions. clang has no noipa: noinline
 * keeps the body, and since these functions have external linkage clang neither clones them
 * nor propagates constants across calls to them. */
#ifdef __clang__
#define HP_FN __attribute__((noinline))
#else
#define HP_FN __attribute__((noipa))
#endif

#ifdef __cplusplus
#define HP_EXTERN_C extern "C"
#else
#define HP_EXTERN_C
#endif
#define HP_EXPORT HP_EXTERN_C __declspec(dllexport)

typedef struct hp_out {
  char *p;
  int len;
  int cap;
  int overflow;
} hp_out;

static void out_ch(hp_out *o, char c) {
  if (o->len + 1 < o->cap) o->p[o->len++] = c;
  else o->overflow = 1;
}

static void out_str(hp_out *o, const char *s) {
  if (!s) s = "(null)";
  while (*s) out_ch(o, *s++);
}

static void out_int(hp_out *o, long long v) {
  char tmp[24];
  int n = 0;
  unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
  do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
  if (v < 0) out_ch(o, '-');
  while (n) out_ch(o, tmp[--n]);
}

static void out_hex(hp_out *o, unsigned long long v) {
  char tmp[16];
  int n = 0;
  do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  out_str(o, "0x");
  while (n) out_ch(o, tmp[--n]);
}

/* Printable form of n bytes (non-printable as '.'), for buffers the vectors inspect. */
static void out_bytes(hp_out *o, const char *b, int n) {
  for (int i = 0; i < n; i++) out_ch(o, b[i] >= 32 && b[i] < 127 ? b[i] : '.');
}

static void out_nl(hp_out *o) { out_ch(o, '\n'); }

/* A spin lock from compiler builtins only, so a DLL that uses it imports nothing more.
 * static inline: scenarios that do not use it compile to the same bytes as without it. */
static inline void hp_lock(volatile long *l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
}
static inline void hp_unlock(volatile long *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

static void hp_vectors(hp_out *o);

HP_EXPORT int hp_run(char *out, int cap) {
  hp_out o = { out, 0, cap, 0 };
  if (!out || cap <= 0) return -1;
  hp_vectors(&o);
  o.p[o.len] = 0;
  return o.overflow ? -1 : o.len;
}

HP_EXPORT const char *hp_name(void) { return HP_NAME; }

#endif
