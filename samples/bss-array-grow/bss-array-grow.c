/*
 * bss-array-grow: a zero-initialised global ring buffer grows (4 -> 8 entries) and its
 * producer and consumer change with it, while another global follows it. Patched, new
 * ring_push would write entries 4-7 over what follows the OLD 32-byte array (g_total,
 * g_next). gcc: .bss grows (0x150 -> 0x170): refused WRITABLE_SECTION_RESIZED. clang (.bss
 * folded into .data): .data grows, and new ring_push's reference to g_ring lands past the
 * end of the old global (UNRESOLVED_REFERENCE). A pin: no rule was added for it.
 * Changed functions: ring_push, ring_sum, ring_reset.
 *
 * objdump -h: .bss (gcc) / .data (clang) 0x20 bytes larger in v2.
 */
#define HP_NAME "bss-array-grow"
#include "../common/harness.h"
#if HP_VERSION == 1
#define RING 4
#else
#define RING 8
#endif
static long long g_ring[RING];
static long long g_total;
static int g_next;
static volatile long g_lock;

HP_FN void ring_push(long long v) {
  g_ring[g_next % RING] = v;
  g_next++;
  g_total += v;
}

HP_FN long long ring_sum(void) {
  long long s = 0;
  for (int i = 0; i < RING; i++) s += g_ring[i];
  return s * 1000 + g_total;
}

/* Every call starts from an empty ring, so each call prints the same lines. */
HP_FN void ring_reset(void) {
  for (int i = 0; i < RING; i++) g_ring[i] = 0;
  g_next = 0;
  g_total = 0;
}

/* Five pushes: v1's ring wraps at the fifth, v2's does not. */
static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  ring_reset();
  for (int k = 1; k <= 5; k++) {
    ring_push(k * 7);
    out_str(o, "ring_sum(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, ring_sum());
    out_nl(o);
  }
  hp_unlock(&g_lock);
}
