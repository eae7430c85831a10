/**
 * A package block made literal for mutation tests: a delta (format 1.2+: implicit fixups,
 * 2.1: intra references and extra base ranges) decoded against OLD as the runtime would, its
 * implicit fixups listed as records. Tests that edit a block's bytes edit these.
 */
import { expandRefScan } from '../../formats/ref-scan.ts';
import { impliedFixups } from '../../formats/implicit-fixups.ts';
import { baseRanges, materialiseDelta } from '../../formats/intra-refs.ts';
import { movesOf, type Moves } from '../../formats/moves.ts';
import type { BlockBytes, Fixup } from '../../formats/package.ts';
import { gather } from '../../formats/delta-index.ts';

export function literalBlock(b: { readonly bytes: BlockBytes; readonly fixups: readonly Fixup[] }, old: Uint8Array, imageBase: bigint, sizeOfImage: number, moves?: Moves): { bytes: Uint8Array; fixups: Fixup[] } {
  if (b.bytes.kind === 'literal') return { bytes: b.bytes.bytes.slice(), fixups: [...b.fixups] };
  if (b.bytes.kind === 'sealed') throw new Error('the block is sealed: unsealPackage first');
  const base = gather(old, baseRanges(b.bytes));
  if (base === null) throw new Error("the block's base is outside OLD");
  const bytes = materialiseDelta(b.bytes, base);
  if (!bytes.ok) throw new Error('the block does not decode against OLD');
  // 2.6: reference fields left to the scan, listed as the runtime lists them.
  const listed = b.bytes.refScan === undefined ? { ok: true as const, value: b.bytes } : expandRefScan(b.bytes, bytes.value, moves ?? movesOf({ functions: [], dataBlocks: [] }), sizeOfImage, b.fixups, 'delta');
  if (!listed.ok) throw new Error(`the block's scanned references do not open: ${listed.error.message}`);
  const implied = impliedFixups(listed.value, bytes.value, imageBase, sizeOfImage, 'delta', moves);
  if (!implied.ok) throw new Error('the block does not decode against OLD');
  return { bytes: bytes.value, fixups: [...b.fixups, ...implied.value] };
}
