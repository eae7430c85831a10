/*
 * string-change: only a read-only string changes. greeting's code is byte-identical in v1
 * and v2 (`lea rax,[rip+str]; ret`, and the string keeps its length so its RVA stays the
 * same), yet it returns different text: "Hello, wrold!" -> "Hello, world!". A diff that
 * compares code bytes alone misses it; the function counts as changed because the data it
 * references changed. Changed function: greeting (code identical, referenced .rdata string
 * changed).
 *
 * objdump -d: greeting is the same instruction bytes in both versions; objdump -s -j .rdata
 * shows the differing string.
 */
#define HP_NAME "string-change"
#include "../common/harness.h"

HP_FN const char *greeting(void) {
#if HP_VERSION == 1
  return "Hello, wrold!";
#else
  return "Hello, world!";
#endif
}

static void hp_vectors(hp_out *o) {
  out_str(o, "greeting() = ");
  out_str(o, greeting());
  out_nl(o);
}
