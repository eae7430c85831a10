/**
 * What `hotpatch inspect` shows: a loaded package summarised per function, block, import and
 * redirect, with the signature status and the size breakdown of the file. Pure; the CLI
 * renders it as text or prints it as JSON.
 */
import { hex } from '../common/types.ts';
import { payloadBreakdown, type PayloadBreakdown } from './codec.ts';
import type { LoadedPackage, SignatureStatus } from './container.ts';
import { toHex } from './keys.ts';
import type { BlockBytes, CodeBlock, HotpatchPackage } from './package.ts';
import { blockSize, sealedLength, unwindInfoLength } from './validate.ts';
import { implicitSpans } from './implicit-fixups.ts';

/** One function of the package with the sizes of what it brings. */
export interface FunctionSummary {
  readonly name: string | null;
  readonly status: 'changed' | 'added';
  readonly oldRva: string | null;
  readonly newRva: string;
  readonly oldSize: number;
  readonly newSize: number;
  readonly blockId: number;
  /** Bytes of its code block once materialised. */
  readonly code: number;
  /** How the block is stored and how many bytes that takes (literal bytes or delta ops). */
  readonly storage: 'literal' | 'delta' | 'sealed';
  readonly stored: number;
  readonly fixups: number;
  /** RUNTIME_FUNCTION entries (12 bytes each) plus UNWIND_INFO bytes. */
  readonly unwind: number;
}

/** The inspect report (also the `--json` output). */
export interface PackageReport {
  readonly format: string;
  readonly signature: SignatureStatus;
  readonly target: {
    readonly moduleName: string;
    readonly machine: string;
    readonly timeDateStamp: string;
    readonly sizeOfImage: string;
    readonly checkSum: string;
    readonly imageBase: string;
    readonly codeView: { readonly guid: string; readonly age: number; readonly pdbPath: string } | null;
    readonly reliedRanges: number;
    readonly reliedBytes: number;
    readonly reliedSha256: string;
  };
  readonly series: { readonly baselineId: string; readonly sequence: number };
  readonly producer: { readonly compilerVersion: string; readonly parameters: ReadonlyArray<{ readonly key: string; readonly value: string }> };
  readonly functions: readonly FunctionSummary[];
  readonly dataBlocks: ReadonlyArray<{ readonly id: number; readonly size: number; readonly storage: 'literal' | 'delta' | 'sealed'; readonly fixups: number }>;
  readonly imports: ReadonlyArray<{ readonly dll: string; readonly symbol: string }>;
  readonly redirects: ReadonlyArray<{ readonly oldRva: string; readonly kind: string; readonly blockId: number; readonly offset: number; readonly padRva: string | null }>;
  /**
   * Since 2.2: the sealed blocks (their bytes in one zstd frame compressed against old-image
   * ranges): how many blocks, their bytes, the frame's size and the dictionary's ranges and
   * bytes. Null when no block is sealed.
   */
  readonly sealed: { readonly blocks: number; readonly bytes: number; readonly frame: number; readonly dictionaryRanges: number; readonly dictionaryBytes: number } | null;
  /** Since 2.4: the OLD ranges no thread may be inside at the patch (hex RVA, length, the function whose old entry lies in it or null). */
  readonly quiescent: ReadonlyArray<{ readonly rva: string; readonly length: number; readonly function: string | null }>;
  readonly sizes: {
    readonly file: number;
    readonly header: number;
    readonly payload: number;
    readonly signature: number;
    readonly uncompressed: number;
    /** How the payload is held: a zstd frame, or the protobuf itself (format 2's STORED flag). */
    readonly payloadStorage: 'zstd' | 'stored';
    readonly byKind: PayloadBreakdown;
  };
}

/** A CodeView GUID in its registry form; the first three fields are little-endian in the file. */
export function formatGuid(g: Uint8Array): string {
  if (g.length !== 16) return toHex(g);
  const h = (i: number, n: number, rev: boolean): string => {
    const part = Array.from(g.subarray(i, i + n));
    return toHex(Uint8Array.from(rev ? part.reverse() : part));
  };
  return `${h(0, 4, true)}-${h(4, 2, true)}-${h(6, 2, true)}-${h(8, 2, false)}-${h(10, 6, false)}`.toUpperCase();
}

function storedSize(b: BlockBytes): number {
  if (b.kind === 'literal') return b.bytes.length;
  if (b.kind === 'sealed') return b.length;
  return b.ops.reduce((n, op) => n + (op.kind === 'copy' || op.kind === 'sealed-add' ? 8 : op.kind === 'add' ? 8 + op.bytes.filter((x) => x !== 0).length : op.kind === 'sealed-literal' ? 0 : op.bytes.length), 0);
}

function unwindSize(b: CodeBlock): number {
  return b.unwind === null ? 0 : b.unwind.runtimeFunctions.length * 12 + unwindInfoLength(b.unwind);
}

function summarise(p: HotpatchPackage): Pick<PackageReport, 'functions' | 'dataBlocks' | 'imports' | 'redirects'> {
  const code = new Map(p.codeBlocks.map((b) => [b.id, b] as const));
  return {
    functions: p.functions.map((f) => {
      const b = code.get(f.blockId);
      return {
        name: f.name,
        status: f.status,
        oldRva: f.oldRva === null ? null : hex(f.oldRva),
        newRva: hex(f.newRva),
        oldSize: f.oldSize,
        newSize: f.newSize,
        blockId: f.blockId,
        code: b === undefined ? 0 : blockSize(b.bytes),
        storage: b?.bytes.kind ?? 'literal',
        stored: b === undefined ? 0 : storedSize(b.bytes),
        fixups: b === undefined ? 0 : b.fixups.length + implicitSpans(b.bytes.kind === 'delta' ? b.bytes.implicit : undefined).length + (b.unwind?.unwindFixups.length ?? 0) + (b.unwind?.implicitAddr32nb?.length ?? 0),
        unwind: b === undefined ? 0 : unwindSize(b),
      };
    }),
    dataBlocks: p.dataBlocks.map((b) => ({ id: b.id, size: blockSize(b.bytes), storage: b.bytes.kind, fixups: b.fixups.length + implicitSpans(b.bytes.kind === 'delta' ? b.bytes.implicit : undefined).length })),
    imports: p.imports.map((i) => ({ dll: i.dll, symbol: i.symbol.kind === 'name' ? i.symbol.name : `#${i.symbol.ordinal}` })),
    redirects: p.redirects.map((r) => ({ oldRva: hex(r.oldRva), kind: r.kind, blockId: r.target.blockId, offset: r.target.offset, padRva: r.pad === null ? null : hex(r.pad.rva) })),
  };
}

function sealedSummary(p: HotpatchPackage): PackageReport['sealed'] {
  if (p.sealed === undefined) return null;
  // Blocks with sealed bytes: sealed blocks, and (2.2) delta blocks with sealed ops.
  const sealed = [...p.codeBlocks, ...p.dataBlocks].filter((b) => b.bytes.kind === 'sealed' || (b.bytes.kind === 'delta' && b.bytes.ops.some((op) => op.kind === 'sealed-literal' || op.kind === 'sealed-add')));
  return {
    blocks: sealed.length,
    bytes: sealedLength(p),
    frame: p.sealed.frame.length,
    dictionaryRanges: p.sealed.dictionary.length,
    dictionaryBytes: p.sealed.dictionary.reduce((n, r) => n + r.length, 0),
  };
}

/** The inspect report of a loaded package. */
export function describePackage(l: LoadedPackage): PackageReport {
  const p = l.package;
  const t = p.target;
  return {
    format: `${l.header.major}.${l.header.minor}`,
    signature: l.signature,
    target: {
      moduleName: t.moduleName,
      machine: hex(t.machine),
      timeDateStamp: hex(t.timeDateStamp),
      sizeOfImage: hex(t.sizeOfImage),
      checkSum: hex(t.checkSum),
      imageBase: hex(t.imageBase),
      codeView: t.codeView === null ? null : { guid: formatGuid(t.codeView.guid), age: t.codeView.age, pdbPath: t.codeView.pdbPath },
      reliedRanges: t.reliedRanges.length,
      reliedBytes: t.reliedRanges.reduce((n, r) => n + r.length, 0),
      reliedSha256: toHex(t.reliedSha256),
    },
    series: { baselineId: p.series.baselineId, sequence: p.series.sequence },
    producer: { compilerVersion: p.producer.compilerVersion, parameters: p.producer.parameters },
    ...summarise(p),
    sealed: sealedSummary(p),
    quiescent: (p.quiescent ?? []).map((r) => {
      const f = p.functions.find((x) => x.oldRva !== null && x.oldRva >= r.rva && x.oldRva - r.rva < r.length);
      return { rva: `0x${r.rva.toString(16)}`, length: r.length, function: f === undefined ? null : (f.name ?? `0x${f.oldRva!.toString(16)}`) };
    }),
    sizes: { ...l.sizes, payloadStorage: l.header.stored ? 'stored' : 'zstd', byKind: payloadBreakdown(p) },
  };
}

/**
 * One line for a signature status, the same in every command that loads a package
 * (inspect, verify, apply, live): "verified (key K)", "signed by key K, not verified (...)",
 * or "UNSIGNED (admitted by --allow-unsigned)".
 */
export function signatureLine(s: SignatureStatus): string {
  if (s.status === 'verified') return `verified (key ${s.keyId})`;
  if (s.status === 'not-verified') return `signed by key ${s.keyId}, not verified (pass --trust PUB to verify)`;
  return 'UNSIGNED (admitted by --allow-unsigned)';
}
