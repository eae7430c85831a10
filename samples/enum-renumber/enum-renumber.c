/*
 * enum-renumber: a producer and a consumer of an enum whose numbering changes, joined only
 * by an unchanged caller. v2 inserts KIND_EMPTY before the other kinds, so every value moves
 * by one. item_set and classify (the producer) write and read struct item, which gains a
 * field in v2: both are refused ("structure layout changed"). kind_name (the consumer) only changes its switch and
 * would be hotpatchable on its own. hp_vectors passes classify's result to kind_name and
 * its code is the same in both versions.
 * A strict build is refused. A --skip-refused package must not carry kind_name: old
 * classify would hand the new kind_name old numbers (v1's digit, 0, named "empty" by v2).
 * The rollup 4.64.7 -> 4.64.8 crash in node.exe was this class (test/real-live/README.md).
 * Changed functions: item_set, classify, kind_name.
 *
 * objdump -d: item_set and classify use [rcx+0x8..0x18] in v1 and [rcx+0x10..0x20] in v2, classify
 * returns 0..2 in v1, 0..3 in v2; kind_name's comparisons or table change with the numbering.
 */
#define HP_NAME "enum-renumber"
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
/* hp_run runs on the host's worker thread too: one vector loop uses g_pool at a time. */
static volatile long g_pool_lock;

HP_FN void item_set(struct item *it, long long id, long long ch) {
  it->id = id;
#if HP_VERSION >= 2
  it->flags = 0;
#endif
  it->ch = ch;
  it->weight = id * 3;
  it->seen = id + 1;
}

HP_FN enum kind classify(const struct item *it) {
#if HP_VERSION >= 2
  if (it->ch == 0 || (it->flags & 1)) return KIND_EMPTY;
#endif
  if (it->seen == 0 || it->weight < 0) return KIND_OTHER;
  if (it->ch >= '0' && it->ch <= '9') return KIND_DIGIT;
  if ((it->ch >= 'a' && it->ch <= 'z') || (it->ch >= 'A' && it->ch <= 'Z')) return KIND_LETTER;
  return KIND_OTHER;
}

HP_FN const char *kind_name(enum kind k) {
  switch (k) {
#if HP_VERSION >= 2
    case KIND_EMPTY: return "empty";
#endif
    case KIND_DIGIT: return "digit";
    case KIND_LETTER: return "letter";
    case KIND_OTHER: return "other";
  }
  return "?";
}

static void hp_vectors(hp_out *o) {
  static const char chars[5] = {'7', 'q', '#', 'Z', 0};
  hp_lock(&g_pool_lock);
  for (int k = 0; k < 5; k++) {
    item_set(&g_pool.it, k, chars[k]);
    out_str(o, "kind_name(classify(");
    out_int(o, chars[k]);
    out_str(o, ")) = ");
    out_str(o, kind_name(classify(&g_pool.it)));
    out_nl(o);
  }
  hp_unlock(&g_pool_lock);
}
