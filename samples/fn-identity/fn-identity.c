/*
 * fn-identity: the address of a changed function is a value the program compares and keeps.
 * v2 changes on_default (its result) and the three functions that take its address (lea)
 * to compare it with pointers OLD code and OLD data hold: is_default (with g_handler,
 * initialised in .data to on_default), slot_of_default (with g_slots, filled by the unchanged
 * register_all on the first run, before any patch) and weight_of (through the const table
 * `known`, whose weights change, so the package carries a copy of it). In NEW one function
 * has one address; in the patched OLD, old code and data hold the OLD entry of on_default
 * (which the redirect sends on to the new body), so new code must take that address too, not
 * the new body's: otherwise is_default says 0, slot_of_default -1 and weight_of 0 after the
 * patch, where NEW says 1, 0 and the default weight. (is_default and slot_of_default return
 * the same set of values in both versions, so clang's return-range propagation leaves their
 * callers unchanged.)
 * Changed functions: on_default, is_default, slot_of_default, weight_of.
 *
 * objdump -d: `lea on_default(%rip)` in is_default, slot_of_default, register_all;
 * objdump -p: DIR64 relocations for g_handler (.data) and `known` (.rdata).
 */
#define HP_NAME "fn-identity"
#include "../common/harness.h"

typedef int (*handler_fn)(int);

HP_FN int on_default(int x) {
#if HP_VERSION == 1
  return x + 1;
#else
  return x + 2;
#endif
}

HP_FN int on_custom(int x) { return x * 3; }

/* Initialised by the loader (a DIR64 relocation in .data): the OLD entry in a patched OLD. */
static handler_fn volatile g_handler = on_default;

/* Filled by unchanged code on the first run, before the patch: the OLD entry again. */
static handler_fn volatile g_slots[2];

HP_FN void register_all(void) {
  if (g_slots[0] == 0) {
    g_slots[0] = on_default;
    g_slots[1] = on_custom;
  }
}

HP_FN int is_default(void) {
#if HP_VERSION == 1
  return g_handler == on_default;
#else
  return g_handler != 0 && g_handler == on_default;
#endif
}

HP_FN int slot_of_default(void) {
#if HP_VERSION == 1
  for (int i = 0; i < 2; i++) {
#else
  for (int i = 1; i >= 0; i--) {
#endif
    if (g_slots[i] == on_default) return i;
  }
  return -1;
}

/* A const table keyed by function address; v2 changes the weights (the table is carried). */
struct known_handler {
  handler_fn fn;
  int weight;
};
#if HP_VERSION == 1
static const struct known_handler known[] = { { on_default, 5 }, { on_custom, 7 } };
#else
static const struct known_handler known[] = { { on_default, 6 }, { on_custom, 8 } };
#endif

HP_FN int weight_of(handler_fn h) {
  for (unsigned i = 0; i < sizeof known / sizeof known[0]; i++) {
    if (known[i].fn == h) return known[i].weight;
  }
  return 0;
}

static void hp_vectors(hp_out *o) {
  register_all();
  out_str(o, "on_default(4) = ");
  out_int(o, g_handler(4));
  out_nl(o);
  out_str(o, "is_default() = ");
  out_int(o, is_default());
  out_nl(o);
  out_str(o, "slot_of_default() = ");
  out_int(o, slot_of_default());
  out_nl(o);
  out_str(o, "weight_of(g_handler) = ");
  out_int(o, weight_of(g_handler));
  out_nl(o);
  out_str(o, "weight_of(slot 0) = ");
  out_int(o, weight_of(g_slots[0]));
  out_nl(o);
  out_str(o, "weight_of(slot 1) = ");
  out_int(o, weight_of(g_slots[1]));
  out_nl(o);
}
