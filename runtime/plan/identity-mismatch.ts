/**
 * Naming what differs when a live module fails the package's checks: the section, the range
 * and the first differing byte. The original-bytes checks carry the expected bytes, so they
 * always can. The relied-on bytes are pinned by one SHA-256; to point at a byte the planner
 * needs a copy of the package's build (the caller's `reference`, e.g. the module's file read
 * from disk by the CLI), used only when its own relied-on hash equals the package's.
 */
import { hex } from '../../common/types.ts';
import { reliedHashMatches, type HotpatchPackage } from '../../formats/package.ts';
import { sha256 } from './hash.ts';

/** A section of the mapped module: name and RVA range. */
export interface MappedSectionHeader {
  readonly name: string;
  readonly rva: number;
  readonly size: number;
}

/** The section table read from a mapped module's headers (empty when they are unreadable). */
export function mappedSections(bytes: Uint8Array): MappedSectionHeader[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 0x40) return [];
  const nt = dv.getUint32(0x3c, true);
  if (nt + 24 > bytes.length) return [];
  const count = dv.getUint16(nt + 6, true);
  const first = nt + 24 + dv.getUint16(nt + 20, true);
  const out: MappedSectionHeader[] = [];
  for (let i = 0; i < count && first + (i + 1) * 40 <= bytes.length; i++) {
    const at = first + i * 40;
    let name = '';
    for (let k = 0; k < 8 && bytes[at + k] !== 0; k++) name += String.fromCharCode(bytes[at + k]!);
    const vsize = dv.getUint32(at + 8, true);
    out.push({ name, rva: dv.getUint32(at + 12, true), size: vsize !== 0 ? vsize : dv.getUint32(at + 16, true) });
  }
  return out;
}

/** `.text` for an RVA inside a section, `headers` below the first one, `no section` otherwise. */
export function sectionOf(sections: readonly MappedSectionHeader[], rva: number): string {
  const s = sections.find((x) => rva >= x.rva && rva < x.rva + x.size);
  if (s !== undefined) return s.name;
  return sections.length > 0 && rva < Math.min(...sections.map((x) => x.rva)) ? 'headers' : 'no section';
}

const byteHex = (b: number | undefined): string => (b === undefined ? '--' : `0x${b.toString(16).padStart(2, '0')}`);

/** First offset where `a` and `b` differ (both the same length), or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** The tail of an original-bytes mismatch: section and first differing byte. */
export function describeBytesMismatch(sections: readonly MappedSectionHeader[], rva: number, got: Uint8Array, want: Uint8Array): string {
  const i = Math.max(0, firstDifference(got, want));
  return `section ${sectionOf(sections, rva)}, range ${hex(rva)}+${want.length}, first differing byte at RVA ${hex(rva + i)} (offset ${i}): image has ${byteHex(got[i])}, package expects ${byteHex(want[i])}`;
}

/**
 * Why the relied-on bytes hash differs, as precisely as the inputs allow: with a reference
 * copy of the package's build, the section, relied range and first differing byte; without
 * one, the sections the relied ranges lie in.
 */
export async function describeReliedMismatch(
  pkg: HotpatchPackage,
  preferred: Uint8Array,
  reference: Uint8Array | null,
): Promise<string> {
  const sections = mappedSections(preferred);
  const ranges = pkg.target.reliedRanges;
  const names = [...new Set(ranges.map((r) => sectionOf(sections, r.rva)))];
  const where = `${ranges.length} relied range(s) in ${names.join(', ')}`;
  if (reference === null) return `${where}; no copy of the package's build was at hand to name the first differing byte`;
  const parts: Uint8Array[] = [];
  for (const r of ranges) {
    if (r.rva + r.length > reference.length) return `${where}; the module file is not the package's build (it is smaller)`;
    parts.push(reference.subarray(r.rva, r.rva + r.length));
  }
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  const h = await sha256(joined);
  if (!reliedHashMatches(h, pkg.target.reliedSha256)) return `${where}; the module's file is not the package's build either, so the process runs another build`;
  for (const r of ranges) {
    const got = preferred.subarray(r.rva, r.rva + r.length);
    const want = reference.subarray(r.rva, r.rva + r.length);
    const i = firstDifference(got, want);
    if (i < 0) continue;
    return `first difference in section ${sectionOf(sections, r.rva)}, relied range ${hex(r.rva)}+${r.length}, at RVA ${hex(r.rva + i)} (offset ${i} in the range): image has ${byteHex(got[i])}, the package's build has ${byteHex(want[i])}; the module in memory was changed after loading (another patch or tool, or the program itself)`;
  }
  return `${where}; no byte differs from the module's file`;
}
