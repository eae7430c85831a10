/*
 * enum-global: enum-renumber's producer and consumer, joined only through a global. v2
 * inserts KIND_EMPTY before the other kinds, so every value moves by one, and struct item
 * gains a field. classify_store (the producer) reads struct item and stores its kind in
 * g_last_kind: refused ("structure layout changed"). last_kind_name (the consumer) only
 * changes its switch and would be hotpatchable on its own. No function calls both, and no
 * unchanged function references both: observe and report, unchanged, each call one of them.
 * A strict build is refused. A --skip-refused package must not carry last_kind_name: old
 * classify_store would leave old numbers in g_last_kind for the new last_kind_name to name
 * (v1's digit, 0, named "empty" by v2).
 * Changed functions: item_set, classify_store, last_kind_name.
 *
 * objdump -d: classify_store stores 0..2 to g_last_kind in v1 and 0..3 in v2, and reads
 * [rcx+0x8..0x18] in v1 and [rcx+0x10..0x20] in v2; last_kind_name reads g_last_kind.
 */
#define HP_NAME "enum-global"
#include "../common/harness.h"

enum kind {
#if HP_VERSION >= 2
  KIND_EMPTY,
#endif
  KIND_DIGIT,
  KIND_LETTER,
  KIND_OTHER,
};

struct item {
  long long id;
#if HP_VERSION >= 2
  long long flags;
#endif
  long long ch;
  long long weight;
  long long seen;
};

/* Fixed-size storage: the object's layout changes, the writable section does not. */
static union {
  struct item it;
  char bytes[64];
} g_pool;
/* hp_run runs on the host's worker thread too: one vector loop uses the globals at a time. */
static volatile long g_pool_lock;

/* The value that passes from producer to consumer (exported, so it keeps its own symbol). */
HP_EXPORT volatile int g_last_kind;

HP_FN void item_set(struct item *it, long long id, long long ch) {
  it->id = id;
#if HP_VERSION >= 2
  it->flags = 0;
#endif
  it->ch = ch;
  it->weight = id * 3;
  it->seen = id + 1;
}

HP_FN void classify_store(const struct item *it) {
  enum kind k = KIND_OTHER;
#if HP_VERSION >= 2
  if (it->ch == 0 || (it->flags & 1)) k = KIND_EMPTY;
  else
#endif
  if (it->seen == 0 || it->weight < 0) k = KIND_OTHER;
  else if (it->ch >= '0' && it->ch <= '9') k = KIND_DIGIT;
  else if ((it->ch >= 'a' && it->ch <= 'z') || (it->ch >= 'A' && it->ch <= 'Z')) k = KIND_LETTER;
  g_last_kind = (int)k;
}

HP_FN const char *last_kind_name(void) {
  switch ((enum kind)g_last_kind) {
#if HP_VERSION >= 2
    case KIND_EMPTY: return "empty";
#endif
    case KIND_DIGIT: return "digit";
    case KIND_LETTER: return "letter";
    case KIND_OTHER: return "other";
  }
  return "?";
}

/* Unchanged: each reaches one side only. */
HP_FN void observe(const struct item *it) { classify_store(it); }
HP_FN const char *report(void) { return last_kind_name(); }

static void hp_vectors(hp_out *o) {
  static const char chars[5] = {'7', 'q', '#', 'Z', 0};
  hp_lock(&g_pool_lock);
  for (int k = 0; k < 5; k++) {
    item_set(&g_pool.it, k, chars[k]);
    observe(&g_pool.it);
    out_str(o, "last_kind_name(");
    out_int(o, chars[k]);
    out_str(o, ") = ");
    out_str(o, report());
    out_nl(o);
  }
  hp_unlock(&g_pool_lock);
}
