/**
 * A lossless JSON form of the package model, for golden files and for people reading a
 * package in full: bytes are lower-case hex strings, RVAs and 64-bit values are `0x` hex
 * strings (addends signed: `-0x4`), everything else is a plain number or string. Stable key
 * order (the model's), so a diff of two dumps is a diff of the packages.
 */
import { hex } from '../common/types.ts';
import { toHex } from './keys.ts';
import type { BlockBytes, Fixup, StoredOp, HotpatchPackage, RvaRange } from './package.ts';

/** JSON value types produced here. */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [k: string]: Json };

const range = (r: RvaRange): Json => ({ rva: hex(r.rva), length: r.length });

const signedHex = (v: bigint): string => (v < 0n ? `-${hex(-v)}` : hex(v));

function opJson(op: StoredOp): Json {
  if (op.kind === 'copy') return { copy: [op.offset, op.length] };
  if (op.kind === 'add') return { add: [op.offset, toHex(op.bytes)] };
  if (op.kind === 'sealed-literal') return { sealedLiteral: op.length };
  if (op.kind === 'sealed-add') return { sealedAdd: [op.offset, op.length] };
  return { literal: toHex(op.bytes) };
}

function bytesJson(b: BlockBytes): Json {
  if (b.kind === 'literal') return { literal: toHex(b.bytes) };
  if (b.kind === 'sealed') return { sealed: b.length };
  return {
    delta: {
      base: range(b.base),
      baseSha256: toHex(b.baseSha256),
      size: b.size,
      ops: b.ops.map(opJson),
      ...(b.implicit === undefined ? {} : { implicitRel32: [...b.implicit.rel32], implicitAbs64: [...b.implicit.abs64] }),
      ...(b.implicit?.moved === undefined ? {} : { implicitMovedRel32: [...b.implicit.moved] }),
      ...(b.implicit?.moved64 === undefined ? {} : { implicitMovedAbs64: [...b.implicit.moved64] }),
      ...(b.refScan === undefined ? {} : { refScanSkips: [...b.refScan] }),
      ...(b.scanLiterals === true ? { scanLiterals: true } : {}),
    },
  };
}

/** A 2.3 unwind delta: a block delta's JSON, with its extra base ranges. */
function unwindDeltaJson(d: Extract<BlockBytes, { kind: 'delta' }>): Json {
  const { delta } = bytesJson(d) as { delta: Record<string, Json> };
  return { ...delta, ...(d.extraBase === undefined || d.extraBase.length === 0 ? {} : { extraBase: d.extraBase.map(range) }) };
}

function fixupJson(f: Fixup): Json {
  const t = f.target;
  const target: Json =
    t.kind === 'image' ? { image: hex(t.rva) } : t.kind === 'block' ? { block: t.blockId, offset: t.offset } : t.kind === 'unwind' ? { unwind: t.offset } : { [t.kind]: t.index };
  return { kind: f.kind, offset: f.offset, target, addend: signedHex(f.addend) };
}

/** The whole package as JSON (see the module comment for the conventions). */
export function packageToJson(p: HotpatchPackage): Json {
  const t = p.target;
  return {
    target: {
      machine: hex(t.machine),
      timeDateStamp: hex(t.timeDateStamp),
      sizeOfImage: hex(t.sizeOfImage),
      checkSum: hex(t.checkSum),
      imageBase: hex(t.imageBase),
      codeView: t.codeView === null ? null : { guid: toHex(t.codeView.guid), age: t.codeView.age, pdbPath: t.codeView.pdbPath },
      moduleName: t.moduleName,
      reliedRanges: t.reliedRanges.map(range),
      reliedSha256: toHex(t.reliedSha256),
    },
    series: { baselineId: p.series.baselineId, sequence: p.series.sequence },
    codeBlocks: p.codeBlocks.map((b) => ({
      id: b.id,
      alignment: b.alignment,
      bytes: bytesJson(b.bytes),
      fixups: b.fixups.map(fixupJson),
      unwind:
        b.unwind === null
          ? null
          : {
              runtimeFunctions: b.unwind.runtimeFunctions.map((r) => [r.beginOffset, r.endOffset, r.unwindInfoOffset]),
              unwindInfo: toHex(b.unwind.unwindInfo),
              unwindFixups: b.unwind.unwindFixups.map(fixupJson),
              ...(b.unwind.infoDelta === undefined ? {} : { unwindDelta: unwindDeltaJson(b.unwind.infoDelta) }),
              ...(b.unwind.implicitAddr32nb === undefined ? {} : { implicitAddr32nb: [...b.unwind.implicitAddr32nb] }),
              ...(b.unwind.basePdata === true ? { basePdata: true } : {}),
            },
    })),
    dataBlocks: p.dataBlocks.map((b) => ({ id: b.id, alignment: b.alignment, bytes: bytesJson(b.bytes), fixups: b.fixups.map(fixupJson), ...(b.replaces === undefined ? {} : { replaces: range(b.replaces) }) })),
    imports: p.imports.map((i) => (i.symbol.kind === 'name' ? { dll: i.dll, name: i.symbol.name } : { dll: i.dll, ordinal: i.symbol.ordinal })),
    redirects: p.redirects.map((r) => ({
      oldRva: hex(r.oldRva),
      kind: r.kind,
      target: { block: r.target.blockId, offset: r.target.offset },
      expected: toHex(r.expected),
      pad: r.pad === null ? null : { rva: hex(r.pad.rva), expected: toHex(r.pad.expected) },
    })),
    functions: p.functions.map((f) => ({
      name: f.name,
      status: f.status,
      oldRva: f.oldRva === null ? null : hex(f.oldRva),
      newRva: hex(f.newRva),
      oldSize: f.oldSize,
      newSize: f.newSize,
      blockId: f.blockId,
      blockOffset: f.blockOffset,
    })),
    producer: { compilerVersion: p.producer.compilerVersion, parameters: p.producer.parameters.map((kv) => ({ key: kv.key, value: kv.value })) },
    // Since 2.2, only when some block is sealed (older dumps stay as they were).
    ...(p.sealed === undefined ? {} : { sealed: { dictionary: p.sealed.dictionary.map(range), frame: toHex(p.sealed.frame) } }),
    // Since 2.4, only when the package lists quiescent ranges.
    ...(p.quiescent === undefined || p.quiescent.length === 0 ? {} : { quiescent: p.quiescent.map(range) }),
  };
}
