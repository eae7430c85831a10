/**
 * The fixups that re-base a carried self-relative table (compiler/disasm/relative-tables.ts).
 *
 * Entry i holds `target - table`. Written as a rel32 fixup at offset 4i (S + A - P with
 * P = copy + 4i) with A = 4i, it becomes `S - copy` wherever the copy is placed: the code
 * that adds the table's address back gets S, the patched image's address of NEW's target.
 * A table whose entry count no bound check proves cannot be carried (the copy could stop
 * short of an entry the code reads, which would then point anywhere).
 */
import type { Fixup } from '../../formats/package.ts';
import type { RelativeTable } from '../disasm/relative-tables.ts';
import type { ReasonCode } from './reasons.ts';
import type { Resolved } from './resolve-target.ts';

/** The rel32 fixups of a carried table, each entry resolved by `resolve`, or why not. */
export function relativeEntryFixups(t: RelativeTable, resolve: (target: number) => Resolved): { ok: true; fixups: Fixup[] } | { ok: false; code: ReasonCode; reason: string } {
  if (t.count === null) return { ok: false, code: 'RELATIVE_TABLE_UNBOUNDED', reason: `self-relative table at 0x${t.rva.toString(16)} (entries relative to the table) has no bound check this compiler recognises: its extent is unknown, so it cannot be moved` };
  const fixups: Fixup[] = [];
  for (let i = 0; i < t.targets.length; i++) {
    const r = resolve(t.targets[i]!);
    if (!r.ok) return { ok: false, code: 'RODATA_NOT_CARRIED', reason: `entry ${i} of the self-relative table at 0x${t.rva.toString(16)}: ${r.reason}` };
    fixups.push({ kind: 'rel32', offset: 4 * i, target: r.target, addend: BigInt(4 * i) });
  }
  return { ok: true, fixups };
}
