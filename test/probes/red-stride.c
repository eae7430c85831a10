/*
 * red-stride: samples/heap-stride's v1/v2 pair as a probe, so that test/probe-red-live.test.ts
 * builds it at -O0, -O1, -O2 and -Os. v2's struct cell gains `c` at its end (8 -> 12 bytes);
 * the first hp_run call fills four cells with v1's cells_fill, every later call sums them.
 * At -O0 the pointer and the index live in stack slots and are reloaded before each access;
 * the index is scaled on its own and added to the pointer (gcc v1 `cdqe; lea rdx,[rax*8];
 * mov rax,[rbp+0x10]; add rax,rdx`, v2 `movsxd rdx,eax; mov rax,rdx; add rax,rax; add
 * rax,rdx; shl rax,2; ...; add rax,rdx`; clang v2 `imul rcx,rcx,0xc; add rax,rcx`, v1
 * `[rax+rcx*8]`). Patched live without the rule, new cells_sum walks v1's 8-byte cells in
 * 12-byte steps and prints neither version's sums. Refused STRUCTURE_STRIDE_CHANGED
 * (compiler/diff/element-stride.ts) at every level. Negative twin: red-stride-fix.
 * The C is the sample's own (included; it names itself "heap-stride" in its output).
 * Changed functions: cells_fill, cells_sum.
 */
#include "../../samples/heap-stride/heap-stride.c"
