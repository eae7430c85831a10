/*
 * cpp-exceptions: a C++ function that throws and catches, and changes. parse_port throws
 * port_error from inside a try block of its own and catches it there, so its body carries
 * x64 unwind data (.pdata entry, .xdata UNWIND_INFO with the handler flags) naming the
 * personality routine __gxx_personality_seh0 plus its LSDA (the gcc_except_table call-site
 * and action records). v1 accepts port 0 and 65536; v2 rejects both (range 1..65535) and
 * rejects a trailing non-digit with its own message. The new body's .pdata/.xdata/LSDA must
 * come with the patch, or a throw in the patched code terminates the process.
 * Changed function: parse_port.
 *
 * objdump -d: `call <__cxa_throw>` and a landing pad calling __cxa_begin_catch in
 * <parse_port>; objdump -p: its UNWIND_INFO has EHANDLER|UHANDLER set.
 */
#define HP_NAME "cpp-exceptions"
#include "../common/harness.h"

struct port_error {
  const char *why;
  int code;
};

HP_EXTERN_C HP_FN int parse_port(const char *s, const char **why) {
  try {
    if (!s || !*s) throw port_error{ "empty", -1 };
    long v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
      v = v * 10 + (*s - '0');
      if (v > 1000000) throw port_error{ "too many digits", -2 };
    }
#if HP_VERSION == 1
    if (v > 65536) throw port_error{ "out of range", -3 };
#else
    if (*s) throw port_error{ "not a number", -4 };
    if (v < 1 || v > 65535) throw port_error{ "out of range", -3 };
#endif
    *why = "ok";
    return (int)v;
  } catch (const port_error &e) {
    *why = e.why;
    return e.code;
  }
}

static void hp_vectors(hp_out *o) {
  static const char *const inputs[] = { "80", "0", "65535", "65536", "99999999", "", "443x" };
  for (unsigned k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
    const char *why = "";
    int rc = parse_port(inputs[k], &why);
    out_str(o, "parse_port(\"");
    out_str(o, inputs[k]);
    out_str(o, "\") = ");
    out_int(o, rc);
    out_str(o, " (");
    out_str(o, why);
    out_str(o, ")");
    out_nl(o);
  }
}
