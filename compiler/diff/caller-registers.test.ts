/**
 * The caller-registers rule (GCC interprocedural register allocation): register effects on
 * encoded instructions, then the rule on the ipra samples' real builds. GCC's old total keeps
 * its loop counter, sum, t and n in rdx, r8, r9, r10 across `call mix` (v1 mix writes eax
 * only); ipra-clobber's new mix writes rdx and r8 (refused), ipra-safe's writes eax and ecx
 * (passes, although old total keeps the same registers); clang's total keeps nothing
 * volatile across the call but the return value.
 */
import { readFileSync } from 'node:fs';
import { Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { describe, expect, test } from 'vitest';
import { fetchRealFile, realPairs } from '../../samples/real/real-files.ts';
import { scenarioDll, type Toolchain } from '../../samples/scenarios.ts';
import { diffFiles, type ImageDiff } from '../index.ts';
import { findClobberedCalls, keepingToolchain, keptAcrossCall } from './caller-registers.ts';
import { decodeEffects, regNames, type RegEffect } from './register-effects.ts';

/** The effects of a body given as encoded bytes, decoded in sequence from RVA 0. */
function effects(hex: string): RegEffect[] {
  const bytes = Uint8Array.from(hex.split(/\s+/).filter((x) => x !== '').map((x) => parseInt(x, 16)));
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  const insn = new Instruction();
  const spans: Array<{ rva: number; length: number; flow: number }> = [];
  try {
    while (decoder.canDecode) {
      const rva = decoder.position;
      decoder.decodeOut(insn);
      spans.push({ rva, length: insn.length, flow: insn.flowControl });
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return [...decodeEffects(bytes, spans).values()];
}

const one = (hex: string): { reads: string; kills: string; writes: string } => {
  const [e] = effects(hex);
  return { reads: regNames(e!.reads), kills: regNames(e!.kills), writes: regNames(e!.writes) };
};

describe('register effects', () => {
  test('writes that read nothing: zeroing idioms, partial GPR writes, sbb r,r', () => {
    expect(one('31 c9')).toEqual({ reads: '', kills: 'rcx', writes: 'rcx' }); // xor ecx,ecx
    expect(one('66 0f ef c0')).toEqual({ reads: '', kills: 'xmm0', writes: 'xmm0' }); // pxor xmm0,xmm0
    expect(one('88 c1')).toEqual({ reads: 'rax', kills: 'rcx', writes: 'rcx' }); // mov cl,al
    expect(one('19 c0')).toEqual({ reads: '', kills: 'rax', writes: 'rax' }); // sbb eax,eax
  });
  test('a destination that is also a source or an address base is read first (iced lists the write first)', () => {
    expect(one('48 8b 49 08')).toEqual({ reads: 'rcx', kills: 'rcx', writes: 'rcx' }); // mov rcx,[rcx+8]
    expect(one('0f b6 c9')).toEqual({ reads: 'rcx', kills: 'rcx', writes: 'rcx' }); // movzx ecx,cl
    expect(one('48 8d 0c 09')).toEqual({ reads: 'rcx', kills: 'rcx', writes: 'rcx' }); // lea rcx,[rcx+rcx]
  });
  test('scalar SSE merges write their destination; arithmetic reads it', () => {
    expect(one('f2 0f 2a c8')).toEqual({ reads: 'rax', kills: 'xmm1', writes: 'xmm1' }); // cvtsi2sd xmm1,eax
    expect(one('f3 0f 10 c8')).toEqual({ reads: 'xmm0', kills: 'xmm1', writes: 'xmm1' }); // movss xmm1,xmm0
    expect(one('f2 0f 58 c8')).toMatchObject({ reads: 'xmm0, xmm1', writes: 'xmm1' }); // addsd xmm1,xmm0
  });
  test('implicit operands and branches', () => {
    expect(one('48 99')).toEqual({ reads: 'rax', kills: 'rdx', writes: 'rdx' }); // cqo
    expect(one('f3 a4')).toMatchObject({ reads: 'rcx' }); // rep movsb
    const [call] = effects('e8 0b 00 00 00'); // call +0x10
    expect(call!.target).toBe(0x10);
  });
});

const read = (s: string, v: 'v1' | 'v2', stripped: boolean, tc: Toolchain): Uint8Array => new Uint8Array(readFileSync(scenarioDll(s, v, stripped, undefined, tc)));
function diffOf(s: string, stripped: boolean, tc: Toolchain): ImageDiff {
  const d = diffFiles(read(s, 'v1', stripped, tc), read(s, 'v2', stripped, tc));
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}
/** OLD total's call to mix, found by name in the build with symbols (the stripped build has the same layout). */
function totalCallsMix(s: string, tc: Toolchain): { total: number; site: number; mix: number } {
  const fns = diffOf(s, false, tc).match.old.fns;
  const total = fns.functions.find((f) => f.name === 'total')!;
  const mix = fns.functions.find((f) => f.name === 'mix')!;
  const call = total.decoded.refs.find((r) => r.isCall && r.target === mix.entry)!;
  return { total: total.entry, site: call.insnRva, mix: mix.entry };
}

describe.each([false, true])('caller-registers rule on the ipra samples (stripped: %s)', (stripped) => {
  test('ipra-clobber (GCC): old total keeps rdx, r8 across call mix, which the new mix clobbers: refused', () => {
    const d = diffOf('ipra-clobber', stripped, 'gcc');
    const { total, site, mix } = totalCallsMix('ipra-clobber', 'gcc');
    expect(regNames(keptAcrossCall(d.match.old, total, site))).toBe('rax, rdx, r8, r9, r10');
    const calls = findClobberedCalls(d.match, d.newStatus);
    expect(calls.map((c) => ({ caller: c.caller.entry, site: c.site, callee: c.callee.entry, kept: regNames(c.kept), clobbers: regNames(c.clobbers), same: c.same }))).toEqual([
      { caller: total, site, callee: mix, kept: 'rdx, r8', clobbers: 'rdx, r8', same: true },
    ]);
    const f = d.functions.find((x) => x.oldRva === mix)!;
    expect(f.verdict).toBe('refused');
    expect(f.reason?.code).toBe('CALLER_REGISTERS_CLOBBERED');
    expect(d.hotpatchable).toBe(false);
  });

  test('ipra-safe (GCC): the same old total, a new mix that writes only rax and rcx: hotpatchable', () => {
    const d = diffOf('ipra-safe', stripped, 'gcc');
    const { total, site } = totalCallsMix('ipra-safe', 'gcc');
    expect(regNames(keptAcrossCall(d.match.old, total, site))).toBe('rax, rdx, r8, r9, r10');
    expect(findClobberedCalls(d.match, d.newStatus)).toEqual([]);
    expect(d.hotpatchable).toBe(true);
  });

  test('ipra-clobber (clang): total keeps only the return value across the call: hotpatchable', () => {
    const d = diffOf('ipra-clobber', stripped, 'clang');
    const { total, site } = totalCallsMix('ipra-clobber', 'clang');
    expect(regNames(keptAcrossCall(d.match.old, total, site))).toBe('rax');
    expect(findClobberedCalls(d.match, d.newStatus)).toEqual([]);
    expect(d.hotpatchable).toBe(true);
  });
});

/** A corpus pair's files (samples/real/manifest.json), or why they are unavailable. */
function realPair(label: string): { o: Uint8Array; n: Uint8Array } | string {
  const p = realPairs().find((x) => x.label === label);
  if (p === undefined) return `no pair ${label}`;
  const o = fetchRealFile(p.old);
  const n = fetchRealFile(p.new);
  if (!o.ok) return o.error.message;
  if (!n.ok) return n.error.message;
  return { o: new Uint8Array(readFileSync(o.value)), n: new Uint8Array(readFileSync(n.value)) };
}

describe('toolchains and the real corpus', () => {
  test('the samples are GCC-laid-out (the clang builds link mingw-w64 objects GCC compiled)', () => {
    for (const tc of ['gcc', 'clang'] as const) expect(keepingToolchain(read('ipra-clobber', 'v1', true, tc))).toBe('gcc');
  });

  // MSVC's whole-program optimisation gives static leaf functions custom conventions too.
  const sevenZip = realPair('7za-5.1.1-5.2.0');
  test.skipIf(typeof sevenZip === 'string')(`7za 5.1.1 -> 5.2.0 (MSVC): old 0x19dc keeps r8 across its call to 0x199c, the new 0x1928 writes it${typeof sevenZip === 'string' ? ` (skipped: ${sevenZip})` : ''}`, () => {
    const { o, n } = sevenZip as { o: Uint8Array; n: Uint8Array };
    expect(keepingToolchain(o)).toBe('msvc');
    const d = diffFiles(o, n);
    if (!d.ok) throw new Error(d.error.message);
    const oldFns = d.value.match.old.fns;
    // The leaf writes rax only; the caller's loop keeps its counter and pointers in r8-r11.
    expect(regNames(keptAcrossCall(d.value.match.old, 0x19dc, 0x1a05))).toBe('rax, r8, r9, r10, r11');
    expect(oldFns.byEntry.has(0x199c)).toBe(true);
    const calls = findClobberedCalls(d.value.match, d.value.newStatus);
    expect(calls.map((c) => [c.caller.entry, c.site, c.callee.entry, c.culprit.entry, regNames(c.kept)])).toEqual([[0x19dc, 0x1a05, 0x199c, 0x1928, 'r8']]);
  }, 300_000); // a whole 7za diff: minutes on a loaded 2-core machine

  // LLVM keeps nothing volatile across a call: a read after one is an undefined value.
  const libvips = realPair('libvips-0.34.4-0.34.5');
  test.skipIf(typeof libvips === 'string')(`libvips 0.34.4 (llvm-mingw) is LLVM-laid-out: the rule refuses nothing${typeof libvips === 'string' ? ` (skipped: ${libvips})` : ''}`, () => {
    const { o } = libvips as { o: Uint8Array; n: Uint8Array };
    expect(keepingToolchain(o)).toBe('llvm');
  });
});
