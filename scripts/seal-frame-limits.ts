/**
 * How far a package's sealed frame (format 2.2) and its payload frame are from what zstd itself
 * could do with the same bytes, and what two content changes would cost in the frame, for the
 * packages the size scripts study (bench/complete-package.ts pairPackage: the verified build,
 * else the complete package, sealed). Before spending effort on the frame, this says whether the
 * compressor, the dictionary budget or the content is what bounds it.
 *
 * `node bin/run-ts.js scripts/seal-frame-limits.ts [LABEL...]` (default watcher 2.5.0 -> 2.5.1;
 * needs Debian's `zstd` on PATH). Per pair, in bytes:
 * - the sealed frame as zstd-codec wrote it, and the same content with the same dictionary by
 *   the `zstd` CLI (`-19 -D`, `--ultra -22 -D`): the encoder's own headroom;
 * - the content against the whole mapped OLD image (`-19 --long=27 --patch-from`): what the
 *   192 KiB dictionary budget (ZSTD_MAX_DICTIONARY, zstd-codec's heap) costs;
 * - the literal unwind blobs (not sealed since 2.2) added to the content, with a dictionary
 *   chosen for both (compiler/emit/seal.ts chooseDictionary, both run sizes): the frame's growth
 *   against the blobs' marginal share of the compressed payload (ablation, as
 *   bench/complete-anatomy.ts measures it);
 * - the add ops' bytes replaced by the bytes they produce (as literal ops would hold them);
 * - the payload frame (level 19 by zstd-codec) against the `zstd` CLI at `--ultra -22`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseDictionary } from '../compiler/emit/seal.ts';
import { encodePayload } from '../formats/codec.ts';
import { gather } from '../formats/delta-index.ts';
import { baseRanges } from '../formats/intra-refs.ts';
import type { HotpatchPackage } from '../formats/package.ts';
import { unsealPackage } from '../formats/seal.ts';
import { compressZstd, ZSTD_MAX_DICTIONARY, zstdLevelFor } from '../formats/zstd.ts';
import { pairPackage } from '../bench/complete-package.ts';
import { benchKeys, corpusPairs } from '../bench/pairs.ts';

const dir = mkdtempSync(join(tmpdir(), 'seal-limits-'));
const file = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
/** Compressed size by the zstd CLI (stdout only; its notes on stderr are dropped). */
const cli = (args: readonly string[], input: string): number => {
  const r = spawnSync('zstd', ['-q', '-c', ...args, input], { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`zstd ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout.length;
};
const concat = (xs: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(xs.reduce((n, x) => n + x.length, 0));
  xs.reduce((at, x) => (out.set(x, at), at + x.length), 0);
  return out;
};
const payloadZ = async (p: HotpatchPackage): Promise<number> => {
  const raw = encodePayload(p);
  const c = await compressZstd(raw, zstdLevelFor(raw.length));
  if (!c.ok) throw new Error(c.error.message);
  return c.value.length;
};

/** The sealed content in frame order, as it is and with each add op's bytes replaced by what it produces. */
function frameContent(open: HotpatchPackage, image: Uint8Array): { asIs: Uint8Array; addsProduced: Uint8Array } {
  const asIs: Uint8Array[] = [];
  const produced: Uint8Array[] = [];
  for (const b of [...open.codeBlocks, ...open.dataBlocks]) {
    if (b.bytes.kind === 'literal') asIs.push(b.bytes.bytes), produced.push(b.bytes.bytes);
    if (b.bytes.kind !== 'delta') continue;
    const base = gather(image, baseRanges(b.bytes));
    for (const op of b.bytes.ops) {
      if (op.kind === 'literal') asIs.push(op.bytes), produced.push(op.bytes);
      if (op.kind !== 'add' || base === null) continue;
      asIs.push(op.bytes);
      produced.push(op.bytes.map((x, i) => (x + base[op.offset + i]!) & 0xff));
    }
  }
  return { asIs: concat(asIs), addsProduced: concat(produced) };
}

const wanted = process.argv.slice(2);
const labels = wanted.length > 0 ? wanted : ['watcher-2.5.0-2.5.1'];
const { signingKey } = await benchKeys();
try {
  for (const pair of corpusPairs().filter((p) => p.missing === null && labels.some((l) => p.label.startsWith(l)))) {
    const built = await pairPackage(pair, signingKey, true);
    if (typeof built === 'string') { console.log(`${pair.label}: ${built}`); continue; }
    const pkg = built.pkg;
    const old = built.diff.match.old.img;
    if (pkg.sealed === undefined) { console.log(`${pair.label}: not sealed`); continue; }
    const open = unsealPackage(pkg, old.image);
    if (!open.ok) throw new Error(open.error.message);
    // Literal and add ops only: a sealed package's literal blocks are literal again once opened, its delta ops too.
    const { asIs, addsProduced } = frameContent(open.value, old.image);
    const dict = file('dict', gather(old.image, pkg.sealed.dictionary)!);
    const content = file('content', asIs);
    const blobs = concat(pkg.codeBlocks.flatMap((b) => (b.unwind !== null && b.unwind.infoDelta === undefined ? [b.unwind.unwindInfo] : [])));
    const withBlobs = concat([asIs, blobs]);
    const both = file('content+unwind', withBlobs);
    const grown = Math.min(...[4096, 2048].map((run) => cli(['-19', '-D', file(`dict${run}`, gather(old.image, chooseDictionary(old, withBlobs, ZSTD_MAX_DICTIONARY, 2, run))!)], both)));
    const whole = await payloadZ(pkg);
    const noBlobs = await payloadZ({ ...pkg, codeBlocks: pkg.codeBlocks.map((b) => (b.unwind === null || b.unwind.infoDelta !== undefined ? b : { ...b, unwind: { ...b.unwind, unwindInfo: new Uint8Array(0) } })) });
    const image = file('old-image', old.image);
    const row = (what: string, n: number | string): void => console.log(`  ${what}: ${n}`);
    console.log(`${pair.label}: ${built.note ?? 'verified build'}; sealed content ${asIs.length} bytes, dictionary ${pkg.sealed.dictionary.length} ranges`);
    row('sealed frame (zstd-codec, level 19)', pkg.sealed.frame.length);
    row('same content and dictionary, zstd CLI -19 / --ultra -22', `${cli(['-19', '-D', dict], content)} / ${cli(['--ultra', '-22', '-D', dict], content)}`);
    row('against the whole OLD image, zstd CLI -19 --long=27 --patch-from', cli(['-19', '--long=27', `--patch-from=${image}`], content));
    row(`with the ${blobs.length} bytes of literal unwind blobs, dictionary chosen for both (CLI -19) vs their marginal payload share`, `${grown} (+${grown - cli(['-19', '-D', dict], content)}) vs ${whole - noBlobs}`);
    row('add ops holding the bytes they produce (CLI -19, same dictionary)', cli(['-19', '-D', dict], file('adds-produced', addsProduced)));
    row('payload frame (zstd-codec) / zstd CLI --ultra -22', `${whole} / ${cli(['--ultra', '-22'], file('payload', encodePayload(pkg)))}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
