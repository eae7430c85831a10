/**
 * Where a package's bytes go: builds the packages of the given pairs and splits each file
 * into header, payload (stored or zstd) and signature, and the compressed payload, then attributes the compressed payload to
 * its parts by ablation (the compressed size with the part removed, subtracted from the whole).
 * `node bin/run-ts.js bench/size-breakdown.ts [LABEL...]` (default: sharp A/B, lcss C, watcher D
 * and every sample). A pair the compiler refuses in part is broken down as its complete package
 * (bench/complete-package.ts: every change carried, unverified), what a full update would carry.
 */
import { encodePayload, payloadBreakdown } from '../formats/codec.ts';
import { encodePackage, readHeader } from '../formats/container.ts';
import { compressZstd, zstdLevelFor } from '../formats/zstd.ts';
import type { HotpatchPackage } from '../formats/package.ts';
import { benchKeys, corpusPairs, samplePairs } from './pairs.ts';
import { pairPackage } from './complete-package.ts';

const z = async (p: HotpatchPackage): Promise<number> => {
  const raw = encodePayload(p);
  const c = await compressZstd(raw, zstdLevelFor(raw.length));
  if (!c.ok) throw new Error(c.error.message);
  return c.value.length;
};

const ablations: Record<string, (p: HotpatchPackage) => HotpatchPackage> = {
  'code bytes': (p) => ({ ...p, codeBlocks: p.codeBlocks.map((b) => ({ ...b, bytes: { kind: 'literal', bytes: new Uint8Array(0) } })) }),
  'block fixups': (p) => ({ ...p, codeBlocks: p.codeBlocks.map((b) => ({ ...b, fixups: [] })), dataBlocks: p.dataBlocks.map((b) => ({ ...b, fixups: [] })) }),
  unwind: (p) => ({ ...p, codeBlocks: p.codeBlocks.map((b) => ({ ...b, unwind: null })) }),
  'data blocks': (p) => ({ ...p, dataBlocks: [] }),
  redirects: (p) => ({ ...p, redirects: [] }),
  functions: (p) => ({ ...p, functions: [] }),
  'relied ranges': (p) => ({ ...p, target: { ...p.target, reliedRanges: [] } }),
  // Format 2.2: the sealed frame and its dictionary ranges (the sealed blocks' lengths stay).
  sealed: ({ sealed: _, ...p }) => p,
  'identity rest': (p) => ({ ...p, target: { ...p.target, codeView: null, moduleName: '', reliedSha256: new Uint8Array(0), timeDateStamp: 0, checkSum: 0, sizeOfImage: 0, imageBase: 0n, machine: 0 } }),
  'series+producer': (p) => ({ ...p, series: { baselineId: '', sequence: 0 }, producer: { compilerVersion: '', parameters: [] } }),
};

const wanted = process.argv.slice(2);
const pairs = [...corpusPairs().filter((p) => ['sharp-0.34.4-0.34.5', 'sharp-0.34.3-0.34.4', 'lcss-1.29.1-1.29.2', 'watcher-2.5.0-2.5.1'].includes(p.label)), ...samplePairs(process.cwd())].filter((p) => p.missing === null && (wanted.length === 0 || wanted.some((w) => p.label.startsWith(w))));
for (const pair of pairs) {
  const built = await pairPackage(pair, (await benchKeys()).signingKey, true);
  if (typeof built === 'string') { console.log(pair.label, built); continue; }
  if (built.note !== null) console.log(`${pair.label}: ${built.note}`);
  const pkg = built.pkg;
  const whole = await z(pkg);
  const parts: string[] = [];
  for (const [name, f] of Object.entries(ablations)) parts.push(`${name} ${whole - (await z(f(pkg)))}`);
  const raw = payloadBreakdown(pkg);
  const fx = pkg.codeBlocks.reduce((n, c) => n + c.fixups.length, 0);
  const imp = [...pkg.codeBlocks, ...pkg.dataBlocks].reduce((n, c) => n + (c.bytes.kind === "delta" && c.bytes.implicit !== undefined ? c.bytes.implicit.rel32.length + c.bytes.implicit.abs64.length : 0), 0);
  const deltas = pkg.codeBlocks.filter((c) => c.bytes.kind === 'delta').length;
  const file = await encodePackage(pkg, { signingKey: (await benchKeys()).signingKey });
  const h = file.ok ? readHeader(file.value) : null;
  const how = h?.ok === true ? `header ${h.value.headerLength} + ${h.value.stored ? 'stored' : 'zstd'} payload ${h.value.payloadLength} + signature ${h.value.signatureLength}` : 'not encodable';
  console.log(`${pair.label}: file ${file.ok ? file.value.length : '?'} = ${how}; zstd payload ${whole} (raw ${raw.total}); marginal compressed: ${parts.join(', ')}`);
  console.log(`   raw: ${JSON.stringify(raw)}; ${pkg.codeBlocks.length} code blocks (${deltas} delta), ${fx} block fixups, ${imp} implicit, ${pkg.target.reliedRanges.length} relied ranges`);
}
