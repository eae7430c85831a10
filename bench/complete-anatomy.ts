/**
 * What a complete package (bench/complete-package.ts) of a real pair is made of, part by part,
 * with each part's compressed share by ablation. `node bin/run-ts.js bench/complete-anatomy.ts [LABEL...]`
 * (default watcher 2.5.0 -> 2.5.1).
 */
import { encodePayload } from '../formats/codec.ts';
import { compressZstd, zstdLevelFor } from '../formats/zstd.ts';
import type { CodeBlock, Fixup, HotpatchPackage } from '../formats/package.ts';
import { benchKeys, corpusPairs } from './pairs.ts';
import { pairPackage } from './complete-package.ts';

const z = async (p: HotpatchPackage): Promise<number> => {
  const raw = encodePayload(p);
  const c = await compressZstd(raw, zstdLevelFor(raw.length));
  if (!c.ok) throw new Error(c.error.message);
  return c.value.length;
};
const count = (m: Map<string, number>, k: string, n = 1): void => void m.set(k, (m.get(k) ?? 0) + n);
const show = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
const tgt = (f: Fixup, self: number): string => (f.target.kind === 'block' ? (f.target.blockId === self ? 'self' : 'block') : f.target.kind);

const wanted = process.argv.slice(2);
const labels = wanted.length > 0 ? wanted : ['watcher-2.5.0-2.5.1'];
for (const pair of corpusPairs().filter((p) => labels.some((l) => p.label.startsWith(l)) && p.missing === null)) {
  const built = await pairPackage(pair, (await benchKeys()).signingKey, true);
  if (typeof built === 'string') { console.log(pair.label, built); continue; }
  const pkg = built.pkg;
  console.log(`${pair.label}: ${built.note ?? 'verified build'}`);
  const storage = new Map<string, number>();
  const fixups = new Map<string, number>();
  const unwind = new Map<string, number>();
  const rec = new Map(pkg.functions.map((r) => [r.blockId, r] as const));
  for (const b of pkg.codeBlocks) {
    const r = rec.get(b.id);
    const who = r === undefined ? 'unrecorded' : r.status;
    const kind = b.bytes.kind;
    const size = kind === 'literal' ? b.bytes.bytes.length : kind === 'sealed' ? b.bytes.length : b.bytes.size;
    count(storage, `${who} ${kind} blocks`);
    count(storage, `${who} ${kind} bytes`, size);
    if (b.bytes.kind === 'delta') {
      const d = b.bytes;
      count(storage, 'implicit rel32', d.implicit?.rel32.length ?? 0);
      count(storage, 'implicit abs64', d.implicit?.abs64.length ?? 0);
      count(storage, 'implicit moved', d.implicit?.moved?.length ?? 0);
      count(storage, 'intra rel32', d.intra?.rel32.length ?? 0);
      count(storage, 'intra rel8', d.intra?.rel8.length ?? 0);
      count(storage, 'intra tables', d.intra?.tables.length ?? 0);
      count(storage, 'extra bases', d.extraBase?.length ?? 0);
      for (const o of d.ops) count(storage, `op ${o.kind}`);
    }
    for (const f of b.fixups) count(fixups, `${kind} ${f.kind}->${tgt(f, b.id)}`);
    const u = b.unwind;
    if (u === null) continue;
    const lit = u.infoDelta === undefined;
    count(unwind, lit ? 'literal blobs' : 'delta blobs');
    count(unwind, lit ? 'literal blob bytes' : 'delta blob bytes', lit ? u.unwindInfo.length : u.infoDelta!.size);
    count(unwind, 'runtime functions', u.runtimeFunctions.length);
    for (const f of u.unwindFixups) count(unwind, `${lit ? 'lit' : 'delta'} fixup ${f.kind}->${f.target.kind}`);
    count(unwind, 'implicit addr32nb', u.implicitAddr32nb?.length ?? 0);
    if (lit && r !== undefined) count(unwind, `literal blob of ${r.status}`);
  }
  for (const b of pkg.dataBlocks) {
    const kind = b.bytes.kind;
    count(storage, `data ${kind} blocks`);
    count(storage, `data ${kind} bytes`, kind === 'literal' ? b.bytes.bytes.length : kind === 'sealed' ? b.bytes.length : b.bytes.size);
    for (const f of b.fixups) count(fixups, `data ${f.kind}->${tgt(f, b.id)}`);
  }
  console.log('  storage:', show(storage));
  console.log('  fixups:', show(fixups));
  console.log('  unwind:', show(unwind));
  const whole = await z(pkg);
  const ablate = async (name: string, f: (b: CodeBlock) => CodeBlock): Promise<string> => `${name} ${whole - (await z({ ...pkg, codeBlocks: pkg.codeBlocks.map(f) }))}`;
  const parts = [
    await ablate('code fixups', (b) => ({ ...b, fixups: [] })),
    await ablate('literal-block fixups', (b) => (b.bytes.kind === 'delta' ? b : { ...b, fixups: [] })),
    await ablate('unwind runtime fns', (b) => (b.unwind === null ? b : { ...b, unwind: { ...b.unwind, runtimeFunctions: [] } })),
    await ablate('unwind fixups', (b) => (b.unwind === null ? b : { ...b, unwind: { ...b.unwind, unwindFixups: [] } })),
    await ablate('literal unwind blobs', (b) => (b.unwind === null || b.unwind.infoDelta !== undefined ? b : { ...b, unwind: { ...b.unwind, unwindInfo: new Uint8Array(0) } })),
    await ablate('unwind deltas', (b) => (b.unwind?.infoDelta === undefined ? b : { ...b, unwind: { ...b.unwind, infoDelta: { ...b.unwind.infoDelta, ops: [] } } })),
    await ablate('delta implicit', (b) => (b.bytes.kind !== 'delta' ? b : { ...b, bytes: { ...b.bytes, implicit: { rel32: [], abs64: [] } } })),
    await ablate('delta implicit moved', (b) => (b.bytes.kind !== 'delta' || b.bytes.implicit === undefined ? b : { ...b, bytes: { ...b.bytes, implicit: { ...b.bytes.implicit, moved: [] } } })),
    await ablate('delta intra', (b) => (b.bytes.kind !== 'delta' ? b : { ...b, bytes: { ...b.bytes, intra: { rel32: [], rel8: [], tables: [] } } })),
    await ablate('delta ops', (b) => (b.bytes.kind !== 'delta' ? b : { ...b, bytes: { ...b.bytes, ops: [] } })),
    await ablate('delta base rva = record old rva', (b) => (b.bytes.kind !== 'delta' || rec.get(b.id)?.oldRva !== b.bytes.base.rva ? b : { ...b, bytes: { ...b.bytes, base: { ...b.bytes.base, rva: 0 as never } } })),
    await ablate('delta bases', (b) => (b.bytes.kind !== 'delta' ? b : { ...b, bytes: { ...b.bytes, base: { rva: 0 as never, length: 0 }, extraBase: [] } })),
    `data blocks ${whole - (await z({ ...pkg, dataBlocks: [] }))}`,
    `data fixups ${whole - (await z({ ...pkg, dataBlocks: pkg.dataBlocks.map((b) => ({ ...b, fixups: [] })) }))}`,
    `functions ${whole - (await z({ ...pkg, functions: [] }))}`,
    `sealed ${whole - (await z({ ...pkg, sealed: { dictionary: [], frame: new Uint8Array(0) } }))} (frame ${pkg.sealed?.frame.length ?? 0})`,
  ];
  console.log(`  zstd payload ${whole}; marginal: ${parts.join(', ')}`);
}
