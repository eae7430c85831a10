/**
 * The sample scenarios as data: `scenarios.json` (the contract compiler and runtime tests
 * iterate over) plus where each scenario's source, binaries and recorded outputs live.
 * Tests, the bench and the sample build script read samples through this module, so the
 * folder layout is spelled out in one place:
 *
 *   samples/<name>/<name>.c|.cpp          one source, versions selected by HP_VERSION
 *   samples/<name>/expected/<v>.txt       hp_run's output, recorded under Wine
 *   samples/bin/<name>/<v>.dll            built with COFF symbols (no DWARF)
 *   samples/bin/<name>/<v>.stripped.dll   the same link without any symbol table
 *   samples/bin/<name>/<v>.clang.dll      built by clang-22 + lld (x86_64-w64-mingw32)
 *   samples/bin/<name>/<v>.clang.stripped.dll
 *   samples/bin/host.exe                  the Wine host (host/PROTOCOL.md)
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A version label; `vN` is built with `-DHP_VERSION=N`. */
export type SampleVersion = 'v1' | 'v2' | 'v3';

/** The compilers every scenario is built with: mingw-w64 GCC + ld, and clang-22 + lld. */
export type Toolchain = 'gcc' | 'clang';
export const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];

/** What the compiler must do with the scenario's pair(s). */
export type SampleExpectation = 'hotpatchable' | 'refused';

/** One version-to-version step of a scenario and what it changes. */
export interface SampleStep {
  readonly from: SampleVersion;
  readonly to: SampleVersion;
  /** Functions present in both versions whose behaviour changes (code or referenced data). */
  readonly functions: readonly string[];
  /**
   * Of `functions`, those whose instructions are identical in both versions: only data they
   * reference changed (string-change). A diff that compares code alone misses them.
   */
  readonly sameCode?: readonly string[];
  /** Functions only in `to`. */
  readonly added?: readonly string[];
  /** Writable data items whose initial value or layout changes. */
  readonly data?: readonly string[];
}

/**
 * A known false refusal (MISS) of one toolchain's build: the compiler refuses a change that
 * is hotpatchable. Tests expect exactly this refusal, so a fix turns the test red until the
 * entry is removed (and the scenario is then patched live like the others).
 */
export interface KnownMiss {
  readonly toolchain: Toolchain;
  /** Only the stripped build (true), only the symbols build (false), or both (absent). */
  readonly stripped?: boolean;
  /** Only the step to this version (absent: every step). */
  readonly to?: SampleVersion;
  /** The class of the miss (samples/README.md lists them). */
  readonly class: string;
  /** A regular expression the refusal reasons must match. */
  readonly reason: string;
}

/**
 * A build of a must-refuse scenario that is hotpatchable: the hazard lies in one compiler's
 * output (ipra-clobber: GCC's interprocedural register allocation; clang has none), so that
 * compiler's build must pass like a hotpatchable scenario, changing `functions`.
 */
export interface SafeBuild {
  readonly toolchain: Toolchain;
  /** The functions that change in this toolchain's build (per step, the same for every step). */
  readonly functions: readonly string[];
  /** Why this build is safe. */
  readonly why: string;
}

/** One entry of scenarios.json. */
export interface Scenario {
  /** Folder name; a contract, other engineers address samples by it. */
  readonly name: string;
  readonly versions: readonly SampleVersion[];
  readonly expect: SampleExpectation;
  /** Short reason, only for `expect: "refused"`. */
  readonly refusedReason?: string;
  /** Union over all steps of the functions that change. */
  readonly functions: readonly string[];
  /** Per step detail (one step for a pair, two for the v1 -> v2 -> v3 series). */
  readonly steps: readonly SampleStep[];
  /** Source language: decides gcc or g++ (and a static libstdc++). */
  readonly language: 'c' | 'c++';
  readonly description: string;
  /** Known false refusals per toolchain build (see KnownMiss). */
  readonly misses?: readonly KnownMiss[];
  /** Only with `expect: "refused"`: the toolchains whose build is hotpatchable (see SafeBuild). */
  readonly safeWith?: readonly SafeBuild[];
  /**
   * Identical code folding: clang's build links with lld `--icf=all` (functions in one
   * `.text$mn` COMDAT name each, as MSVC emits them), so functions with equal bodies share one
   * address. GNU ld has no ICF: the GCC build is unfolded.
   */
  readonly foldIdentical?: boolean;
  /**
   * Only with `expect: "hotpatchable"`: a toolchain whose build changes other functions than
   * `functions` (icf-fold: clang's folded body stays the unchanged function, and the changed
   * one's callers change instead), with why.
   */
  readonly changesWith?: readonly SafeBuild[];
}

/**
 * What the compiler does today with one step of a scenario built by `toolchain`: the
 * scenario's own expectation (hotpatchable for a `safeWith` build, with the functions that
 * change there), or the known miss that applies.
 */
export function expectationOf(s: Scenario, step: SampleStep, toolchain: Toolchain, stripped: boolean): { expect: SampleExpectation; miss?: KnownMiss; safe?: SafeBuild } {
  const miss = s.misses?.find((x) => x.toolchain === toolchain && (x.stripped === undefined || x.stripped === stripped) && (x.to === undefined || x.to === step.to));
  if (miss !== undefined) return { expect: 'refused', miss };
  const safe = s.safeWith?.find((x) => x.toolchain === toolchain) ?? s.changesWith?.find((x) => x.toolchain === toolchain);
  return safe === undefined ? { expect: s.expect } : { expect: 'hotpatchable', safe };
}

/** True when some build of `s` must be patched (a hotpatchable scenario, or a `safeWith` build). */
export function patchedBySome(s: Scenario): boolean {
  return s.expect === 'hotpatchable' || (s.safeWith?.length ?? 0) > 0;
}

/**
 * Absolute path of samples/: this module's folder in a checkout. Bundled into the compiled
 * CLI (dist/cli/, in a checkout or an installed package), the first folder up from there
 * that holds samples/scenarios.json (package.json `files` ships it and the sample DLLs).
 */
export const SAMPLES_DIR: string = findSamplesDir(dirname(fileURLToPath(import.meta.url)));

function findSamplesDir(here: string): string {
  if (existsSync(join(here, 'scenarios.json'))) return here;
  for (let dir = here; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'samples', 'scenarios.json'))) return join(dir, 'samples');
  }
  return here;
}
/** Where the committed binaries live. */
export const SAMPLES_BIN_DIR: string = join(SAMPLES_DIR, 'bin');
/** The committed Wine host. */
export const HOST_EXE: string = join(SAMPLES_BIN_DIR, 'host.exe');

/** Reads and checks scenarios.json; throws on a malformed file (it is ours, so a bug). */
export function readScenarios(): Scenario[] {
  const raw: unknown = JSON.parse(readFileSync(join(SAMPLES_DIR, 'scenarios.json'), 'utf8'));
  if (!Array.isArray(raw)) throw new Error('scenarios.json: not an array');
  return raw.map((s: Scenario, i) => {
    if (typeof s.name !== 'string' || !/^[a-z0-9-]+$/.test(s.name)) throw new Error(`scenarios.json[${i}]: bad name`);
    if (!Array.isArray(s.versions) || s.versions.length < 2) throw new Error(`scenarios.json ${s.name}: needs two versions`);
    if (s.expect !== 'hotpatchable' && s.expect !== 'refused') throw new Error(`scenarios.json ${s.name}: bad expect`);
    if (s.expect === 'refused' && typeof s.refusedReason !== 'string') throw new Error(`scenarios.json ${s.name}: refused without a reason`);
    if (!Array.isArray(s.steps) || s.steps.length !== s.versions.length - 1) throw new Error(`scenarios.json ${s.name}: one step per version pair`);
    if (s.language !== 'c' && s.language !== 'c++') throw new Error(`scenarios.json ${s.name}: bad language`);
    s.steps.forEach((st, k) => {
      if (st.from !== s.versions[k] || st.to !== s.versions[k + 1]) throw new Error(`scenarios.json ${s.name}: step ${k} must go ${s.versions[k]} -> ${s.versions[k + 1]}`);
      for (const f of st.sameCode ?? []) if (!st.functions.includes(f)) throw new Error(`scenarios.json ${s.name}: sameCode ${f} is not in functions`);
    });
    for (const x of s.misses ?? []) if (!TOOLCHAINS.includes(x.toolchain) || typeof x.reason !== 'string') throw new Error(`scenarios.json ${s.name}: bad miss`);
    for (const x of s.changesWith ?? []) {
      if (s.expect !== 'hotpatchable' || !TOOLCHAINS.includes(x.toolchain) || !Array.isArray(x.functions) || typeof x.why !== 'string') throw new Error(`scenarios.json ${s.name}: bad changesWith`);
    }
    for (const x of s.safeWith ?? []) {
      if (s.expect !== 'refused' || !TOOLCHAINS.includes(x.toolchain) || !Array.isArray(x.functions) || typeof x.why !== 'string') throw new Error(`scenarios.json ${s.name}: bad safeWith`);
    }
    const union = [...new Set(s.steps.flatMap((st) => st.functions))].sort();
    if (JSON.stringify(union) !== JSON.stringify([...s.functions].sort())) throw new Error(`scenarios.json ${s.name}: functions must be the union of the steps' functions`);
    return s;
  });
}

/** Source file of a scenario (`<name>.c` or `<name>.cpp`). */
export function scenarioSource(s: Scenario): string {
  return join(SAMPLES_DIR, s.name, `${s.name}.${s.language === 'c' ? 'c' : 'cpp'}`);
}

/** Path of a built scenario DLL, with COFF symbols or stripped, by either toolchain. */
export function scenarioDll(name: string, version: SampleVersion, stripped = false, binDir: string = SAMPLES_BIN_DIR, toolchain: Toolchain = 'gcc'): string {
  return join(binDir, name, `${version}${toolchain === 'clang' ? '.clang' : ''}${stripped ? '.stripped' : ''}.dll`);
}

/** Path of a recorded hp_run output. */
export function expectedOutputPath(name: string, version: SampleVersion): string {
  return join(SAMPLES_DIR, name, 'expected', `${version}.txt`);
}

/** The recorded output of a version, or undefined when not recorded yet. */
export function readExpectedOutput(name: string, version: SampleVersion): string | undefined {
  const p = expectedOutputPath(name, version);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}
