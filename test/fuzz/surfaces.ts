/**
 * The fuzz surfaces: each turns (case number, seeded PRNG) into one hostile input for one
 * part of hotpatch, runs it, and returns the outcome (`ok`, or the error code). A case that
 * breaks an invariant (an error code from the wrong stage, a multi-line message, a package
 * that loads after a mutation, an image that is not restored) throws: the harness counts it
 * as a crash. Time and memory are the harness's business (test/fuzz/harness.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareImage, readPe } from '../../compiler/index.ts';
import { diffAnalyses } from '../../compiler/diff/diff-images.ts';
import { matchImages } from '../../compiler/match/match-images.ts';
import type { ImageAnalysis } from '../../compiler/match/analyze-image.ts';
import { encodePackage, loadPackage, type LoadOptions } from '../../formats/container.ts';
import { encodePayload } from '../../formats/codec.ts';
import { fullPackage, minimalPackage, oldImage, sealedPackage } from '../../formats/testing/sample-packages.ts';
import { importSigningKey, type SigningKey } from '../../formats/keys.ts';
import { compressZstd } from '../../formats/zstd.ts';
import { decodeZstdFrame } from '../../formats/zstd-decode.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import { applyPlan, revertPlan } from '../../runtime/apply/execute-plan.ts';
import { fingerprint, loadSample, ROOT } from '../../runtime/apply/testing/fixtures.ts';
import { loadProcessImage } from '../../runtime/image/load-image.ts';
import { mapImage } from '../../runtime/pe/map-image.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { planPackage } from '../../runtime/plan/plan-package.ts';
import { compile, mutatePackage } from '../support/mutate-package.ts';
import { appendRandom, mutatePe, peLayout, type PeLayout } from './pe-mutate.ts';
import { SEEDS_DIR } from './seeds/build-seeds.ts';
import { Invariant, outcome, pick, type Rng } from './outcome.ts';
import { dictionaryFrames, goldenSealedSeed, loaderSealedCase, sealedSeeds, zstdDictionaryCase } from './sealed-cases.ts';
import { mutateSealed, type SealedSeed } from '../support/mutate-sealed.ts';

/** A fuzz surface: `setup` once per worker, then `run` per case. */
export interface Surface {
  readonly name: string;
  readonly describe: string;
  /** Per-case wall-clock limit (ms) on an idle machine's scale; the harness applies it. */
  readonly timeoutMs: number;
  setup(): Promise<(i: number, r: Rng) => Promise<string>>;
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0xffff, 0x1_0000, 0x10_0000, 0x1000_0000, 0x3fff_ffff, 0x4000_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

/** Byte ranges of `pe` worth aiming at: headers, the section table and every data directory. */
function hotRanges(bytes: Uint8Array): Array<readonly [number, number]> {
  const pe = parsePe(bytes);
  if (!pe.ok) return [[0, Math.min(bytes.length, 0x400)]];
  const out: Array<readonly [number, number]> = [[0, Math.min(bytes.length, pe.value.optionalHeader.sizeOfHeaders)]];
  for (const d of pe.value.dataDirectories) {
    if (d.virtualAddress === 0 || d.size === 0) continue;
    for (const s of pe.value.sections) {
      const va = s.virtualAddress as number;
      if (d.virtualAddress >= va && d.virtualAddress < va + s.sizeOfRawData) {
        const off = (s.pointerToRawData as number) + (d.virtualAddress - va);
        out.push([off, Math.min(bytes.length, off + Math.min(d.size, 0x4000))]);
      }
    }
  }
  return out;
}

/**
 * One to four edits of `seed`: bit flips, interesting 32-bit values, random bytes, aimed at
 * the headers and directories (the declared sizes) most of the time; sometimes a truncation
 * or an append.
 */
export function mutateBytes(seed: Uint8Array, hot: ReadonlyArray<readonly [number, number]>, r: Rng): Uint8Array {
  let b = seed.slice();
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const [lo, hi] = r() < 0.8 && hot.length > 0 ? pick(hot, r) : [0, b.length];
    const at = lo + Math.floor(r() * Math.max(1, hi - lo));
    const k = r();
    if (k < 0.35) {
      if (at < b.length) b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
    } else if (k < 0.75) {
      const v = pick(INTERESTING, r);
      const o = at & ~3;
      if (o + 4 <= b.length) new DataView(b.buffer).setUint32(o, v >>> 0, true);
    } else if (k < 0.9) {
      if (at < b.length) b[at] = Math.floor(r() * 256);
    } else if (k < 0.95) {
      b = b.slice(0, Math.floor(r() * b.length));
    } else b = appendRandom(b, r);
  }
  return b;
}

function sample(scenario: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(ROOT, 'samples/bin', scenario, file)));
}

/** Small sample DLLs (with and without symbols) every PE surface mutates. */
function peCorpus(): Array<{ bytes: Uint8Array; hot: Array<readonly [number, number]> }> {
  return [
    sample('logic-fix', 'v1.dll'),
    sample('logic-fix', 'v2.stripped.dll'),
    sample('switch-table', 'v1.dll'),
    sample('cpp-exceptions', 'v1.stripped.dll'),
  ].map((bytes) => ({ bytes, hot: hotRanges(bytes) }));
}

const PE = ['PE_'];

const parser: Surface = {
  name: 'parser',
  describe: 'mutated sample DLLs through parsePe (the wasm pe-parser)',
  timeoutMs: 5_000,
  async setup() {
    const corpus = peCorpus();
    return async (_i, r) => {
      const c = pick(corpus, r);
      return outcome(parsePe(mutateBytes(c.bytes, c.hot, r)), PE, 'parsePe');
    };
  },
};

const mapping: Surface = {
  name: 'mapping',
  describe: 'mutated sample DLLs mapped by the wasm mapper (preferred base and rebased) and loaded as a process image',
  timeoutMs: 5_000,
  async setup() {
    const corpus = peCorpus();
    return async (_i, r) => {
      const c = pick(corpus, r);
      const b = mutateBytes(c.bytes, c.hot, r);
      const base = r() < 0.5 ? 0x1_8000_0000n : 0x7ff6_0000_0000n + BigInt(Math.floor(r() * 0x1000) * 0x10000);
      const m = outcome(mapImage(b, base), PE, 'mapImage');
      const l = outcome(loadProcessImage(b, { name: 'fuzz.dll' }), [...PE, 'PLAN_'], 'loadProcessImage');
      return m === 'ok' ? l : m;
    };
  },
};

/** An unmutated seed: its bytes, field map and analysis (reused by every case that leaves it alone). */
export interface Side {
  readonly bytes: Uint8Array;
  readonly layout: PeLayout;
  readonly analysis: ImageAnalysis;
}

function side(bytes: Uint8Array): Side {
  const input = readPe(bytes);
  if (!input.ok) throw new Error(input.error.message);
  const analysis = prepareImage(input.value);
  if (!analysis.ok) throw new Error(analysis.error.message);
  return { bytes, layout: peLayout(bytes), analysis: analysis.value };
}

/** Old/new seed pairs, unmutated. */
export interface SeedPairs {
  readonly seeds: ReadonlyArray<readonly [Side, Side]>;
  readonly samples: ReadonlyArray<readonly [Side, Side]>;
}

/**
 * The seed pairs of discovery-diff: the CRT-less seeds of test/fuzz/seeds (both compilers,
 * with and without symbols; 11 functions each) nineteen cases in twenty, and two small sample
 * pairs with their startup code (54-57 functions, about four times the cost of a case) the
 * twentieth.
 */
export function discoveryDiffPairs(): SeedPairs {
  const seed = (f: string): Uint8Array => new Uint8Array(readFileSync(join(SEEDS_DIR, f)));
  return {
    seeds: ['gcc', 'gcc.stripped', 'clang', 'clang.stripped'].map((t) => [side(seed(`v1.${t}.dll`)), side(seed(`v2.${t}.dll`))] as const),
    samples: [
      [side(sample('switch-table', 'v1.clang.stripped.dll')), side(sample('switch-table', 'v2.clang.stripped.dll'))] as const,
      [side(sample('new-import', 'v1.dll')), side(sample('new-import', 'v2.dll'))] as const,
    ],
  };
}

/** Discovery and disassembly of a mutated side (what `hotpatch functions` and diff's first stage run), or its refusal. */
function analyse(bytes: Uint8Array): { ok: true; value: ImageAnalysis } | { ok: false; code: string } {
  const input = readPe(bytes);
  if (!input.ok) return { ok: false, code: outcome(input, PE, 'readPe') };
  const a = prepareImage(input.value);
  return a.ok ? a : { ok: false, code: outcome(a, [...PE, 'DIFF_'], 'discovery') };
}

/**
 * One discovery-diff case over `pairs`: the old, the new or both sides mutated
 * (test/fuzz/pe-mutate.ts), each mutated side parsed, mapped, discovered, decoded and analysed,
 * then the two matched and diffed: the stages of diffFiles (compiler/index.ts), with the
 * unmutated side's analysis taken from the seed instead of being redone (the stages never
 * change an analysis; test/fuzz/fuzz.test.ts checks that the reused ones still diff as
 * diffFiles does after the cases ran).
 */
export function discoveryDiffCase(pairs: SeedPairs): (i: number, r: Rng) => Promise<string> {
  return async (_i, r) => {
    const [o, n] = pick(r() < 0.95 ? pairs.seeds : pairs.samples, r);
    const which = Math.floor(r() * 3); // 0: old mutated, 1: new mutated, 2: both
    const oa = which === 1 ? { ok: true as const, value: o.analysis } : analyse(mutatePe(o.bytes, o.layout, r));
    if (!oa.ok) return oa.code;
    const na = which === 0 ? { ok: true as const, value: n.analysis } : analyse(mutatePe(n.bytes, n.layout, r));
    if (!na.ok) return na.code;
    const d = diffAnalyses(matchImages(oa.value, na.value));
    return d.hotpatchable ? 'diff:hotpatchable' : 'diff:refused';
  };
}

/**
 * Discovery + disassembly and diff as one surface: a hostile file enters both through the
 * same stages (a mutated side's discovery is the first half of its diff), so each case runs
 * them in order. It replaced the separate discovery and diff surfaces, whose cases took
 * 370-590 ms: they mutated 13-150 KB samples (up to 1,000 functions with static libstdc++)
 * and diffed both sides from scratch every time; here a case costs a few ms of CPU.
 */
const discoveryDiff: Surface = {
  name: 'discovery-diff',
  describe: 'old/new seed DLL pairs (both compilers) with the old, the new or both mutated structure-aware (headers, section table, .pdata, unwind data, relocations, directories, symbols, code): discovery + disassembly of each mutated side, then match and diff against the other',
  timeoutMs: 10_000,
  async setup() {
    return discoveryDiffCase(discoveryDiffPairs());
  },
};

/**
 * The loader surface's signing key: always the same one (Ed25519 from a fixed 32-byte seed,
 * and Ed25519 signatures are deterministic), so the signed seed package, and with it every
 * case, is a function of (seed, case number) alone, across worker restarts and resumed runs.
 */
async function fixedSigningKey(): Promise<SigningKey> {
  const pkcs8Ed25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
  const der = Uint8Array.from([...pkcs8Ed25519, ...Array.from({ length: 32 }, (_, k) => (k * 37 + 17) & 0xff)]);
  const k = await importSigningKey(`-----BEGIN PRIVATE KEY-----\n${Buffer.from(der).toString('base64')}\n-----END PRIVATE KEY-----\n`);
  if (!k.ok) throw new Error(k.error.message);
  return k.value;
}

const loader: Surface = {
  name: 'loader',
  describe: 'mutated signed and unsigned packages (plain and sealed) through loadPackage, as apply (trusted key; --allow-unsigned) and as a viewer; one case in three a sealed package mutated structure-aware (dictionary ranges, frame, sealed lengths, sealed adds), loaded, then unsealed against the old image',
  timeoutMs: 5_000,
  async setup() {
    const keys = await fixedSigningKey();
    const pkg = compile('new-import');
    const sealed = [await goldenSealedSeed(), ...(await sealedSeeds(['new-import']))];
    const files = [];
    for (const p of [pkg, sealed[1]!.pkg]) {
      const signed = await encodePackage(p, { signingKey: keys });
      const unsigned = await encodePackage(p, {});
      if (!signed.ok || !unsigned.ok) throw new Error('encode');
      files.push(signed.value, unsigned.value);
    }
    const sealedCase = loaderSealedCase(sealed);
    const seeds = files.map((bytes) => ({ bytes, hot: [[0, 32], [32, Math.min(bytes.length, 96)]] as Array<readonly [number, number]> }));
    const modes: Array<[string, LoadOptions]> = [
      ['trusted', { trusted: [keys.publicKey], allowUnsigned: false }],
      ['allow-unsigned', { trusted: [], allowUnsigned: true }],
      ['viewer', { trusted: [], allowUnsigned: true, readOnly: true }],
    ];
    return async (_i, r) => {
      if (r() < 1 / 3) return sealedCase(r);
      const s = pick(seeds, r);
      const b = mutateBytes(s.bytes, s.hot, r);
      const same = b.length === s.bytes.length && b.every((x, k) => x === s.bytes[k]);
      const [mode, opts] = pick(modes, r);
      const l = await loadPackage(b, opts);
      const o = outcome(l, ['PKG_', 'SIG_'], `loadPackage (${mode})`);
      // A changed signed package never loads where it would be applied.
      if (l.ok && !same && mode !== 'viewer' && l.value.signature.status !== 'unsigned') throw new Invariant(`a mutated signed package loaded (${mode})`);
      if (l.ok && mode !== 'viewer' && l.value.signature.status === 'not-verified') throw new Invariant(`an unverified signature was admitted (${mode})`);
      return o;
    };
  },
};

const zstd: Surface = {
  name: 'zstd',
  describe: 'mutated zstd frames (and wrong declared sizes) through the loader\'s own zstd decoder; one case in two a frame decoded with a raw-content dictionary (sealed frames, a 192 KiB dictionary, the CLI\'s -D and --patch-from frames with checksums), mutated, cut, extended, or with its dictionary cut, emptied or changed',
  timeoutMs: 5_000,
  async setup() {
    // The golden packages' payloads (formats/testing/sample-packages.ts: every field, a delta,
    // a sealed frame) and synthetic bytes; no compiler run, so the setup stays cheap.
    const golden = [await minimalPackage(), await fullPackage(), await sealedPackage()];
    const raws = [...golden.map((p) => encodePayload(p)), new Uint8Array(5000).map((_, k) => (k * 7) & 0xff)];
    const frames: Array<{ frame: Uint8Array; size: number; hot: Array<readonly [number, number]> }> = [];
    for (const raw of raws) {
      for (const level of [1, 19]) {
        const c = await compressZstd(raw, level);
        if (!c.ok) throw new Error(c.error.message);
        frames.push({ frame: c.value, size: raw.length, hot: [[0, Math.min(c.value.length, 32)]] });
      }
    }
    const withDictionary = zstdDictionaryCase(await dictionaryFrames(golden[2]!, oldImage()), mutateBytes);
    return async (_i, r) => {
      if (r() < 0.5) return withDictionary(r);
      const f = pick(frames, r);
      const b = mutateBytes(f.frame, f.hot, r);
      const size = r() < 0.8 ? f.size : pick([0, 1, f.size - 1, f.size + 1, 4 * 1024 * 1024], r);
      return outcome(decodeZstdFrame(b, size), ['PKG_'], 'decodeZstdFrame');
    };
  },
};

interface PlanState {
  readonly base: HotpatchPackage;
  /** Set for the sealed states: the sealed package and what mutateSealed needs. */
  readonly sealed: SealedSeed | null;
  readonly image: ReturnType<typeof loadSample>['image'];
  readonly backend: ReturnType<typeof loadSample>['backend'];
  readonly pristine: string;
}

/** Three sample packages as compiled and two sealed (format 2.2), each with its own in-memory process of v1. */
async function planStates(): Promise<PlanState[]> {
  const state = (scenario: string, base: HotpatchPackage, sealed: SealedSeed | null): PlanState => {
    const { image, backend } = loadSample(scenario, 'v1.dll');
    return { base, sealed, image, backend, pristine: fingerprint(image) };
  };
  const plain = ['new-import', 'cpp-exceptions', 'switch-table'].map((s) => state(s, compile(s), null));
  return [...plain, ...(await sealedSeeds()).map((seed) => state(seed.scenario, seed.pkg, seed))];
}

/** A mutation of the state's package: of its sealed parts three times in four when it is sealed (and whether it must be refused). */
function mutateState(s: PlanState, r: Rng): { pkg: HotpatchPackage; mustRefuse: boolean } {
  if (s.sealed !== null && r() < 0.75) return mutateSealed(s.sealed, r);
  return { pkg: mutatePackage(s.base, r), mustRefuse: false };
}

const planner: Surface = {
  name: 'planner',
  describe: 'structurally mutated packages (unvalidated; plain, and sealed with their sealed parts mutated) planned against an in-memory process: refused with no step executed, or planned; a sealed add that changes an intra field refused',
  timeoutMs: 10_000,
  async setup() {
    const states = await planStates();
    return async (_i, r) => {
      const s = pick(states, r);
      const before = s.backend.executed;
      const m = mutateState(s, r);
      const p = await planPackage(m.pkg, s.backend);
      if (s.backend.executed !== before) throw new Invariant('the planner executed steps');
      if (p.ok && m.mustRefuse) throw new Invariant('a sealed add that changes an intra field was planned');
      return outcome(p, ['PLAN_'], 'planPackage');
    };
  },
};

const execute: Surface = {
  name: 'execute',
  describe: 'write plans of mutated packages (plain and sealed) executed on the in-memory backend and reverted: the process is byte-identical afterwards',
  timeoutMs: 10_000,
  async setup() {
    const states = await planStates();
    return async (i, r) => {
      const s = pick(states, r);
      const p = await planPackage(mutateState(s, r).pkg, s.backend);
      if (!p.ok) return outcome(p, ['PLAN_'], 'planPackage');
      const a = await applyPlan(s.backend, p.value.plan);
      let result = 'applied';
      if (a.ok) {
        const v = await revertPlan(s.backend, p.value.plan);
        if (!v.ok) throw new Invariant(`revert failed: ${v.error.code}: ${v.error.message}`);
      } else result = outcome(a, ['APPLY_'], 'applyPlan');
      if (fingerprint(s.image) !== s.pristine) throw new Invariant(`case ${i}: the process is not byte-identical after ${result}`);
      return result;
    };
  },
};

/** Every surface, in the order `npm run fuzz` runs them. */
export const SURFACES: readonly Surface[] = [parser, mapping, discoveryDiff, loader, zstd, planner, execute];

let held: unknown = null;

/**
 * Not a part of hotpatch: a surface whose cases misbehave on purpose (1 spins forever, 2 holds
 * 200 MB of array buffers, 3 throws, 4 fills the JS heap), so test/fuzz/fuzz.test.ts proves
 * the watchdog catches each kind and carries on with the next case.
 */
export const WATCHDOG_SELFTEST: Surface = {
  name: 'watchdog-selftest',
  describe: 'cases that hang, hold memory, throw or exhaust the heap on purpose',
  timeoutMs: 10_000,
  async setup() {
    return async (i) => {
      held = null;
      if (i === 1) for (;;);
      if (i === 2) held = new Uint8Array(200 * 1024 * 1024);
      if (i === 3) throw new Error('thrown on purpose');
      if (i === 4) {
        const junk: unknown[] = [];
        for (;;) junk.push(new Array<number>(1 << 20).fill(junk.length + 0.5));
      }
      return 'ok';
    };
  },
};

/** Every surface the harness can run, the self-test included. */
export const ALL_SURFACES: readonly Surface[] = [...SURFACES, WATCHDOG_SELFTEST];
