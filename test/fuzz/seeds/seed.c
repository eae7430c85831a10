/* Fuzz seed (test/fuzz/seeds/build-seeds.ts): a DLL without the C runtime, small enough that
   a fuzz case decodes and diffs it in a few milliseconds, yet holding what discovery and diff
   parse: .pdata/.xdata (non-leaf functions), a jump table, a function-pointer table (base
   relocations), an import, exports, writable and read-only data, a static helper, a leaf
   function, a tail call and a recursive call. V=2 changes two functions, as a fix would:
   `leaf` (a constant) and `apply_op` (its jump table grows). */
#include <windows.h>
#ifndef V
#define V 1
#endif
int g_counter = 3;
static const char *const k_names[] = {"zero", "one", "two", "three"};
__attribute__((noinline)) static int clamp(int x) { return x < 0 ? 0 : x > 9 ? 9 : x; }
__attribute__((noinline)) int leaf(int x) { return x * 3 + V; }
__attribute__((noinline)) static int op_a(int x) { return x + 1; }
__attribute__((noinline)) static int op_b(int x) { return x - 2; }
static int (*const k_ops[])(int) = {op_a, op_b, leaf};
__declspec(dllexport) __attribute__((noinline)) int apply_op(int op, int x) {
  switch (op) {
  case 0: return x + 7;
  case 1: return x * 5;
  case 2: return x - 11;
  case 3: return x ^ 0x55;
  case 4: return x << 2;
  case 5: return x >> 1;
  case 6: return -x;
#if V == 2
  case 7: return x | 0x100;
#endif
  default: return clamp(x);
  }
}
__declspec(dllexport) int call_op(int i, int x) { return k_ops[(unsigned)i % 3](x) + g_counter++; }
__declspec(dllexport) int count(int n) { return n <= 0 ? 0 : count(n - 1) + (n & 1); }
__declspec(dllexport) const char *name_of(int i) { return k_names[clamp(i) & 3]; }
__declspec(dllexport) unsigned ticks(void) { return GetTickCount() + (unsigned)leaf(g_counter); }
__declspec(dllexport) int tail(int x) { return apply_op(x & 7, x); }
BOOL WINAPI DllMain(HINSTANCE h, DWORD r, LPVOID p) { (void)h; (void)p; if (r == 1) g_counter = clamp(g_counter); return TRUE; }
