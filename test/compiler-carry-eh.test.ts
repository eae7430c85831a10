/**
 * A real pair whose changes carry MSVC handler data (@node-rs/crc32 1.10.3 -> 1.10.4: Rust,
 * __CxxFrameHandler3 FuncInfos, GS data, __C_specific_handler scopes): the --skip-refused
 * package carries them, and the verifier proves every field; a package whose handler field
 * or handler structure is corrupted is caught.
 */
import { existsSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles } from '../compiler/index.ts';
import { verifyPackage } from '../compiler/verify/verify-package.ts';
import { openUnwinds } from '../formats/unwind-ref.ts';
import { copySource } from '../formats/delta-index.ts';
import { asRva } from '../common/types.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import type { CodeBlock, Fixup, HotpatchPackage } from '../formats/package.ts';
import { parseHandlerData } from '../compiler/eh/parse-handler-data.ts';
import type { FunctionInfo } from '../compiler/image/types.ts';
import type { MatchResult } from '../compiler/match/match-images.ts';
import { withCarriableChanges } from './support/change-functions.ts';

const pair = realPairs().find((p) => p.label === 'crc32-1.10.3-1.10.4');
const paths = pair === undefined ? null : [cachePath(pair.old), cachePath(pair.new)];
const missing = paths === null ? 'pair crc32-1.10.3-1.10.4 is not in the manifest' : paths.find((p) => !existsSync(p));

/** `pkg` with code block `id`'s unwind replaced by `edit(unwind)`. */
function withUnwind(pkg: HotpatchPackage, id: number, edit: (u: NonNullable<CodeBlock['unwind']>) => NonNullable<CodeBlock['unwind']>): HotpatchPackage {
  return { ...pkg, codeBlocks: pkg.codeBlocks.map((b) => (b.id === id && b.unwind !== null ? { ...b, unwind: edit(b.unwind) } : b)) };
}

test.skipIf(missing !== undefined)(`carries FH3 and scope-table functions and the verifier proves them${missing === undefined ? '' : ` (skipped: ${missing} absent)`}`, { timeout: 600_000 }, () => {
  // crc32 1.10.4 against itself with every function whose handler data is FH3 or a scope
  // table changed, except those the compiler refuses (test/support/change-functions.ts,
  // withCarriableChanges): the release pair's --skip-refused
  // package no longer carries enough of them (compiler/diff/left-old.ts leaves out carried
  // code next to changed code left old).
  const o = new Uint8Array(readFileSync(paths![1]!));
  const eh = (fn: FunctionInfo, mm: MatchResult): boolean =>
    fn.pdata.some((rf) => {
      const hd = parseHandlerData(mm.new.img, mm.new.fns, fn, rf);
      return hd?.kind === 'msvc' && (hd.data.form === 'fh3' || hd.data.form === 'c-scope');
    });
  const d = diffFiles(o, withCarriableChanges(o, eh).bytes);
  if (!d.ok) throw new Error(d.error.message);
  const diff = d.value;
  const built = buildFromDiff(diff, { moduleName: 'crc32.win32-x64-msvc.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
  if (!built.ok) throw new Error(built.error.message);
  const pkg = built.value.emitted.pkg;
  const m = diff.match;

  // Which carried functions have MSVC handler data, by form.
  const forms = new Map<string, number[]>();
  for (const rec of pkg.functions) {
    const f = m.new.fns.byEntry.get(rec.newRva as number)!;
    for (const rf of f.pdata) {
      const hd = parseHandlerData(m.new.img, m.new.fns, f, rf);
      if (hd?.kind === 'msvc') forms.set(hd.data.form, [...(forms.get(hd.data.form) ?? []), rec.blockId]);
    }
  }
  expect(forms.get('fh3')?.length ?? 0).toBeGreaterThan(5);
  expect(forms.get('c-scope')?.length ?? 0).toBeGreaterThan(0);
  // FuncInfos travel in the unwind blob: their maps point at each other with unwind targets
  // (in the blob as the runtime materialises it: since 2.4 a blob stored by reference names
  // such fields by offset alone, formats/unwind-ref.ts).
  const fh3Block = forms.get('fh3')![0]!;
  expect(built.value.verified.unwindEntries).toBeGreaterThan(0);

  // Corruptions the verifier must catch, each on its own.
  const openedR = openUnwinds(pkg, m.old.img.image);
  if (!openedR.ok) throw new Error(openedR.error.message);
  const opened = openedR.value;
  const unwind = opened.codeBlocks.find((b) => b.id === fh3Block)!.unwind!;
  expect(unwind.unwindFixups.some((f) => f.target.kind === 'unwind')).toBe(true);
  const tableFix = unwind.unwindFixups.findIndex((f) => f.target.kind === 'unwind');
  const codeFix = unwind.unwindFixups.findIndex((f) => f.target.kind === 'block' && f.target.blockId === fh3Block);
  expect(codeFix).toBeGreaterThanOrEqual(0);
  const retarget = (i: number, t: (x: Fixup['target']) => Fixup['target']): HotpatchPackage =>
    withUnwind(opened, fh3Block, (u) => ({ ...u, unwindFixups: u.unwindFixups.map((f, k) => (k === i ? { ...f, target: t(f.target) } : f)) }));
  const cases: Array<[string, HotpatchPackage]> = [
    // An IP-to-state entry (or scope bound) one byte off in the carried body.
    ['code field', retarget(codeFix, (t) => (t.kind === 'block' ? { ...t, offset: t.offset + 1 } : t))],
    // A FuncInfo map pointer 4 bytes into the wrong place of the blob.
    ['table field', retarget(tableFix, (t) => (t.kind === 'unwind' ? { ...t, offset: t.offset + 4 } : t))],
    // A state number inside a carried structure (the last byte of the blob is structure data),
    // in the blob as the runtime materialises it (format 2.3: it may be stored by reference).
    [
      'structure byte',
      withUnwind(opened, fh3Block, (u) => {
        const b = u.unwindInfo.slice();
        const fieldBytes = new Set(u.unwindFixups.flatMap((f) => [f.offset, f.offset + 1, f.offset + 2, f.offset + 3]));
        let k = b.length - 1;
        while (fieldBytes.has(k)) k--;
        b[k] = b[k]! ^ 0x01;
        return { ...u, unwindInfo: b };
      }),
    ],
  ];
  // Stored by reference (format 2.3): the same blob read 4 bytes further into OLD.
  // (42 of the package's 237 unwind blobs are stored by reference.)
  const byRef = pkg.codeBlocks.find((b) => b.unwind?.infoDelta !== undefined);
  expect(byRef).toBeDefined();
  cases.push([
    'reference shifted',
    withUnwind(pkg, byRef!.id, ({ basePdata: _, ...u }) => ({ ...u, infoDelta: { ...u.infoDelta!, base: { ...u.infoDelta!.base, rva: asRva(u.infoDelta!.base.rva + 4) } } })),
  ]);
  // A base from the old .pdata (format 2.8) found through another function's entry: the
  // block's changed record names an old function whose UNWIND_INFO differs.
  const viaPdata = pkg.codeBlocks.filter((b) => b.unwind?.basePdata === true);
  expect(viaPdata.length).toBeGreaterThan(1);
  const oldOf = (id: number): number => pkg.functions.find((r) => r.blockId === id && r.status === 'changed')!.oldRva!;
  const unwindOf = (rva: number): string => Buffer.from(m.old.img.image.subarray(m.old.fns.byEntry.get(rva as never)!.pdata[0]!.unwindInfoAddress, m.old.fns.byEntry.get(rva as never)!.pdata[0]!.unwindInfoAddress + 8)).toString('hex');
  const other = viaPdata.find((b) => unwindOf(oldOf(b.id)) !== unwindOf(oldOf(viaPdata[0]!.id)))!;
  cases.push([
    'pdata base of another function',
    withUnwind(pkg, viaPdata[0]!.id, (u) => ({ ...u, infoDelta: { ...u.infoDelta!, base: { ...u.infoDelta!.base, rva: asRva(0) } } })),
  ]);
  cases[cases.length - 1]![1] = { ...cases[cases.length - 1]![1], functions: cases[cases.length - 1]![1].functions.map((r) => (r.blockId === viaPdata[0]!.id && r.status === 'changed' ? { ...r, oldRva: asRva(oldOf(other.id)) } : r)) };
  // Implicit unwind fields (format 2.4): each derived from the old field at its copy source.
  // A field the package stops naming keeps the old structure's RVA; a field whose old bytes
  // do not imply its fixup (a code address in the carried body) derives the wrong target.
  const implicitBlock = pkg.codeBlocks.find((b) => (b.unwind?.implicitAddr32nb?.length ?? 0) > 0 && b.unwind!.unwindFixups.some((f) => f.target.kind === 'block' && copySource(b.unwind!.infoDelta!.ops, f.offset, 4) !== null));
  expect(implicitBlock).toBeDefined();
  const iu = implicitBlock!.unwind!;
  const derived = opened.codeBlocks.find((b) => b.id === implicitBlock!.id)!.unwind!.unwindFixups;
  const tableField = iu.implicitAddr32nb!.find((o) => derived.find((f) => f.offset === o)?.target.kind === 'unwind');
  expect(tableField).toBeDefined();
  const codeField = iu.unwindFixups.find((f) => f.target.kind === 'block' && copySource(iu.infoDelta!.ops, f.offset, 4) !== null)!;
  cases.push(
    ['implicit unwind field dropped', withUnwind(pkg, implicitBlock!.id, (u) => ({ ...u, implicitAddr32nb: u.implicitAddr32nb!.filter((o) => o !== tableField) }))],
    [
      'code field made implicit',
      withUnwind(pkg, implicitBlock!.id, (u) => ({ ...u, unwindFixups: u.unwindFixups.filter((f) => f !== codeField), implicitAddr32nb: [...u.implicitAddr32nb!, codeField.offset].sort((a, b) => a - b) })),
    ],
  );
  // A parent carried without one of its funclets (the record dropped): a mixed group.
  const funclet = pkg.functions.find((r) => diff.funcletsWithoutRedirect.has(m.new.fns.byEntry.get(r.newRva as number)!.index));
  expect(funclet).toBeDefined();
  const split = verifyPackage(diff, { ...pkg, functions: pkg.functions.filter((r) => r !== funclet) });
  expect(split.ok).toBe(false);
  if (!split.ok) expect(split.error.message).toContain('exception-handling group member');
  for (const [what, bad] of cases) {
    const v = verifyPackage(diff, bad);
    expect(v.ok, what).toBe(false);
    if (!v.ok) expect(v.error.code, what).toBe('VERIFY_MISMATCH');
  }
});
