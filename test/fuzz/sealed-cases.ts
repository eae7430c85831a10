/**
 * The sealed-bytes cases (format 2.2, formats/FORMAT.md "Sealed bytes") of the zstd and loader
 * surfaces (test/fuzz/surfaces.ts): frames decoded WITH a raw-content dictionary, and sealed
 * packages mutated structure-aware (test/support/mutate-sealed.ts) through the loader and
 * then unsealed against the old image, as the planner does after the relied hash. The
 * planner and execute surfaces plan the same sealed seeds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asRva } from '../../common/types.ts';
import { encodePayload } from '../../formats/codec.ts';
import { loadPackage } from '../../formats/container.ts';
import { gather } from '../../formats/delta-index.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import { sealPackageWith, unsealPackage } from '../../formats/seal.ts';
import { oldImage, withAddOverImplicit } from '../../formats/testing/sample-packages.ts';
import { sealedLength } from '../../formats/validate.ts';
import { wrapStored } from '../../formats/testing/wrap.ts';
import { compressZstdWithDictionary, ZSTD_MAX_DICTIONARY } from '../../formats/zstd.ts';
import { decodeZstdFrame } from '../../formats/zstd-decode.ts';
import { sampleBytes } from '../../runtime/apply/testing/fixtures.ts';
import { compileSealed, editFrameBody, editFrameHeader, mutateSealed, type SealedSeed } from '../support/mutate-sealed.ts';
import { hasTool } from '../support/tools.ts';
import { Invariant, outcome, pick, type Rng } from './outcome.ts';

/**
 * The sealed seeds: sample packages with every literal byte sealed by the compiler (forced).
 * cpp-exceptions holds sealed adds over implicit fields, switch-table sealed literal ops and a
 * sealed data block, new-import sealed literal blocks.
 */
export async function sealedSeeds(scenarios: readonly string[] = ['cpp-exceptions', 'switch-table']): Promise<SealedSeed[]> {
  const out: SealedSeed[] = [];
  for (const s of scenarios) out.push(await compileSealed(s));
  return out;
}

/**
 * The golden full package (formats/testing/sample-packages.ts) with its add op over the
 * implicit fields sealed with the rest, against the synthetic old image: a sealed seed with a
 * sealed add over implicit fields that needs no compiler run.
 */
export async function goldenSealedSeed(): Promise<SealedSeed> {
  const image = oldImage();
  const s = await sealPackageWith(await withAddOverImplicit(0), image, [{ rva: asRva(0x1100), length: 0x80 }], () => true);
  if (!s.ok) throw new Error(s.error.message);
  const dictionary = gather(image, s.value.sealed!.dictionary)!;
  const content = decodeZstdFrame(s.value.sealed!.frame, sealedLength(s.value), dictionary);
  if (!content.ok) throw new Error(content.error.message);
  return { scenario: 'golden', pkg: s.value, image, dictionary, content: content.value };
}

/** A frame, the dictionary it was compressed against, and what it decodes to. */
export interface DictionaryFrame {
  readonly frame: Uint8Array;
  readonly dictionary: Uint8Array;
  readonly content: Uint8Array;
}

/** Debian's zstd CLI on `content` against `dictionary` (with a checksum), or null without the CLI. */
function cliFrames(dictionary: Uint8Array, content: Uint8Array): Uint8Array[] {
  if (!hasTool('zstd')) return [];
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-zstd-'));
  try {
    const d = join(dir, 'dict');
    writeFileSync(d, dictionary);
    const run = (args: string[]): Uint8Array => new Uint8Array(execFileSync('zstd', [...args, '--check', '--no-dictID', '-c'], { input: content, maxBuffer: 1 << 24, stdio: ['pipe', 'pipe', 'ignore'] }));
    // --stream-size: level 19 then sizes its tables for the input (without it, reading stdin
    // for an unknown size, each call took 200-500 ms here).
    const size = `--stream-size=${content.length}`;
    return [run(['-19', size, '-D', d]), run(['-19', size, '--patch-from', d])];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The zstd surface's dictionary frames: the sealed golden package's frame (formats/golden
 * sealed.hpk's, against 0x80 bytes of the synthetic old image), a frame of 8 KiB of sample code
 * against a 192 KiB dictionary of sample images (the largest the compiler uses: offsets reach
 * far back into it), and the CLI's `-D` and `--patch-from` frames over both, which carry a
 * content checksum (a dictionary byte changed under a match is caught by it).
 */
export async function dictionaryFrames(sealed: HotpatchPackage, old: Uint8Array): Promise<DictionaryFrame[]> {
  const dictionary = gather(old, sealed.sealed!.dictionary)!;
  const small = decodeZstdFrame(sealed.sealed!.frame, sealedLength(sealed), dictionary);
  if (!small.ok) throw new Error(small.error.message);
  const out: DictionaryFrame[] = [{ frame: sealed.sealed!.frame, dictionary, content: small.value }];
  const olds = ['cpp-exceptions', 'switch-table', 'inline-fix', 'new-import'].map((s) => sampleBytes(s, 'v1.dll'));
  const big = new Uint8Array(ZSTD_MAX_DICTIONARY);
  for (let at = 0, k = 0; at < big.length; at += olds[k % olds.length]!.length, k++) big.set(olds[k % olds.length]!.subarray(0, big.length - at), at);
  const content = sampleBytes('cpp-exceptions', 'v2.dll').slice(0x400, 0x400 + 8 * 1024);
  const f = await compressZstdWithDictionary(content, big);
  if (!f.ok) throw new Error(f.error.message);
  out.push({ frame: f.value, dictionary: big, content });
  for (const frame of cliFrames(dictionary, small.value)) out.push({ frame, dictionary, content: small.value });
  for (const frame of cliFrames(big, content)) out.push({ frame, dictionary: big, content });
  return out;
}

/** The dictionary cut at its start or end, emptied, one byte changed, or longer at its start. */
function editDictionary(d: Uint8Array, r: Rng): Uint8Array {
  const k = Math.floor(r() * 5);
  const n = 1 + Math.floor(r() * Math.max(1, d.length - 1));
  if (k === 0) return d.subarray(n);
  if (k === 1) return d.subarray(0, d.length - n);
  if (k === 2) return new Uint8Array(0);
  if (k === 3) {
    const e = d.slice();
    if (e.length > 0) e[n % e.length] = e[n % e.length]! ^ (1 + Math.floor(r() * 255));
    return e;
  }
  const longer = new Uint8Array(1 + Math.floor(r() * 64) + d.length);
  for (let i = 0; i < longer.length - d.length; i++) longer[i] = Math.floor(r() * 256);
  longer.set(d, longer.length - d.length);
  return longer;
}

/**
 * One dictionary-mode zstd case: the frame mutated (bytes, header fields, a cut, trailing
 * bytes) or not, the dictionary edited or not, the declared size right or wrong. Only PKG_
 * codes; an output is exactly the declared size; an untouched frame, dictionary and size
 * decode to exactly the content.
 */
export function zstdDictionaryCase(frames: readonly DictionaryFrame[], mutate: (b: Uint8Array, hot: ReadonlyArray<readonly [number, number]>, r: Rng) => Uint8Array): (r: Rng) => string {
  return (r) => {
    const e = pick(frames, r);
    let frame = e.frame;
    const k = r();
    if (k < 0.35) frame = mutate(frame, [[0, Math.min(frame.length, 24)]], r);
    else if (k < 0.5) frame = editFrameHeader(frame, e.content.length, r);
    else if (k < 0.65) frame = editFrameBody(frame, r);
    const dictionary = r() < 0.3 ? editDictionary(e.dictionary, r) : e.dictionary;
    const size = r() < 0.8 ? e.content.length : pick([0, 1, e.content.length - 1, e.content.length + 1, 4 * 1024 * 1024], r);
    const d = decodeZstdFrame(frame, size, dictionary);
    const o = outcome(d, ['PKG_'], 'decodeZstdFrame (dictionary)');
    if (d.ok && d.value.length !== size) throw new Invariant(`decoded ${d.value.length} bytes, ${size} declared`);
    if (frame === e.frame && dictionary === e.dictionary && size === e.content.length && !(d.ok && Buffer.from(d.value).equals(Buffer.from(e.content)))) {
      throw new Invariant('an untouched frame did not decode to its content against its dictionary');
    }
    return `dictionary:${o}`;
  };
}

/**
 * One structure-aware sealed case of the loader surface: a sealed seed mutated
 * (test/support/mutate-sealed.ts), written unsigned and stored (the outer zstd frame is the
 * plain cases' business), loaded with --allow-unsigned or as a viewer; a package that loads
 * where it would be applied is unsealed against the old image as the planner does, which
 * returns the package or a PKG_ code, and refuses a sealed add that changes an implicit or
 * intra field.
 */
export function loaderSealedCase(seeds: readonly SealedSeed[]): (r: Rng) => Promise<string> {
  return async (r) => {
    const s = pick(seeds, r);
    const m = mutateSealed(s, r);
    const raw = encodePayload(m.pkg);
    const file = await wrapStored(raw);
    const viewer = r() < 0.25;
    const l = await loadPackage(file, { trusted: [], allowUnsigned: true, readOnly: viewer });
    const o = outcome(l, ['PKG_', 'SIG_'], `loadPackage (sealed${viewer ? ', viewer' : ''})`);
    if (!l.ok || viewer) return `sealed:${o}`;
    const u = unsealPackage(l.value.package, s.image);
    if (u.ok && m.mustRefuse) throw new Invariant('a sealed add that changes an intra field was unsealed');
    return `sealed:unseal:${outcome(u, ['PKG_'], 'unsealPackage (loaded)')}`;
  };
}
