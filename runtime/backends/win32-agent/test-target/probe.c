/*
 * probe.dll: the function the agent's primitive tests patch. `value` must stay a real,
 * separate function (noinline, exported) whose first bytes the tests know only by reading the
 * file, and it is padded to 16 bytes so a 5-byte jump fits at its entry.
 */
__declspec(dllexport) __attribute__((noinline, aligned(16))) int value(int x) { return x + 1; }
__declspec(dllexport) __attribute__((noinline, aligned(16))) int other(int x) { return x * 3; }
