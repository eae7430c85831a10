/**
 * Exported data whose value changed is refused, whether or not any code still reads it.
 *
 * An importer (the host program, another DLL) reads an exported object directly. When its
 * initial value changes between builds, the compiler may have folded the new constants into
 * the code that validates against it: the diff then shows only code changes, and a patch
 * would leave importers reading the old values while the patched code enforces the new ones.
 * Writable exports are covered by the writable-section comparison (any change is refused);
 * this covers the read-only ones (`const` objects in .rdata), which are otherwise compared
 * only through the code that references them.
 *
 * The object's extent is not recorded anywhere (COFF symbols carry no size): it runs from the
 * export to the next data item start (a referenced address, a symbol, another export) on
 * each side; the shorter of the two is compared, pointer fields by what they point at. An
 * extent that reaches past the object only makes the rule stricter.
 */
import type { Rva } from '../../common/types.ts';
import { absTarget, relocsIn } from '../image/map-image.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { reason } from './reasons.ts';
import type { DataChange } from './types.ts';

/** Data exports of an image by name: RVA and the end of the data item holding it. */
function dataExports(a: ImageAnalysis): Map<string, { rva: Rva; end: number }> {
  const out = new Map<string, { rva: Rva; end: number }>();
  const entries = a.img.pe.exports?.entries ?? [];
  const exportRvas = entries.filter((x) => x.forwarder === null).map((x) => x.rva);
  for (const x of entries) {
    if (x.forwarder !== null) continue;
    const rva = x.rva;
    if (a.fns.containing(rva) !== undefined) continue;
    const item = a.itemAt(rva);
    if (item === undefined || item.writable) continue;
    // Another export inside the same item ends this one.
    const end = Math.min(item.end, ...exportRvas.filter((r) => r > rva && r < item.end));
    out.set(x.name ?? `#${x.ordinal}`, { rva, end });
  }
  return out;
}

/** The normalised bytes of [rva, rva + len): pointer fields replaced by their targets' tokens. */
function valueForm(m: MatchResult, side: 'old' | 'new', rva: number, len: number): string {
  const a = side === 'old' ? m.old : m.new;
  const norm = side === 'old' ? m.oldNorm : m.newNorm;
  const img = a.img;
  const parts: string[] = [];
  let at = rva;
  for (const rel of relocsIn(img, rva, rva + len)) {
    const type = img.relocs.get(rel)!;
    parts.push(Buffer.from(img.image.subarray(at, rel)).toString('hex'), `<${norm.targetToken(null, absTarget(img, rel, type), 'exact')}>`);
    at = Math.min(rva + len, rel + (type === 10 ? 8 : 4));
  }
  parts.push(Buffer.from(img.image.subarray(at, rva + len)).toString('hex'));
  return parts.join('');
}

/** Refusals for read-only exported data whose value changed. */
export function diffExportedData(m: MatchResult): DataChange[] {
  const oe = dataExports(m.old);
  const ne = dataExports(m.new);
  const out: DataChange[] = [];
  for (const [name, n] of ne) {
    const o = oe.get(name);
    if (o === undefined) continue;
    const len = Math.min(o.end - o.rva, n.end - n.rva);
    if (valueForm(m, 'old', o.rva, len) === valueForm(m, 'new', n.rva, len)) continue;
    out.push({
      name,
      section: m.new.itemAt(n.rva)?.section ?? null,
      oldRva: o.rva,
      newRva: n.rva,
      size: len,
      status: 'changed',
      verdict: 'refused',
      reason: reason('EXPORTED_DATA_CHANGED', `exported data ${name} changed value: importers read the export directly and keep seeing the old value (the code may have folded the new one in), so this needs a new build loaded, not a hotpatch`, n.rva),
    });
  }
  return out;
}
