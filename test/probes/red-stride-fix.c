/*
 * red-stride-fix: negative twin of red-stride (samples/heap-stride-fix as a probe). struct
 * cell has its third field `c` in both versions (12-byte elements that cells_fill writes
 * whole); v2's cells_sum starts adding c, a field old code already wrote in every cell. Old
 * and new cells_sum walk the array at the same 12-byte stride (at -O0: `imul rdx,rdx,0xc`
 * or gcc's `add rax,rax; add rax,rdx; shl rax,2` added to the reloaded pointer in both), so
 * the stride verdict (compiler/diff/element-stride.ts) must not fire: hotpatchable, and
 * patched live the sums include c.
 * The C is the sample's own (included; it names itself "heap-stride-fix" in its output).
 * Changed functions: cells_sum.
 */
#include "../../samples/heap-stride-fix/heap-stride-fix.c"
