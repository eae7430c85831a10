/**
 * The compiler's library surface: discover functions, diff two builds, build a package and
 * verify it. Pure functions over bytes (the CLI reads the files). The optional `progress`
 * callback hears each stage (parse, functions, match, diff, emit, verify) with its counts;
 * the compiler itself never prints.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { NO_PROGRESS, type Progress } from '../common/progress.ts';
import { parsePe } from '../runtime/pe/parse-pe.ts';
import { IMAGE_FILE_MACHINE_AMD64 } from '../runtime/pe/types.ts';
import type { HotpatchPackage } from '../formats/package.ts';
import { diffImages, type ImageDiff, type PeInput } from './diff/diff-images.ts';
import { emitPackage, type EmitOptions, type EmittedPackage } from './emit/emit-package.ts';
import { sealEmitted, type SealOptions } from './emit/seal.ts';
import { discoverFunctions, type FunctionTable } from './functions/discover-functions.ts';
import { mapImage } from './image/map-image.ts';
import { verifyPackage, DEFAULT_VERIFY_LAYOUT, type VerifyLayout, type VerifyReport } from './verify/verify-package.ts';
import { refuseRuntimeTables } from './image/runtime-tables.ts';
import { checkStableRelied } from './image/stable-ranges.ts';

export { diffImages, prepareImage, type ImageDiff, type FunctionChange, type DataChange, type PeInput } from './diff/diff-images.ts';
export { REASON_CODES, type Reason, type ReasonCode } from './diff/reasons.ts';
export { refusalLines, refusalsByCode, refusalsOf, type Refusal } from './diff/refusals.ts';
export { emitPackage, defaultBaselineId, type EmitOptions, type EmittedPackage, type Omission } from './emit/emit-package.ts';
export { sealEmitted, sealPackage, chooseDictionary, type SealOptions } from './emit/seal.ts';
export { verifyPackage, DEFAULT_VERIFY_LAYOUT, type VerifyLayout, type VerifyReport } from './verify/verify-package.ts';
export { discoverFunctions, type FunctionInfo, type FunctionTable, type FunctionSource } from './functions/discover-functions.ts';
export { mapImage, type MappedImage } from './image/map-image.ts';
export { findRuntimeTables, refuseRuntimeTables, refuseRuntimeTablesOfFiles, type RuntimeTables } from './image/runtime-tables.ts';

/** The version recorded in packages as their producer. */
export const COMPILER_VERSION = 'hotpatch-compiler 0.1.0';

/**
 * Parses `bytes` as a PE file for the compiler: x86-64 (PE32+, machine 0x8664) only, since
 * everything after parsing disassembles; other machines are PE_MACHINE.
 */
export function readPe(bytes: Uint8Array): Result<PeInput> {
  const pe = parsePe(bytes);
  if (!pe.ok) return pe;
  const machine = pe.value.fileHeader.machine;
  if (machine !== IMAGE_FILE_MACHINE_AMD64 || pe.value.format !== 'PE32+') {
    return err('PE_MACHINE', `machine 0x${machine.toString(16)} (${machineName(machine)}, ${pe.value.format}) is not x86-64: hotpatch disassembles x86-64 (PE32+, machine 0x8664) only`);
  }
  return ok({ bytes, pe: pe.value });
}

function machineName(m: number): string {
  return ({ 0x14c: 'i386', 0x8664: 'x86-64', 0xaa64: 'ARM64', 0x1c4: 'ARMv7', 0x200: 'IA-64' } as Record<number, string>)[m] ?? 'unknown';
}

/** Discovers the functions of a PE file. */
export function findFunctions(bytes: Uint8Array): Result<FunctionTable> {
  const input = readPe(bytes);
  if (!input.ok) return input;
  const img = mapImage(bytes, input.value.pe);
  if (!img.ok) return img;
  return discoverFunctions(img.value);
}

/** Diffs two PE files. */
export function diffFiles(oldBytes: Uint8Array, newBytes: Uint8Array, progress: Progress = NO_PROGRESS): Result<ImageDiff> {
  progress({ stage: 'parse', done: 0, total: 2, unit: 'files' });
  const o = readPe(oldBytes);
  if (!o.ok) return o;
  progress({ stage: 'parse', done: 1, total: 2, unit: 'files' });
  const n = readPe(newBytes);
  if (!n.ok) return n;
  return diffImages(o.value, n.value, progress);
}

/** A built and verified package. */
export interface BuiltPackage {
  readonly diff: ImageDiff;
  readonly emitted: EmittedPackage;
  readonly verified: VerifyReport;
}

/**
 * Diffs, emits and verifies: a package only comes back when verification passed.
 * Refused changes fail with BUILD_REFUSED unless `opts.skipRefused`.
 */
export function buildPackage(oldBytes: Uint8Array, newBytes: Uint8Array, opts: EmitOptions, layout: VerifyLayout = DEFAULT_VERIFY_LAYOUT, progress: Progress = NO_PROGRESS): Result<BuiltPackage> {
  const d = diffFiles(oldBytes, newBytes, progress);
  if (!d.ok) return d;
  return buildFromDiff(d.value, opts, layout, progress);
}

/** Emits and verifies a package for an existing diff. */
export function buildFromDiff(diff: ImageDiff, opts: EmitOptions, layout: VerifyLayout = DEFAULT_VERIFY_LAYOUT, progress: Progress = NO_PROGRESS): Result<BuiltPackage> {
  const changes = diff.functions.filter((f) => f.status === 'changed' || f.status === 'added').length;
  progress({ stage: 'emit', done: 0, total: changes, unit: 'functions' });
  const runtime = refuseRuntimeTables(diff.match.old.img, diff.match.new.img);
  if (!runtime.ok) return runtime;
  const e = emitPackage(diff, opts);
  if (!e.ok) return e;
  const stable = checkStableRelied(diff.match.old.img, e.value.pkg);
  if (!stable.ok) return stable;
  const carried = e.value.pkg.functions.length;
  const v = verifyPackage(diff, e.value.pkg, layout, progress);
  progress({ stage: 'verify', done: carried, total: carried, unit: 'functions' });
  if (!v.ok) return err('BUILD_VERIFY_FAILED', `the emitted package failed verification: ${v.error.message}`);
  return ok({ diff, emitted: e.value, verified: v.value });
}

/**
 * The built package with its literal block bytes sealed against OLD (format 2.2,
 * compiler/emit/seal.ts) when that makes the file smaller, verified again on paper (the paper
 * image opens the frame with the runtime's own function, formats/seal.ts). Async: the
 * compressor loads on first use. Unchanged when sealing does not pay.
 */
export async function sealBuilt(b: BuiltPackage, layout: VerifyLayout = DEFAULT_VERIFY_LAYOUT, opts: SealOptions = {}): Promise<Result<BuiltPackage>> {
  const s = await sealEmitted(b.diff.match.old.img, b.emitted, opts);
  if (!s.ok) return s;
  if (s.value === b.emitted) return ok(b);
  const v = verifyPackage(b.diff, s.value.pkg, layout);
  if (!v.ok) return err('BUILD_VERIFY_FAILED', `the sealed package failed verification: ${v.error.message}`);
  return ok({ diff: b.diff, emitted: s.value, verified: v.value });
}

/** Verifies a decoded package against the OLD and NEW files it claims to patch. */
export function verifyFiles(oldBytes: Uint8Array, newBytes: Uint8Array, pkg: HotpatchPackage, layout: VerifyLayout = DEFAULT_VERIFY_LAYOUT): Result<VerifyReport> {
  const d = diffFiles(oldBytes, newBytes);
  if (!d.ok) return d;
  return verifyPackage(d.value, pkg, layout);
}
