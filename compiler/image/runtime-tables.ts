/**
 * Runtimes that keep their own tables of code addresses. A redirect sends a thread from an
 * old function's entry into code the image's own tables do not describe. For plain native
 * code that is fine: the OS learns about the new code through RtlAddFunctionTable (the
 * package's unwind data). Some language runtimes, though, walk stacks, collect garbage or
 * print tracebacks with tables of their own, keyed by program counter, and abort when a
 * program counter lies outside them. Patching such a binary kills the process it patches, so
 * the build refuses the whole image, naming the runtime and the evidence found.
 *
 * Detection works on stripped binaries: it rests on structures the runtime itself needs at
 * run time (and so cannot be stripped), not on file names or symbols. Symbols, when present,
 * only add evidence. See compiler/README.md ("Runtimes with their own code tables") for the
 * runtimes known and how each is treated.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { rvaAdd, type Rva } from '../../common/types.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { mapImage, type MappedImage } from './map-image.ts';

/** One piece of evidence that a runtime is present. */
export interface RuntimeEvidence {
  /** What was found, e.g. `pclntab header (magic 0xfffffff1) at RVA 0x72eb00`. */
  readonly what: string;
}

/** A runtime whose code tables a redirect would break. */
export interface RuntimeTables {
  /** The runtime, as people call it (`Go`, `.NET (CLR)`, `.NET Native AOT`). */
  readonly runtime: string;
  /** Its version when the image says (e.g. `go1.23.12`). */
  readonly version: string | null;
  readonly evidence: readonly RuntimeEvidence[];
  /** Why a redirect breaks it: one sentence. */
  readonly why: string;
}

const hexOf = (n: number): string => `0x${n.toString(16)}`;

/** Go pclntab magics: 1.2-1.15, 1.16-1.17, 1.18-1.19, 1.20+. */
const GO_PCLNTAB_MAGICS: ReadonlyMap<number, string> = new Map([
  [0xfffffffb, 'go1.2-1.15'],
  [0xfffffffa, 'go1.16-1.17'],
  [0xfffffff0, 'go1.18-1.19'],
  [0xfffffff1, 'go1.20+'],
]);
/** The go.buildinfo magic: the byte 0xff, then ' Go buildinf:'. */
const BUILDINFO = Uint8Array.from([0xff, ...new TextEncoder().encode(' Go buildinf:')]);

/** Initialised, non-executable sections: where Go keeps pclntab and buildinfo. */
export function dataSections(img: MappedImage): { rva: Rva; end: Rva; name: string }[] {
  return img.sections.filter((s) => !s.executable && s.rawSize > 0).map((s) => ({ rva: s.rva, end: rvaAdd(s.rva, Math.min(s.rawSize, s.size)), name: s.name }));
}

/**
 * A Go pclntab header at `at`: magic, two zero pad bytes, a quantum of 1/2/4, pointer size 8,
 * and (Go 1.18+) a text start that is the start of an executable section. The last check
 * makes a chance match of the 8 header bytes in unrelated data practically impossible.
 */
export function pclntabAt(img: MappedImage, dv: DataView, at: number): string | null {
  if (at + 32 > img.image.length) return null;
  const magic = dv.getUint32(at, true);
  const era = GO_PCLNTAB_MAGICS.get(magic);
  if (era === undefined) return null;
  if (img.image[at + 4] !== 0 || img.image[at + 5] !== 0) return null;
  const quantum = img.image[at + 6];
  if (quantum !== 1 && quantum !== 2 && quantum !== 4) return null;
  if (img.image[at + 7] !== 8) return null;
  const nfunc = dv.getBigUint64(at + 8, true);
  if (nfunc === 0n || nfunc > 10_000_000n) return null;
  if (magic === 0xfffffff0 || magic === 0xfffffff1) {
    const textStart = dv.getBigUint64(at + 24, true) - img.imageBase;
    if (!img.sections.some((s) => s.executable && BigInt(s.rva) === textStart)) return null;
    return `pclntab header (magic ${hexOf(magic)}, ${era}, ${nfunc} functions, text at RVA ${hexOf(Number(textStart))}) at RVA ${hexOf(at)}`;
  }
  return `pclntab header (magic ${hexOf(magic)}, ${era}, ${nfunc} functions) at RVA ${hexOf(at)}`;
}

/** The Go version string of a buildinfo blob (Go 1.18+ inline form), or null. */
function buildInfoVersion(img: MappedImage, at: number): string | null {
  const flags = img.image[at + 15] ?? 0;
  if ((flags & 2) === 0) return null;
  let len = 0;
  let shift = 0;
  let p = at + 32;
  for (; p < img.image.length && shift < 28; p++, shift += 7) {
    const b = img.image[p]!;
    len |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
  }
  p++;
  if (len <= 0 || len > 64 || p + len > img.image.length) return null;
  const s = String.fromCharCode(...img.image.subarray(p, p + len));
  return /^go[0-9][0-9A-Za-z.+-]*$/.test(s) ? s : null;
}

function findGo(img: MappedImage): RuntimeTables | null {
  const dv = new DataView(img.image.buffer, img.image.byteOffset, img.image.byteLength);
  const evidence: RuntimeEvidence[] = [];
  let version: string | null = null;
  let pcln = false;
  let info = false;
  for (const s of dataSections(img)) {
    // The pclntab is pointer-aligned; buildinfo is 16-aligned (the Go linker guarantees both).
    for (let at = (s.rva + 7) & ~7; at + 32 <= s.end; at += 8) {
      const b0 = img.image[at];
      if (!pcln && b0 !== undefined && b0 >= 0xf0 && img.image[at + 1] === 0xff && img.image[at + 2] === 0xff && img.image[at + 3] === 0xff) {
        const found = pclntabAt(img, dv, at);
        if (found !== null) {
          evidence.push({ what: `${found} (${s.name})` });
          pcln = true;
        }
      }
      if (!info && b0 === 0xff && (at & 15) === 0 && BUILDINFO.every((c, i) => img.image[at + i] === c)) {
        version = buildInfoVersion(img, at);
        evidence.push({ what: `go.buildinfo at RVA ${hexOf(at)} (${s.name})` });
        info = true;
      }
      if (pcln && info) break;
    }
    if (pcln && info) break;
  }
  for (const sym of img.pe.symbols) {
    if (sym.name === 'runtime.firstmoduledata' || sym.name === 'runtime.pclntab' || sym.name === 'go:buildid' || sym.name === 'go.buildid') {
      evidence.push({ what: `symbol ${sym.name}` });
      break;
    }
  }
  if (evidence.length === 0) return null;
  return {
    runtime: 'Go',
    version,
    evidence,
    why: 'the Go runtime finds every function through its own table of code addresses (pclntab, listed by runtime.firstmoduledata) to walk stacks for the garbage collector, preemption and tracebacks, and aborts the process ("fatal error: ...") when a thread runs code the table does not list, as redirected code would',
  };
}

/** IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR: the CLR header of a .NET assembly (IL-only, mixed-mode or ReadyToRun). */
const DIR_CLR = 14;

function findDotNet(img: MappedImage): RuntimeTables | null {
  const clr = img.pe.dataDirectories[DIR_CLR];
  if (clr !== undefined && clr.size >= 72 && clr.virtualAddress !== 0) {
    return {
      runtime: '.NET (CLR)',
      version: null,
      evidence: [{ what: `CLR header (COM descriptor directory, ${clr.size} bytes) at RVA ${hexOf(clr.virtualAddress)}` }],
      why: 'the CLR reaches managed and ReadyToRun code through its own method tables, precode stubs and GC info keyed by code address, and may re-JIT a method at any time; native redirects inside its code are not seen by it',
    };
  }
  const aot = img.pe.exports?.entries.find((e) => e.name === 'DotNetRuntimeDebugHeader');
  if (aot !== undefined) {
    return {
      runtime: '.NET Native AOT',
      version: null,
      evidence: [{ what: `export DotNetRuntimeDebugHeader at RVA ${hexOf(aot.rva)}` }],
      why: 'the Native AOT runtime walks managed stacks and finds GC info through its own tables of method addresses, which do not list redirected code',
    };
  }
  return null;
}

/** Every runtime found in `img` whose code tables a redirect would break (empty: none). */
export function findRuntimeTables(img: MappedImage): RuntimeTables[] {
  return [findGo(img), findDotNet(img)].filter((r): r is RuntimeTables => r !== null);
}

/** The one-line reason for refusing `img` (which names it `what`, e.g. OLD). */
export function runtimeTablesReason(t: RuntimeTables): string {
  return `${t.runtime}${t.version === null ? '' : ` ${t.version}`} runtime (${t.evidence.map((e) => e.what).join('; ')}): ${t.why}; no redirect into this image is safe`;
}

/**
 * BUILD_RUNTIME_TABLES when OLD or NEW holds a runtime that keeps its own code tables (see the
 * module comment); the build of such a pair stops here, with or without --skip-refused.
 */
export function refuseRuntimeTables(oldImg: MappedImage, newImg: MappedImage): Result<void> {
  for (const [img, which] of [
    [oldImg, 'OLD'],
    [newImg, 'NEW'],
  ] as const) {
    const t = findRuntimeTables(img)[0];
    if (t !== undefined) return err('BUILD_RUNTIME_TABLES', `${which} is built on the ${runtimeTablesReason(t)}`);
  }
  return ok(undefined);
}

/** refuseRuntimeTables on two PE files, before any diff (cheap: parse and map only). */
export function refuseRuntimeTablesOfFiles(oldBytes: Uint8Array, newBytes: Uint8Array): Result<void> {
  const imgs: MappedImage[] = [];
  for (const bytes of [oldBytes, newBytes]) {
    const pe = parsePe(bytes);
    if (!pe.ok) return pe;
    const img = mapImage(bytes, pe.value);
    if (!img.ok) return img;
    imgs.push(img.value);
  }
  return refuseRuntimeTables(imgs[0]!, imgs[1]!);
}
