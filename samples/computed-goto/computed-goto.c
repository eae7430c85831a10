/*
 * computed-goto: labels used as values. `resume` keeps a continuation: armed (mode 0), it stores
 * one of its own labels, taken from a static table of label addresses (`&&even`, `&&odd`: DIR64
 * pointers into the function's body), in the caller's struct; resumed (mode 1), it jumps there
 * (`jmp [rcx]`). v2 fixes `even` (2a + 2 instead of 2a + 1).
 *
 * Not hotpatchable: a label is an address inside the function, and a copy of it kept in data
 * (here the caller's struct) outlives the call. A continuation armed before the patch holds an
 * address inside OLD's body and resumes the old code after it: a redirect at the entry never
 * reaches it, and no jump can be written at a label without overwriting the code around it.
 * That is the rule for every data pointer to changed code (issue #14): redirected, or refused.
 * Continuations armed after the patch are fine (the package carries NEW's label table as a data
 * block pointing into the new body): the build of main before this rule applied live under Wine
 * printed v2's output. The analysis refuses a changed function any relocated pointer lands
 * inside of, past its entry (compiler/disasm/decode-function.ts).
 * Changed function: resume.
 */
#define HP_NAME "computed-goto"
#include "../common/harness.h"

struct cont {
  void *next;
  int acc;
};

static int arms;

/* A call makes resume a non-leaf: clang then gives it a .pdata entry too, so in both builds its
 * extent is known and the labels lie inside it (a leaf without .pdata is split at the labels,
 * each a function entry the patch redirects). */
HP_FN void count_arm(void) { arms++; }

HP_FN int resume(struct cont *c, int n, int mode) {
  static void *const labels[] = { &&even, &&odd };
  if (mode == 0) {
    count_arm();
    c->next = labels[n & 1];
    c->acc = n;
    return 0;
  }
  goto *c->next;
even:
#if HP_VERSION == 1
  return c->acc * 2 + 1;
#else
  return c->acc * 2 + 2;
#endif
odd:
  return c->acc * 3;
}

static void hp_vectors(hp_out *o) {
  struct cont c = { 0, 0 };
  for (int n = 0; n < 4; n++) {
    resume(&c, n, 0);
    out_str(o, "resume(");
    out_int(o, n);
    out_str(o, ") = ");
    out_int(o, resume(&c, n, 1));
    out_nl(o);
  }
}
