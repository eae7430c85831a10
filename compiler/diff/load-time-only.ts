/**
 * Code that only runs at load time: a hotpatch changes what runs after it, so a changed
 * function the running process already ran, and will never run again, leaves the process
 * with the state the OLD code built. The patched process does not behave like NEW.
 *
 * Load-time roots, from the image's structures (symbols never needed):
 * - static constructors: the entries of the mingw constructor list (constructor-list.ts:
 *   C++ dynamic initialisers and `__attribute__((constructor))` functions, GCC and clang);
 * - the entry point: for a DLL the CRT's DllMainCRTStartup, which the loader calls for
 *   process attach (and thread attach/detach, process detach), and which calls DllMain; for
 *   an EXE mainCRTStartup, which calls main once;
 * - TLS callbacks (the loader calls them at load and when each thread starts or ends);
 * - the functions called inside a function-local static's guarded initialisation
 *   (guarded-statics.ts): they run once, at the first call, and the guard keeps them from
 *   running again (the calls there are left out of "what runs later" below).
 *
 * A function is load-time-only when a root reaches it through direct calls and jumps and
 * nothing else can: no function outside that closure calls or jumps to it, its address is
 * taken nowhere (a `lea`/immediate in any code, its own body left out, an `atexit`
 * registration in a constructor included; a relocated pointer in data other than the slots
 * of the constructor list, the MSVC initialiser arrays and the TLS callback array; an
 * image-relative field), and it is not exported. Every function outside the closure counts as callable at any time, so the
 * reachability is an over-approximation of what runs later, never of what runs only at load:
 * a function a constructor and exported code both call is not load-time-only (a patch does
 * change what it does from then on).
 *
 * - MSVC initialisers: the entries of the C++ and C initialiser arrays the CRT's startup
 *   walks with `_initterm` (msvc-initializers.ts); their slots, like the constructor list's,
 *   hand out no address. The terminator arrays the CRT's exit walks are not roots.
 *
 * A changed function is refused only when its change can leave state behind: a function whose
 * code is the same and whose difference lies only in the padding around a pointer cell it
 * loads (the same value loaded) is no change at run time (onlyLoadedPaddingDiffers).
 */
import { Decoder, DecoderOptions, Instruction, MemorySizeExt } from 'iced-x86';
import { hex, type Rva } from '../../common/types.ts';
import { IMAGE_REL_BASED_DIR64 } from '../../runtime/pe/types.ts';
import { absTarget, isCode } from '../image/map-image.ts';
import type { FunctionInfo, Reference } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { findConstructorLists } from './constructor-list.ts';
import { findGuardedRegions } from './guarded-statics.ts';
import { findMsvcInitializers } from './msvc-initializers.ts';
import { reason, type Reason } from './reasons.ts';
import type { FunctionStatus } from './types.ts';

const IMAGE_FILE_DLL = 0x2000;

/** What made a function a load-time root. */
export type LoadRoot =
  | { readonly kind: 'constructor'; readonly entry: number; readonly count: number }
  | { readonly kind: 'msvc-initializer'; readonly array: number; readonly entry: number; readonly count: number }
  | { readonly kind: 'entry-point'; readonly dll: boolean }
  | { readonly kind: 'tls-callback'; readonly entry: number }
  | { readonly kind: 'guarded-static'; readonly guard: number; readonly owner: number };

/** How a load-time-only function is reached: its root and the functions from the root to it (root first, itself last). */
export interface LoadTimeReach {
  readonly root: LoadRoot;
  readonly path: readonly number[];
}

/** The load-time roots of an image, by function index (the first root found wins). */
function loadRoots(a: ImageAnalysis): { roots: Map<number, LoadRoot>; rootSlots: Set<number>; onceSites: Set<number> } {
  const roots = new Map<number, LoadRoot>();
  const rootSlots = new Set<number>();
  const onceSites = new Set<number>();
  const add = (rva: number, root: LoadRoot): void => {
    const f = a.fns.containing(rva);
    if (f !== undefined && !roots.has(f.index)) roots.set(f.index, root);
  };
  for (const list of findConstructorLists(a.img)) {
    for (const s of list.slots) rootSlots.add(s);
    // __do_global_ctors calls the entries last to first: entry 1 is the last to run.
    list.targets.forEach((t, i) => add(t, { kind: 'constructor', entry: i + 1, count: list.targets.length }));
  }
  // MSVC's CRT calls each array's entries first to last.
  for (const arr of findMsvcInitializers(a)) {
    for (const s of arr.slots) rootSlots.add(s);
    arr.targets.forEach((t, i) => add(t, { kind: 'msvc-initializer', array: arr.start, entry: i + 1, count: arr.targets.length }));
  }
  const pe = a.img.pe;
  const entry = pe.optionalHeader.addressOfEntryPoint;
  if (entry !== 0) add(entry, { kind: 'entry-point', dll: (pe.fileHeader.characteristics & IMAGE_FILE_DLL) !== 0 });
  const tls = pe.tls;
  if (tls !== null) {
    tls.callbacks.forEach((va, i) => {
      const t = va - a.img.imageBase;
      if (t >= 0n && t < BigInt(a.img.image.length)) add(Number(t), { kind: 'tls-callback', entry: i + 1 });
      const slot = tls.addressOfCallBacks - a.img.imageBase + BigInt(8 * i);
      if (slot >= 0n && slot < BigInt(a.img.image.length)) rootSlots.add(Number(slot));
    });
  }
  // The calls inside a function-local static's guarded initialisation run once per process.
  for (const g of findGuardedRegions(a)) {
    const owner = a.fns.functions[g.owner]!;
    for (const site of g.sites) onceSites.add(site);
    for (const r of owner.decoded.refs) if (r.isBranch && onceSites.has(r.insnRva) && a.fns.containing(r.target) !== owner) add(r.target, { kind: 'guarded-static', guard: g.guard, owner: g.owner });
  }
  return { roots, rootSlots, onceSites };
}

/** The functions `f` calls or jumps to (other than itself), but from the instructions at `skip`. */
function branchTargets(a: ImageAnalysis, f: FunctionInfo, skip: ReadonlySet<number> = new Set()): FunctionInfo[] {
  const out: FunctionInfo[] = [];
  for (const r of f.decoded.refs) {
    if (!r.isBranch || skip.has(r.insnRva)) continue;
    const g = a.fns.containing(r.target);
    if (g !== undefined && g !== f) out.push(g);
  }
  return out;
}

/**
 * Every load-time-only function of an image (by index) and how a root reaches it. Empty when
 * the image has no roots.
 */
export function loadTimeOnly(a: ImageAnalysis): Map<number, LoadTimeReach> {
  const { roots, rootSlots, onceSites } = loadRoots(a);
  const fns = a.fns.functions;
  // The closure of the roots over direct calls and jumps, with the parent that reached each.
  const parent = new Map<number, number>();
  const queue: number[] = [];
  for (const k of roots.keys()) {
    parent.set(k, -1);
    queue.push(k);
  }
  for (let q = 0; q < queue.length; q++) {
    const f = fns[queue[q]!]!;
    for (const g of branchTargets(a, f)) {
      if (parent.has(g.index)) continue;
      parent.set(g.index, f.index);
      queue.push(g.index);
    }
  }
  if (parent.size === 0) return new Map();
  // What may run later: every function outside the closure, every function whose address
  // escapes (code, data, image-relative fields, exports), and what those call or jump to.
  // (Only functions of the closure need marking: the rest are `later` already.)
  const later = new Set<number>();
  const mark = (rva: number, from?: FunctionInfo): void => {
    if (!isCode(a.img, rva)) return;
    const g = a.fns.containing(rva);
    if (g !== undefined && g !== from && parent.has(g.index)) later.add(g.index);
  };
  for (const f of fns) {
    if (!parent.has(f.index)) later.add(f.index);
    // A load or store at a function's bytes does not hand out its address.
    for (const r of f.decoded.refs) if (!r.isBranch && !r.accessesTarget) mark(r.target, f);
  }
  for (const rel of a.img.relocRvas) {
    if (rootSlots.has(rel)) continue;
    const t = absTarget(a.img, rel, a.img.relocs.get(rel)!);
    if (t >= 0) mark(t);
  }
  for (const t of a.rvaFields.values()) mark(t);
  for (const t of a.codeOffsets.values()) mark(t);
  for (const x of a.img.pe.exports?.entries ?? []) if (x.forwarder === null) mark(x.rva);
  const work = [...later];
  while (work.length > 0) {
    for (const g of branchTargets(a, fns[work.pop()!]!, onceSites)) {
      if (later.has(g.index)) continue;
      later.add(g.index);
      work.push(g.index);
    }
  }
  const out = new Map<number, LoadTimeReach>();
  for (const k of parent.keys()) {
    if (later.has(k)) continue;
    const path: number[] = [];
    for (let p = k; p !== -1; p = parent.get(p)!) path.unshift(p);
    out.set(k, { root: roots.get(path[0]!)!, path });
  }
  return out;
}

/** The root, named (`name`: its function's name or address; null when it is the refused function itself). */
function rootStory(root: LoadRoot, name: string | null, ownerName: (k: number) => string): string {
  const named = name === null ? '' : ` ${name}`;
  switch (root.kind) {
    case 'constructor':
      return `static constructor${named} (.ctors entry ${root.entry} of ${root.count})`;
    case 'msvc-initializer':
      return `static initialiser${named} (entry ${root.entry} of ${root.count} of the MSVC initialiser array at ${hex(root.array)}, which the CRT's startup walks with _initterm)`;
    case 'entry-point':
      return root.dll ? `the DLL entry point${named} (the loader calls it for process and thread attach and detach)` : `the entry point${named} (the CRT's startup, which calls main)`;
    case 'tls-callback':
      return `TLS callback ${root.entry}${named}`;
    case 'guarded-static':
      return `the guarded initialisation of a function-local static in ${ownerName(root.owner)} (guard ${hex(root.guard)})`;
  }
}

/** What the refusal is about, and when the old code ran. */
function headAndWhen(root: LoadRoot): { head: string; when: string } {
  switch (root.kind) {
    case 'constructor':
    case 'msvc-initializer':
      return { head: 'static constructor changed', when: 'it ran when the module loaded and never runs again; the running process keeps the state the old code built' };
    case 'entry-point':
      return root.dll
        ? { head: 'DllMain code changed', when: 'its DLL_PROCESS_ATTACH work ran when the module loaded; the new code would run only for thread attach/detach and process detach, and the running process keeps the state the old attach built' }
        : { head: 'startup code changed', when: 'it ran once, when the process started; the running process keeps the state the old code built (and a running main its old body)' };
    case 'tls-callback':
      return { head: 'TLS callback code changed', when: 'it ran when the module loaded and when each existing thread started; those keep the state the old code built' };
    case 'guarded-static':
      return { head: 'function-local static initialiser changed', when: 'it ran when the first call initialised the static, and the guard keeps it from running again; the running process keeps the value the old code built' };
  }
}

/**
 * The refusal of a changed load-time-only function reached as `reach` says in image `a`
 * (functions named by symbol, else by address); `at` is NEW's entry.
 */
export function loadTimeReason(reach: LoadTimeReach, a: ImageAnalysis, at: Rva): Reason {
  const fns = a.fns.functions;
  const label = (k: number): string => fns[k]!.name ?? hex(fns[k]!.entry);
  const { head, when } = headAndWhen(reach.root);
  const self = label(reach.path[reach.path.length - 1]!);
  const via = ` via ${reach.path.map(label).join(' -> ')}`;
  const what =
    reach.root.kind === 'guarded-static'
      ? `${self} is called only from ${rootStory(reach.root, null, label)}${reach.path.length === 1 ? '' : `,${via}`}`
      : reach.path.length === 1
        ? `${self} is the ${rootStory(reach.root, null, label)}`
        : `${self} is reached only from ${rootStory(reach.root, label(reach.path[0]!), label)},${via}`;
  return reason('INITIALIZER_CHANGED', `${head}: ${what}: ${when} (needs a baseline)`, at);
}

/**
 * The load-time check, per NEW function: a changed function that is load-time-only in OLD
 * (the code that ran) or in NEW (the code that would have run) is refused. The entry-point
 * function itself is left to ENTRY_POINT_CHANGED (data-changes.ts), which already refuses it.
 */
export function loadTimeCheck(m: MatchResult): (f: FunctionInfo, st: FunctionStatus) => Reason | null {
  // Computed at the first changed function: a pair with none pays nothing.
  let oldOnly: Map<number, LoadTimeReach> | null = null;
  let newOnly = new Map<number, LoadTimeReach>();
  const newEntry = m.new.fns.containing(m.new.img.pe.optionalHeader.addressOfEntryPoint)?.index;
  return (f, st) => {
    if (st !== 'changed' || f.index === newEntry) return null;
    if (oldOnly === null) {
      oldOnly = loadTimeOnly(m.old);
      newOnly = loadTimeOnly(m.new);
    }
    const o = m.fnNewToOld[f.index]!;
    const reach = (o >= 0 ? oldOnly.get(o) : undefined) ?? newOnly.get(f.index);
    if (reach === undefined || (o >= 0 && onlyLoadedPaddingDiffers(m, m.old.fns.functions[o]!, f))) return null;
    return oldOnly.has(o) ? loadTimeReason(reach, m.old, f.entry) : loadTimeReason(reach, m.new, f.entry);
  };
}

/**
 * What a RIP-relative load `r` reads (no index register: exactly its operand's bytes): the
 * bytes, with each DIR64-relocated pointer among them replaced by the token of what it points
 * at; null when the access size is unknown.
 */
function loadedValue(a: ImageAnalysis, norm: MatchResult['oldNorm'], r: Reference): string | null {
  const insn = new Instruction();
  const decoder = new Decoder(64, a.img.image.subarray(r.insnRva, r.insnEnd), DecoderOptions.None);
  let size = 0;
  try {
    decoder.ip = BigInt(r.insnRva);
    decoder.decodeOut(insn);
    size = MemorySizeExt.size(insn.memorySize);
  } finally {
    insn.free();
    decoder.free();
  }
  if (size === 0 || size > 64) return null;
  const parts: string[] = [];
  for (let k = r.target; k < r.target + size; ) {
    if (a.img.relocs.get(k) === IMAGE_REL_BASED_DIR64 && k + 8 <= r.target + size) {
      parts.push(`\u0102${norm.targetToken(null, absTarget(a.img, k, IMAGE_REL_BASED_DIR64), 'exact')}\u0103`);
      k += 8;
    } else {
      if (a.img.relocs.has(k)) return null;
      parts.push((a.img.image[k] ?? 0).toString(16).padStart(2, '0'));
      k += 1;
    }
  }
  return parts.join('');
}

/**
 * True when OLD `of` and NEW `nf` differ only in read-only data they load whose loaded value
 * is the same (pointers compared by what they point at): the normalised form keys a load by
 * the whole data item at its target, and an item runs to the next referenced address, so
 * padding moves the key without moving a byte the code reads. lld's zero padding after a
 * `.refptr` cell (clang switch-table: `.refptr.__CTOR_LIST__`, 16 bytes in v1, 32 in v2) makes
 * `__do_global_ctors` "changed"; so does a zero pointer slot of MSVC's CRT that is 16 bytes in
 * one build, 8 in the next (lightningcss 1.29.1 -> 1.29.2). Such a change leaves nothing stale.
 * Decided on the exact forms themselves: each differing token of such a load is replaced, on
 * both sides, by the loaded value, and the forms must then be equal.
 */
function onlyLoadedPaddingDiffers(m: MatchResult, of: FunctionInfo, nf: FunctionInfo): boolean {
  const ro = of.decoded.refs;
  const rn = nf.decoded.refs;
  if (ro.length !== rn.length) return false;
  let oForm = m.oldNorm.functionForm(of, 'exact');
  let nForm = m.newNorm.functionForm(nf, 'exact');
  let replaced = false;
  for (let i = 0; i < ro.length; i++) {
    const a = ro[i]!;
    const b = rn[i]!;
    if (a.isBranch || !a.accessesTarget || !b.accessesTarget) continue;
    const ta = m.oldNorm.targetToken(of, a.target, 'exact');
    const tb = m.newNorm.targetToken(nf, b.target, 'exact');
    if (ta === tb) continue;
    const va = loadedValue(m.old, m.oldNorm, a);
    if (va === null || va !== loadedValue(m.new, m.newNorm, b)) return false;
    oForm = oForm.split(ta).join(`\u0104${va}\u0105`);
    nForm = nForm.split(tb).join(`\u0104${va}\u0105`);
    replaced = true;
  }
  return replaced && oForm === nForm;
}
