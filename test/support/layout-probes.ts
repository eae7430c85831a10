/**
 * Builds and diffs the layout probes (test/probes/*.c) for the live probe tests: each probe
 * built as v1 and v2 by gcc and clang with the samples' flags, the diff with one rule's
 * refusals lifted (what the compiler decided before that rule), and its package; a host running
 * v1 next to an importer compiled against it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPILER_VERSION, diffFiles, emitPackage, type ImageDiff } from '../../compiler/index.ts';
import { planRedirect } from '../../compiler/diff/redirect-sites.ts';
import { encodePackage } from '../../formats/container.ts';
import type { HostSession } from '../../samples/host/host-session.ts';
import type { Toolchain } from '../../samples/scenarios.ts';
import { expect } from 'vitest';
import { type LiveSuite, patchedRound } from './live-suite.ts';

const PROBES = join(dirname(fileURLToPath(import.meta.url)), '..', 'probes');

/** Builds test/probes/<name>.c as version `v` by `tc` under `dir`, as samples/build.ts does (`opt` -O2, no timestamp, COFF symbols). */
export function buildLayoutProbe(dir: string, name: string, v: 1 | 2, tc: Toolchain, opt = '-O2'): string {
  const work = join(dir, tc, name, `v${v}`);
  mkdirSync(work, { recursive: true });
  const [cmd, pre] = tc === 'gcc' ? ['x86_64-w64-mingw32-gcc', []] : ['clang-22', ['--target=x86_64-w64-mingw32', '-fuse-ld=lld']];
  const flags = [opt, `-DHP_VERSION=${v}`, '-shared', '-Wl,--no-insert-timestamp', '-static-libgcc', '-Wl,-S'];
  execFileSync(cmd, [...pre, ...flags, '-o', `${name}.dll`, join(PROBES, `${name}.c`)], { cwd: work });
  return join(work, `${name}.dll`);
}

export function diffDlls(v1: string, v2: string): ImageDiff {
  const d = diffFiles(new Uint8Array(readFileSync(v1)), new Uint8Array(readFileSync(v2)));
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}

/** The diff with its `code` refusals lifted (only those of the functions `names` when given): what the compiler decided before the rule. */
export function liftRule(d: ImageDiff, code: string, names?: readonly string[]): ImageDiff {
  const reserved = new Set<number>();
  const functions = d.functions.map((f) => {
    if (f.reason?.code !== code || (names !== undefined && !names.includes(f.name ?? ''))) return f;
    const redirect = planRedirect(d.match.old, d.match.old.fns.functions[f.oldIndex!]!, reserved);
    if ('code' in redirect) throw new Error(`${f.name ?? ''}: ${redirect.message}`);
    return { ...f, verdict: 'hotpatchable' as const, reason: null, redirect };
  });
  const refused = functions.filter((f) => f.verdict === 'refused').length + d.data.filter((x) => x.verdict === 'refused').length;
  return { ...d, functions, hotpatchable: refused === 0, counts: { ...d.counts, refused } };
}

/** Writes the package of `d` (every function, as the compiler presents it; with `skipRefused`, the hotpatchable ones) to `dir/file`. */
export async function writeProbePackage(dir: string, d: ImageDiff, moduleName: string, file: string, skipRefused = false): Promise<string> {
  const e = emitPackage(d, { moduleName, skipRefused, series: null, compilerVersion: COMPILER_VERSION });
  if (!e.ok) throw new Error(e.error.message);
  const bytes = await encodePackage(e.value.pkg);
  if (!bytes.ok) throw new Error(bytes.error.message);
  const pkg = join(dir, file);
  writeFileSync(pkg, bytes.value);
  return pkg;
}

/** Each changed function as `name: reason code` (or its verdict), sorted. */
export function changedVerdicts(d: ImageDiff): string[] {
  return d.functions.filter((f) => f.status === 'changed').map((f) => `${f.name ?? ''}: ${f.reason?.code ?? f.verdict}`).sort();
}

/**
 * changedVerdicts without the harness's own functions: hp_run and hp_vectors, whose inlined
 * sizeof changes with a probe's structure, and clang's constructor list.
 */
export function probeVerdicts(d: ImageDiff): string[] {
  return changedVerdicts(d).filter((v) => !/^(hp_run|hp_vectors|__do_global_ctors):/.test(v));
}

/** Builds both versions of probe `name` by `tc` at `opt` in `suite`'s folder, runs each once; returns the v1 session, both outputs and the diff. */
export async function startLayoutProbe(suite: LiveSuite, name: string, tc: Toolchain, opt = '-O2') {
  const v1 = buildLayoutProbe(join(suite.dir(), opt), name, 1, tc, opt);
  const v2 = buildLayoutProbe(join(suite.dir(), opt), name, 2, tc, opt);
  const neu = (await suite.start(v2)).first.output;
  const h = await suite.start(v1);
  return { h, old: h.first.output, neu, d: diffDlls(v1, v2) };
}

/**
 * Probe `name` (v1 and v2 print different lines) by `tc` at `opt`: init and unpack refused with
 * `code`, init's message matching `message`; the package with the rule lifted, applied to a
 * running v1, prints neither version's line.
 */
export async function carriedNeither(suite: LiveSuite, name: string, tc: Toolchain, opt: string, code: string, message: RegExp): Promise<void> {
  const { h, old, neu, d } = await startLayoutProbe(suite, name, tc, opt);
  expect(neu).not.toBe(old);
  expect(changedVerdicts(d)).toEqual([`init: ${code}`, `unpack: ${code}`]);
  expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(message);
  const before = liftRule(d, code);
  expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
  const pkg = await writeProbePackage(suite.dir(), before, `${name}.dll`, `${name}-${tc}${opt}.hpk`);
  const after = await patchedRound(h, pkg, `${name}.dll`);
  expect(after).not.toBe(neu);
  expect(after).not.toBe(old);
}

/**
 * A probe's v1 and v2 by `tc`, v2's own output, and a host running v1 next to `importer`
 * (test/probes/<importer>.c: a DLL compiled against v1 that calls the probe's exports, built
 * here with -DHP_TARGET naming the probe's DLL file), with the diff of the two versions; the
 * probe built at `opt` (-O2 unless given).
 */
export async function startImporterProbe(suite: LiveSuite, name: string, importer: string, tc: Toolchain, opt = '-O2', defines: readonly string[] = []): Promise<{ h: HostSession; neu: string; file: string; d: ImageDiff }> {
  // Other optimisation levels build in their own folder (the DLL keeps its file name: the importer names it).
  const dir = opt === '-O2' ? suite.dir() : join(suite.dir(), opt);
  const v1 = buildLayoutProbe(dir, name, 1, tc, opt);
  const v2 = buildLayoutProbe(dir, name, 2, tc, opt);
  const file = `${name}.dll`;
  const imp = join(suite.dir(), `importer-${tc}-${file}`);
  execFileSync('x86_64-w64-mingw32-gcc', ['-O2', `-DHP_TARGET="${file}"`, ...defines.map((x) => `-D${x}`), '-shared', '-o', imp, join(PROBES, `${importer}.c`)]);
  const neu = (await suite.start(v2)).first.output;
  const h = await suite.start(v1, { also: [imp] });
  return { h, neu, file, d: diffDlls(v1, v2) };
}
