/**
 * Measures what FORMAT.md reports about the payload encoding: zstd size and time by level on
 * real package payloads, and what delta storage of changed bodies saves against literal
 * storage, before and after compression. Inputs are real: the compiler's packages for the
 * sample pairs and the cached real npm pairs (samples/real/cache), and, for payloads larger
 * than any real package here, "every .pdata function of a real DLL as an added literal
 * block" (real x64 code in the real wire format).
 *
 *   node bin/run-ts.js formats/scripts/measure-payloads.ts   (prints Markdown tables)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asRva } from '../../common/types.ts';
import { buildPackage, mapImage } from '../../compiler/index.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { cachePath, realPairs } from '../../samples/real/real-files.ts';
import { encodePayload } from '../codec.ts';
import { applyDelta, encodeDelta } from '../delta.ts';
import { hotpatch } from '../generated/hotpatch.js';
import type { CodeBlock, HotpatchPackage } from '../package.ts';
import { compressZstd, decompressZstd, ZSTD_MAX_CONTENT } from '../zstd.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LEVELS = [1, 3, 6, 9, 12, 15, 19];

interface Sample {
  readonly label: string;
  readonly pkg: HotpatchPackage;
  /** The OLD mapped image, to materialise delta blocks. */
  readonly oldImage: Uint8Array | null;
}

function samplePairs(): Sample[] {
  const scenarios = JSON.parse(readFileSync(join(ROOT, 'samples/scenarios.json'), 'utf8')) as Array<{ name: string; expect: string; steps: Array<{ from: string; to: string }> }>;
  const out: Sample[] = [];
  for (const s of scenarios.filter((x) => x.expect === 'hotpatchable')) {
    const step = s.steps[0]!;
    const a = new Uint8Array(readFileSync(join(ROOT, 'samples/bin', s.name, `${step.from}.dll`)));
    const b = new Uint8Array(readFileSync(join(ROOT, 'samples/bin', s.name, `${step.to}.dll`)));
    const r = buildPackage(a, b, { moduleName: `${s.name}.dll`, skipRefused: true, series: null, compilerVersion: 'measure' });
    if (!r.ok) continue;
    out.push({ label: `sample ${s.name}`, pkg: r.value.emitted.pkg, oldImage: mapped(a) });
  }
  return out;
}

function mapped(bytes: Uint8Array): Uint8Array | null {
  const pe = parsePe(bytes);
  if (!pe.ok) return null;
  const m = mapImage(bytes, pe.value);
  return m.ok ? m.value.image : null;
}

function realPackages(): Sample[] {
  const out: Sample[] = [];
  for (const p of realPairs()) {
    if (p.codeUnchanged === true) continue;
    const o = cachePath(p.old);
    const n = cachePath(p.new);
    if (!existsSync(o) || !existsSync(n)) continue;
    const a = new Uint8Array(readFileSync(o));
    const b = new Uint8Array(readFileSync(n));
    if (b.length > 4_000_000) continue; // keep the run short on a shared machine
    const r = buildPackage(a, b, { moduleName: p.label, skipRefused: true, series: null, compilerVersion: 'measure' });
    if (!r.ok || r.value.emitted.pkg.functions.length === 0) continue;
    out.push({ label: `real ${p.label}`, pkg: r.value.emitted.pkg, oldImage: mapped(a) });
  }
  return out;
}

/** Every .pdata function of a real DLL as an added literal block, up to `limit` payload bytes. */
function wholeCode(file: string, limit: number, template: HotpatchPackage): Sample | null {
  if (!existsSync(file)) return null;
  const bytes = new Uint8Array(readFileSync(file));
  const pe = parsePe(bytes);
  if (!pe.ok) return null;
  const img = mapImage(bytes, pe.value);
  if (!img.ok) return null;
  const blocks: CodeBlock[] = [];
  let total = 0;
  for (const f of pe.value.exceptions) {
    const start = f.beginAddress as number;
    const end = f.endAddress as number;
    if (end <= start || end > img.value.image.length) continue;
    blocks.push({ id: blocks.length, alignment: 16, bytes: { kind: 'literal', bytes: img.value.image.slice(start, end) }, fixups: [], unwind: null });
    total += end - start;
    if (total >= limit) break;
  }
  const pkg: HotpatchPackage = {
    ...template,
    codeBlocks: blocks,
    dataBlocks: [],
    imports: [],
    redirects: [],
    functions: blocks.map((b, i) => ({ name: null, oldRva: null, newRva: asRva(0x1000 + i), status: 'added', oldSize: 0, newSize: 1, blockId: b.id, blockOffset: 0 })),
  };
  return { label: `${file.split('/').slice(-2).join('/')} code, ${Math.round(total / 1024)} KiB`, pkg, oldImage: null };
}

/** The same package with every delta block stored literally. */
function allLiteral(s: Sample): HotpatchPackage | null {
  if (s.oldImage === null) return null;
  const img = s.oldImage;
  const codeBlocks = s.pkg.codeBlocks.map((b) => {
    if (b.bytes.kind !== 'delta') return b;
    const base = img.subarray(b.bytes.base.rva, b.bytes.base.rva + b.bytes.base.length);
    const r = applyDelta(base, b.bytes.ops, b.bytes.size);
    if (!r.ok) throw new Error(r.error.message);
    return { ...b, bytes: { kind: 'literal' as const, bytes: r.value } };
  });
  return { ...s.pkg, codeBlocks };
}

async function zstdRow(raw: Uint8Array): Promise<string[]> {
  const cells: string[] = [];
  for (const level of LEVELS) {
    const t0 = performance.now();
    const c = await compressZstd(raw, level);
    const t1 = performance.now();
    if (!c.ok) {
      cells.push('OOM');
      continue;
    }
    const d = await decompressZstd(c.value, ZSTD_MAX_CONTENT);
    const t2 = performance.now();
    if (!d.ok) throw new Error(d.error.message);
    cells.push(`${c.value.length} (${(t1 - t0).toFixed(1)}/${(t2 - t1).toFixed(1)} ms)`);
  }
  return cells;
}

const samples = [...samplePairs(), ...realPackages()];
const template = samples[0]?.pkg;
if (template === undefined) throw new Error('no sample package could be built');
const dll = join(ROOT, 'samples/real/cache/@img+sharp-win32-x64@0.34.5/libvips-42.dll');
for (const limit of [100_000, 400_000, 1_000_000, 2_000_000, 3_500_000]) {
  const w = wholeCode(dll, limit, template);
  if (w !== null) samples.push(w);
}

console.log(`## zstd by level (compressed bytes (compress/decompress ms)), zstd-codec 0.1.5\n`);
console.log(`| payload | raw bytes | ${LEVELS.map((l) => `level ${l}`).join(' | ')} |`);
console.log(`| --- | ---: | ${LEVELS.map(() => '---:').join(' | ')} |`);
for (const s of samples) {
  const raw = encodePayload(s.pkg);
  console.log(`| ${s.label} | ${raw.length} | ${(await zstdRow(raw)).join(' | ')} |`);
}

console.log(`\n## delta vs literal storage of changed bodies (payload bytes raw / zstd-19)\n`);
console.log('| package | delta blocks | as emitted raw | all literal raw | as emitted zstd | all literal zstd |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const s of samples) {
  const lit = allLiteral(s);
  if (lit === null) continue;
  const deltas = s.pkg.codeBlocks.filter((b) => b.bytes.kind === 'delta').length;
  const a = encodePayload(s.pkg);
  const b = encodePayload(lit);
  const za = await compressZstd(a, 19);
  const zb = await compressZstd(b, 19);
  console.log(`| ${s.label} | ${deltas}/${s.pkg.codeBlocks.length} | ${a.length} | ${b.length} | ${za.ok ? za.value.length : '-'} | ${zb.ok ? zb.value.length : '-'} |`);
}

console.log(`\n## encodeDelta on every changed function (old body -> new block bytes, before fixups)\n`);
console.log('| package | function | old size | new size | literal (encoded) | delta (encoded) | delta ops |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
let litTotal = 0;
let deltaTotal = 0;
for (const s of samples) {
  const lit = allLiteral(s);
  if (lit === null || s.oldImage === null) continue;
  for (const f of lit.functions) {
    if (f.status !== 'changed' || f.oldRva === null) continue;
    const b = lit.codeBlocks.find((x) => x.id === f.blockId);
    if (b === undefined || b.bytes.kind !== 'literal') continue;
    const base = s.oldImage.subarray(f.oldRva, f.oldRva + f.oldSize);
    const ops = encodeDelta(base, b.bytes.bytes);
    const litLen = hotpatch.BlockBytes.encode({ literal: b.bytes.bytes }).finish().length;
    const deltaLen = hotpatch.BlockBytes.encode({
      delta: { base: { rva: f.oldRva, length: f.oldSize }, baseSha256: new Uint8Array(32), size: b.bytes.bytes.length, ops: ops.map((o) => (o.kind === 'copy' ? { copy: { offset: o.offset, length: o.length } } : { literal: o.bytes })) },
    }).finish().length;
    litTotal += litLen;
    deltaTotal += Math.min(litLen, deltaLen);
    console.log(`| ${s.label} | ${f.name ?? '?'} | ${f.oldSize} | ${b.bytes.bytes.length} | ${litLen} | ${deltaLen} | ${ops.length} |`);
  }
}
console.log(`\nsmaller of the two per function: ${deltaTotal} bytes vs ${litTotal} all literal`);
