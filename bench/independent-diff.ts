/**
 * An independent function diff of two x64 PE builds, written apart from compiler/ so that it
 * can audit the compiler's "unchanged" verdicts (bench/true-change-audit.ts). It shares only
 * the PE parser and the loader mapping with the compiler, never its discovery, decoding,
 * normalisation or matching.
 *
 * - Functions: the .pdata roots; a chained entry is a part of its root.
 * - Form: each instruction's bytes (iced-x86 linear decode of every part) with every
 *   reference field zeroed and replaced by a token for what it refers to: a branch/call or
 *   RIP-relative/absolute/image-relative operand names a function (its pair), a place in a
 *   function, an import (`dll!symbol`, version digits left out of the DLL name), writable data
 *   (paired through paired functions' accesses) or read-only data (its bytes from the address to
 *   the next referenced address, with pointer and RVA fields again replaced by tokens). Each
 *   part's unwind codes and its handler (as a token) are part of the form.
 * - Matching: unique shapes (function tokens blind) are anchors, kept in order; between
 *   anchors an LCS over shapes, then equal-size gaps in order; then unique shapes among what
 *   is left (moved functions). A pair is unchanged when the exact forms are equal.
 *
 * Known blind spots (the audit errs towards "changed"): handler data (FuncInfo/FH4) is not
 * parsed, so a change only in catch/unwind maps is not seen here.
 */
import { Decoder, DecoderOptions, Instruction, OpKind, Register, Mnemonic } from 'iced-x86';
import { createHash } from 'node:crypto';
import { parsePe } from '../runtime/pe/parse-pe.ts';
import { mapImage, sectionAt, relocsIn, absTarget, readU32, lowerBound, type MappedImage } from '../compiler/image/map-image.ts';

export interface IndFunction {
  readonly entry: number;
  readonly ranges: { start: number; end: number; unwind: string; handler: number }[];
  readonly size: number;
}

interface Ref {
  /** offset of the field inside the instruction bytes, and its size */
  readonly off: number;
  readonly size: number;
  readonly target: number;
  readonly kind: 'code' | 'mem';
}

interface Insn {
  readonly rva: number;
  readonly bytes: Uint8Array;
  readonly refs: Ref[];
}

interface Side {
  readonly img: MappedImage;
  readonly fns: IndFunction[];
  readonly byEntry: Map<number, number>;
  /** sorted range starts -> function index, for "which function holds rva" */
  readonly rangeStarts: number[];
  readonly rangeOwner: { start: number; end: number; fn: number }[];
  readonly insns: Insn[][];
  /** sorted referenced addresses in data sections (item boundaries) */
  readonly dataAddrs: number[];
  /** starts of UNWIND_INFO / handler data (item ends) */
  readonly ehStarts: number[];
}

export interface IndPair {
  readonly old: number;
  readonly new: number;
  readonly status: 'unchanged' | 'changed';
  readonly how: 'anchor' | 'order' | 'gap' | 'moved' | 'given';
  /**
   * For a changed pair: whether every line of the forms (the unwind line, each instruction) is
   * equal under one of two readings of unrelocated read-only dwords: guessed to be RVAs (the
   * exact form) or kept as bytes. True for an unchanged pair. Such a pair differs only in what
   * dwords with identical bytes would point at, or in RVAs the guess resolves to the same
   * targets (a ThrowInfo whose CatchableTypeArray moved).
   */
  readonly equalEitherReading: boolean;
}

export interface IndDiff {
  readonly oldFns: readonly IndFunction[];
  readonly newFns: readonly IndFunction[];
  readonly pairs: readonly IndPair[];
  readonly added: readonly number[];
  readonly removed: readonly number[];
  /** The exact forms of a paired old function and its counterpart, line by line (evidence). */
  readonly forms: (oldEntry: number, asBytes?: boolean) => { old: string[]; new: string[] } | undefined;
}

function sha(s: string): string {
  return createHash('sha1').update(s).digest('base64').slice(0, 16);
}

function loadSide(bytes: Uint8Array): Side {
  const pe = parsePe(bytes);
  if (!pe.ok) throw new Error(pe.error.message);
  const m = mapImage(bytes, pe.value);
  if (!m.ok) throw new Error(m.error.message);
  const img = m.value;
  const byRoot = new Map<number, IndFunction['ranges']>();
  const ehStarts: number[] = [];
  const handlerData: number[] = [];
  for (const rf of pe.value.exceptions) {
    let root = rf;
    for (let i = 0; i < 32 && root.unwind?.chained; i++) root = root.unwind.chained;
    const u = rf.unwind;
    ehStarts.push(rf.unwindInfoAddress as number);
    if (u?.handlerData != null) {
      ehStarts.push(u.handlerData as number);
      handlerData.push(u.handlerData as number);
    }
    const unwind = u === null ? 'none' : `${u.version}/${u.flags}/${u.sizeOfProlog}/${u.frameRegister}/${u.frameOffset}/${u.unwindCodes.join(',')}${u.chained ? '/chain' : ''}`;
    const list = byRoot.get(root.beginAddress as number) ?? [];
    list.push({ start: rf.beginAddress as number, end: rf.endAddress as number, unwind, handler: (u?.chained ? -1 : (u?.handler as number | null)) ?? -1 });
    byRoot.set(root.beginAddress as number, list);
  }
  for (const d of pe.value.debug) ehStarts.push(d.addressOfRawData as number);
  const debugDir = pe.value.dataDirectories[6];
  if (debugDir !== undefined && debugDir.size > 0) ehStarts.push(debugDir.virtualAddress as number);
  for (const h of handlerData) {
    const v = readU32(img, h);
    if (v >= 0x1000 && sectionAt(img, v) !== undefined && !sectionAt(img, v)!.executable) ehStarts.push(v);
  }
  const entries = [...byRoot.keys()].sort((a, b) => a - b);
  const fns: IndFunction[] = entries.map((e) => {
    const ranges = byRoot.get(e)!.sort((a, b) => a.start - b.start);
    return { entry: e, ranges, size: ranges.reduce((s, r) => s + r.end - r.start, 0) };
  });
  const byEntry = new Map(fns.map((f, i) => [f.entry, i]));
  const rangeOwner = fns.flatMap((f, i) => f.ranges.map((r) => ({ start: r.start, end: r.end, fn: i }))).sort((a, b) => a.start - b.start);
  const insns: Insn[][] = [];
  const dataSet = new Set<number>();
  for (const f of fns) {
    // MSVC puts a function's jump tables (dword RVAs, byte index tables) after its code,
    // inside its .pdata range: code ends at the first table the function reads.
    let list = decodeRanges(img, f.ranges, () => Infinity);
    const tables = list.flatMap((x) => x.refs.filter((r) => r.kind === 'mem' && f.ranges.some((q) => r.target >= q.start && r.target < q.end)).map((r) => r.target));
    if (tables.length > 0) {
      const first = Math.min(...tables);
      list = decodeRanges(img, f.ranges, (q) => (first >= q.start && first < q.end ? first : Infinity));
      const part = f.ranges.find((q) => first >= q.start && first < q.end)!;
      list.push({ rva: first, bytes: img.image.subarray(first, part.end), refs: tableRefs(img, first, part.end, f) });
    }
    for (const x of list) for (const r of x.refs) if (r.kind === 'mem' && sectionAt(img, r.target) !== undefined && !sectionAt(img, r.target)!.executable) dataSet.add(r.target);
    insns.push(list);
  }
  // Code between .pdata functions (frameless leaves): swept linearly past int3 padding, so the
  // data it reads bounds items too (an LLVM leaf's switch table must not run into the next one).
  for (let k = 0; k + 1 < rangeOwner.length; k++) {
    let at = rangeOwner[k]!.end;
    const end = rangeOwner[k + 1]!.start;
    while (at < end && img.image[at] === 0xcc) at++;
    if (at >= end || sectionAt(img, at)?.executable !== true) continue;
    for (const x of decodeLinear(img, at, end, 1 << 20)) for (const r of x.refs) if (r.kind === 'mem' && sectionAt(img, r.target)?.executable === false) dataSet.add(r.target);
  }
  // Pointers in data are item boundaries too.
  for (const r of img.relocRvas) {
    const s = sectionAt(img, r);
    if (s === undefined || s.executable) continue;
    dataSet.add(r);
    const t = absTarget(img, r, img.relocs.get(r)!);
    if (t >= 0 && sectionAt(img, t) !== undefined && !sectionAt(img, t)!.executable) dataSet.add(t);
  }
  return {
    img,
    fns,
    byEntry,
    rangeStarts: rangeOwner.map((r) => r.start),
    rangeOwner,
    insns,
    dataAddrs: [...dataSet].sort((a, b) => a - b),
    ehStarts: [...new Set(ehStarts)].sort((a, b) => a - b),
  };
}

/** Linear decode of a function's parts, each cut at `codeEnd(part)`. */
function decodeRanges(img: MappedImage, ranges: IndFunction['ranges'], codeEnd: (r: IndFunction['ranges'][number]) => number): Insn[] {
  const list: Insn[] = [];
  for (const r of ranges) list.push(...decodeLinear(img, r.start, Math.min(r.end, codeEnd(r)), Infinity));
  return list;
}

/**
 * Decodes from `start` to `end` (or, when `end` is Infinity, to the first ret/jmp/int3 within
 * `maxInsns`), with every reference field found: branch targets, RIP-relative operands, base
 * relocations, and MSVC image-relative displacements ([base + idx*s + RVA] with the base loaded by
 * `lea r, [rip -> __ImageBase]` earlier in straight-line order).
 */
function decodeLinear(img: MappedImage, start: number, end: number, maxInsns: number): Insn[] {
  const decoder = new Decoder(64, img.image, DecoderOptions.None);
  const insn = new Instruction();
  decoder.position = start;
  decoder.ip = BigInt(start);
  const list: Insn[] = [];
  const imageBaseRegs = new Set<number>();
  let at = start;
  // A leaf's own jump table ends its code.
  let stop = end;
  while (at < end && at < stop && list.length < maxInsns && at < img.image.length) {
    decoder.decodeOut(insn);
    const len = insn.length;
    const refs: Ref[] = [];
    const co = decoder.getConstantOffsets(insn);
    if (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32) {
      refs.push({ off: co.immediateOffset, size: co.immediateSize, target: Number(BigInt.asUintN(64, insn.nearBranchTarget)), kind: 'code' });
    }
    if (insn.isIpRelMemoryOperand) {
      const t = Number(BigInt.asUintN(64, insn.ipRelMemoryAddress));
      refs.push({ off: co.displacementOffset, size: 4, target: t, kind: 'mem' });
      if (insn.mnemonic === Mnemonic.Lea && t === 0) imageBaseRegs.add(insn.op0Register);
      else if (insn.mnemonic === Mnemonic.Lea) imageBaseRegs.delete(insn.op0Register);
    } else if (insn.memoryDisplSize >= 4 && insn.memoryBase !== Register.None && imageBaseRegs.size > 0) {
      const d = Number(insn.memoryDisplacementU64 & 0xffffffffn);
      if ((imageBaseRegs.has(insn.memoryBase) || imageBaseRegs.has(insn.memoryIndex)) && d > 0 && sectionAt(img, d) !== undefined) {
        refs.push({ off: co.displacementOffset, size: 4, target: d, kind: 'mem' });
      }
    }
    for (const rr of relocsIn(img, at, at + len)) {
      refs.push({ off: rr - at, size: img.relocs.get(rr) === 10 ? 8 : 4, target: absTarget(img, rr, img.relocs.get(rr)!), kind: 'mem' });
    }
    co.free();
    if (end === Infinity) for (const r of refs) if (r.kind === 'mem' && r.target > start && r.target < stop) stop = r.target;
    list.push({ rva: at, bytes: img.image.subarray(at, at + len), refs });
    at += len;
    if (end === Infinity && (insn.mnemonic === Mnemonic.Ret || insn.mnemonic === Mnemonic.Jmp || insn.mnemonic === Mnemonic.Int3)) break;
  }
  insn.free();
  decoder.free();
  return list;
}

/**
 * Delay-load import descriptors (the DelayImport directory, entry 13: 32-byte records whose
 * second dword is the DLL name's RVA) by RVA -> DLL name, version digits left out as for
 * imports. MSVC's `__tailMerge_<dll>` thunk takes its descriptor's address; the descriptor's
 * own RVA fields move with the import tables, so it is the DLL it names.
 */
function delayImportDlls(img: MappedImage): Map<number, string> {
  const out = new Map<number, string>();
  const b = img.image;
  const u32 = (at: number): number => (at + 4 <= b.length ? readU32(img, at) : 0);
  const pe = u32(0x3c);
  const dirs = (u32(pe + 24) & 0xffff) === 0x20b ? pe + 24 + 112 : pe + 24 + 96;
  const start = u32(dirs + 13 * 8);
  for (let at = start; start !== 0 && at + 32 <= b.length && u32(at + 4) !== 0 && out.size < 4096; at += 32) {
    let end = u32(at + 4);
    while (end < b.length && b[end] !== 0 && end - u32(at + 4) < 256) end++;
    const name = String.fromCharCode(...b.subarray(u32(at + 4), end)).toLowerCase();
    out.set(at, name.replace(/[-_.]?\d+(\.\d+)*(?=\.dll$)/, ''));
  }
  return out;
}

/** A function's own tables: each aligned dword that lands inside the function is an RVA (a case). */
function tableRefs(img: MappedImage, start: number, end: number, f: IndFunction): Ref[] {
  const refs: Ref[] = [];
  for (let i = start + ((4 - (start & 3)) & 3); i + 4 <= end; i += 4) {
    const v = readU32(img, i);
    if (f.ranges.some((q) => v >= q.start && v < q.end)) refs.push({ off: i - start, size: 4, target: v, kind: 'code' });
  }
  return refs;
}

/** Names what `target` is on `side`, given how functions are named (`fnTok`). */
type FnTok = (i: number) => string;

class Tokens {
  private readonly dataMemo = new Map<number, string>();
  private delayDlls: Map<number, string> | undefined;
  private readonly leafMemo = new Map<number, string>();
  private nest = 0;
  constructor(
    private readonly s: Side,
    private readonly fnTok: FnTok,
    private readonly wTok: (rva: number) => string,
    /** Evidence mode: every token also says where it points, and read-only data shows its bytes. */
    private readonly debug = false,
    /**
     * Read an unrelocated aligned dword of read-only data as an RVA when it lands on a plausible
     * target (MSVC throw/EH data, RTTI). A guess: integer tables hold such dwords too. Off, they
     * stay bytes (the second reading of `IndPair.equalEitherReading`).
     */
    private readonly guessRvas = true,
  ) {}

  owner(rva: number): { fn: number; off: number } | undefined {
    const k = lowerBound(this.s.rangeStarts, rva + 1) - 1;
    const r = this.s.rangeOwner[k];
    if (r === undefined || rva >= r.end) return undefined;
    const f = this.s.fns[r.fn]!;
    let off = 0;
    for (const x of f.ranges) {
      if (rva >= x.start && rva < x.end) return { fn: r.fn, off: off + rva - x.start };
      off += x.end - x.start;
    }
    return undefined;
  }

  target(t: number, self: number, depth: number, kind: Ref['kind'] = 'code'): string {
    const tok = this.resolve(t, self, depth, kind);
    return this.debug ? `${tok}@${t.toString(16)}` : tok;
  }

  private resolve(t: number, self: number, depth: number, kind: Ref['kind']): string {
    const img = this.s.img;
    const imp = img.iat.get(t);
    if (imp !== undefined) return `I:${imp.dll.replace(/[-_.]?\d+(\.\d+)*(?=\.dll$)/, '')}!${imp.symbol}`;
    this.delayDlls ??= delayImportDlls(img);
    const delayDll = this.delayDlls.get(t);
    if (delayDll !== undefined) return `DI:${delayDll}`;
    const sec = sectionAt(img, t);
    if (sec === undefined) return t < 0x1000 ? `H:${t}` : `X`;
    if (sec.executable) {
      const o = this.owner(t);
      if (o === undefined) return kind === 'mem' ? `T:${this.codeTable(t, depth)}` : `L:${this.leaf(t)}`;
      if (o.fn === self) return `S:${o.off}`;
      return o.off === 0 ? `F:${this.fnTok(o.fn)}` : `C:${this.fnTok(o.fn)}+${o.off}`;
    }
    if (sec.writable) return `W:${this.wTok(t)}`;
    return `D:${depth <= 0 ? 'deep' : this.data(t, depth - 1)}`;
  }

  /** Code with no .pdata entry (a leaf, an FH4 funclet): decoded to its first ret/jmp, each reference as a token. */
  leaf(t: number): string {
    const memo = this.leafMemo.get(t);
    if (memo !== undefined) return memo;
    this.leafMemo.set(t, 'cycle');
    this.nest++;
    const out = decodeLinear(this.s.img, t, Infinity, 64).map((x) => this.insnForm(x, -1, 1));
    this.nest--;
    // Evidence shows two levels of leaves in full, deeper ones by hash (the text would explode).
    const key = this.debug && this.nest < 2 ? out.join(' ') : sha(out.join(' '));
    this.leafMemo.set(t, key);
    return key;
  }

  /** A table read from code outside every function (a leaf's jump table): its dwords that land in code, as tokens. */
  private codeTable(t: number, depth: number): string {
    const img = this.s.img;
    const out: string[] = [];
    for (let i = t; out.length < 64; i += 4) {
      const v = readU32(img, i);
      if (sectionAt(img, v)?.executable !== true) break;
      // Without guesses the entries stay bytes (the table still ends where they stop landing in code).
      if (!this.guessRvas) {
        out.push(v.toString(16));
        continue;
      }
      out.push(depth > 0 ? this.target(v, -1, depth - 1) : 'deep');
    }
    return this.debug ? out.join(' ') : sha(out.join(' '));
  }

  private insnForm(x: Insn, self: number, depth: number): string {
    const b = Array.from(x.bytes);
    const toks: string[] = [];
    for (const r of x.refs) {
      for (let k = 0; k < r.size; k++) b[r.off + k] = 0;
      toks.push(this.target(r.target, self, depth, r.kind));
    }
    return b.map((v) => v.toString(16).padStart(2, '0')).join('') + (toks.length ? `[${toks.join(',')}]` : '');
  }

  /** Read-only data at `t`: bytes to the next referenced address, pointers and RVAs as tokens. */
  data(t: number, depth: number): string {
    const memo = depth >= 2 ? this.dataMemo.get(t) : undefined;
    if (memo !== undefined) return memo;
    const img = this.s.img;
    const sec = sectionAt(img, t)!;
    const nextRef = this.s.dataAddrs[lowerBound(this.s.dataAddrs, t + 1)] ?? Infinity;
    const nextEh = this.s.ehStarts[lowerBound(this.s.ehStarts, t + 1)] ?? Infinity;
    const end = Math.min(nextRef, nextEh, sec.rva + sec.size, t + 512);
    const parts: string[] = [];
    // A self-relative table starts with two entries that both land in a section (a lone negative
    // dword is as often the low half of a double).
    const lands = (k: number): boolean => k + 4 <= end && (readU32(img, k) & 0x80000000) !== 0 && sectionAt(img, t + (readU32(img, k) | 0)) !== undefined;
    const selfRelative = (t & 3) === 0 && lands(t) && lands(t + 4);
    // An MSVC jump table in read-only data (vcruntime's memset/memcpy, read through a hoisted
    // __ImageBase): it starts with two dwords that land inside one function, past its entry. Its
    // dwords that land in that function are case labels (function + offset), not constants.
    const caseOwner = (k: number): number | undefined => (k + 4 <= end ? this.owner(readU32(img, k))?.fn : undefined);
    const caseTable = this.guessRvas && (t & 3) === 0 && caseOwner(t) !== undefined && caseOwner(t) === caseOwner(t + 4) ? caseOwner(t) : undefined;
    let i = t;
    while (i < end) {
      const rt = img.relocs.get(i);
      if (rt !== undefined) {
        parts.push(`<${this.target(absTarget(img, i, rt), -1, depth)}>`);
        i += rt === 10 ? 8 : 4;
        continue;
      }
      if (selfRelative && (i & 3) === 0 && i + 4 <= end && (readU32(img, i) & 0x80000000) !== 0) {
        // An LLVM self-relative table (switch cases, enum -> name): int32 offsets from the table's start.
        const rel = t + (readU32(img, i) | 0);
        if (rel >= 0x1000 && sectionAt(img, rel) !== undefined) {
          parts.push(`(${this.target(rel, -1, depth, sectionAt(img, rel)!.executable ? 'code' : 'mem')})`);
          i += 4;
          continue;
        }
      }
      if (this.guessRvas && (i & 3) === 0 && i + 4 <= end) {
        // An image-relative field (MSVC throw/EH data, RTTI).
        const v = readU32(img, i);
        // Any dword that lands in a section counts (a constant that happens to look like one is
        // then compared by what sits there: this errs towards "changed").
        // Text is not an RVA: a dword whose first byte and the byte before it are printable is
        // the tail of a string ("le\0\0" = 0x656c lands in .text).
        const printable = (c: number): boolean => c >= 0x20 && c < 0x7f;
        const text = printable(img.image[i]!) && printable(img.image[i - 1]!);
        // Code is named only at a function entry or a leaf outside every function: a dword in the
        // middle of a function is a constant (10000 = 0x2710) as often as an RVA.
        const sv = sectionAt(img, v);
        // A leaf must sit where MSVC puts functions (16-aligned), data on an 8-byte boundary
        // unless code or a pointer names it: small-integer tables are full of dwords that land
        // somewhere in the image.
        const ok =
          sv !== undefined &&
          (sv.executable
            ? this.s.byEntry.has(v) ||
              (caseTable !== undefined && this.owner(v)?.fn === caseTable) || (this.owner(v) === undefined && ((v & 15) === 0 || [0xcc, 0xc3, 0x90].includes(img.image[v - 1]!)))
            : (v & 7) === 0 || this.s.dataAddrs[lowerBound(this.s.dataAddrs, v)] === v);
        if (!text && ok && v >= 0x1000 && v < img.image.length) {
          parts.push(`{${this.target(v, -1, depth)}}`);
          i += 4;
          continue;
        }
      }
      parts.push(img.image[i]!.toString(16));
      i++;
    }
    // Zero padding up to the next item is alignment, not content (a C string is its text and NUL).
    while (parts.length > 1 && parts[parts.length - 1] === '0' && parts[parts.length - 2] === '0') parts.pop();
    const key = this.debug ? parts.join(' ') : sha(parts.join(' '));
    if (depth >= 2) this.dataMemo.set(t, key);
    return key;
  }

  form(fi: number): string {
    const f = this.s.fns[fi]!;
    const out: string[] = [f.ranges.map((r) => `${r.unwind}|${r.handler < 0 ? '-' : this.target(r.handler, fi, 2)}`).join(';')];
    for (const x of this.s.insns[fi]!) out.push(this.insnForm(x, fi, 2));
    return out.join('\n');
  }
}

/** Forms equal line by line under one reading or the other (IndPair.equalEitherReading). */
function equalLineByLine(oGuess: string, nGuess: string, oBytes: string, nBytes: string): boolean {
  const [a, b, c, d] = [oGuess, nGuess, oBytes, nBytes].map((x) => x.split('\n'));
  if (a!.length !== b!.length || c!.length !== a!.length || d!.length !== a!.length) return false;
  return a!.every((x, k) => x === b![k] || c![k] === d![k]);
}

/** Longest common subsequence of two id lists: pairs of indices. */
function lcs(a: readonly string[], b: readonly string[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return [];
  if (n * m > 4_000_000) return [];
  const dp = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i * (m + 1) + j] = a[i] === b[j] ? dp[(i + 1) * (m + 1) + j + 1]! + 1 : Math.max(dp[(i + 1) * (m + 1) + j]!, dp[i * (m + 1) + j + 1]!);
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push([i, j]);
      i++;
      j++;
    } else if (dp[(i + 1) * (m + 1) + j]! >= dp[i * (m + 1) + j + 1]!) i++;
    else j++;
  }
  return out;
}

/** Pairs (old index ascending) keeping the longest run increasing in new index. */
function increasing(pairs: [number, number][]): [number, number][] {
  pairs.sort((x, y) => x[0] - y[0]);
  const tails: number[] = [];
  const prev: number[] = [];
  for (let k = 0; k < pairs.length; k++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pairs[tails[mid]!]![1] < pairs[k]![1]) lo = mid + 1;
      else hi = mid;
    }
    prev[k] = lo > 0 ? tails[lo - 1]! : -1;
    tails[lo] = k;
  }
  const out: [number, number][] = [];
  for (let k = tails.length ? tails[tails.length - 1]! : -1; k >= 0; k = prev[k]!) out.push(pairs[k]!);
  return out.reverse();
}

/**
 * The independent diff. With `given` (old entry -> new entry, e.g. the compiler's pairs), that
 * pairing replaces the matcher: the result then says which given pairs differ in form.
 */
export function independentDiff(oldBytes: Uint8Array, newBytes: Uint8Array, given?: ReadonlyMap<number, number>): IndDiff {
  const o = loadSide(oldBytes);
  const n = loadSide(newBytes);
  const blind = (): string => 'f';
  const oShape = new Tokens(o, blind, () => 'w');
  const nShape = new Tokens(n, blind, () => 'w');
  const os = o.fns.map((_, i) => sha(oShape.form(i)));
  const ns = n.fns.map((_, i) => sha(nShape.form(i)));
  const count = (xs: string[]): Map<string, number> => {
    const c = new Map<string, number>();
    for (const x of xs) c.set(x, (c.get(x) ?? 0) + 1);
    return c;
  };
  const oc = count(os);
  const nc = count(ns);
  const nAt = new Map<string, number>();
  ns.forEach((s, j) => nAt.set(s, j));
  const cand: [number, number][] = [];
  os.forEach((s, i) => {
    if (oc.get(s) === 1 && nc.get(s) === 1) cand.push([i, nAt.get(s)!]);
  });
  const anchors = increasing(cand);
  const inOrder = new Set(anchors.map(([i]) => i));
  const o2n = new Int32Array(o.fns.length).fill(-1);
  const n2o = new Int32Array(n.fns.length).fill(-1);
  const how = new Map<number, IndPair['how']>();
  const pair = (i: number, j: number, h: IndPair['how']): void => {
    o2n[i] = j;
    n2o[j] = i;
    how.set(i, h);
  };
  if (given !== undefined) {
    for (const [oe, ne] of given) {
      const i = o.byEntry.get(oe);
      const j = n.byEntry.get(ne);
      if (i !== undefined && j !== undefined) pair(i, j, 'given');
    }
    anchors.length = 0;
    cand.length = 0;
  }
  for (const [i, j] of anchors) pair(i, j, 'anchor');
  // A unique shape out of order is a moved function: paired, but no anchor for the runs.
  for (const [i, j] of cand) if (!inOrder.has(i)) pair(i, j, 'moved');
  const free = (i: number, j: number): boolean => o2n[i]! < 0 && n2o[j]! < 0;
  // Between anchors: LCS over shapes, then equal-size gaps in order.
  const bounds = [[-1, -1] as [number, number], ...anchors, [o.fns.length, n.fns.length] as [number, number]];
  for (let k = 0; given === undefined && k + 1 < bounds.length; k++) {
    const [a0, b0] = bounds[k]!;
    const [a1, b1] = bounds[k + 1]!;
    const ra = os.slice(a0 + 1, a1);
    const rb = ns.slice(b0 + 1, b1);
    const l = lcs(ra, rb);
    for (const [x, y] of l) if (free(a0 + 1 + x, b0 + 1 + y)) pair(a0 + 1 + x, b0 + 1 + y, 'order');
    const sub = [[-1, -1] as [number, number], ...l, [ra.length, rb.length] as [number, number]];
    for (let q = 0; q + 1 < sub.length; q++) {
      const [x0, y0] = sub[q]!;
      const [x1, y1] = sub[q + 1]!;
      if (x1 - x0 === y1 - y0) for (let d = 1; x0 + d < x1; d++) if (free(a0 + 1 + x0 + d, b0 + 1 + y0 + d)) pair(a0 + 1 + x0 + d, b0 + 1 + y0 + d, 'gap');
    }
  }
  // Moved: unique shapes among what is left.
  const lo = os.map((s, i) => (o2n[i]! < 0 ? s : ''));
  const ln = ns.map((s, j) => (n2o[j]! < 0 ? s : ''));
  const loc = count(lo.filter((x) => x));
  const lnc = count(ln.filter((x) => x));
  const lnAt = new Map<string, number>();
  ln.forEach((s, j) => s && lnAt.set(s, j));
  lo.forEach((s, i) => {
    if (given === undefined && s && loc.get(s) === 1 && lnc.get(s) === 1) pair(i, lnAt.get(s)!, 'moved');
  });
  // Writable data paired through paired functions' accesses (in order, same count).
  const wVotes = new Map<number, Map<number, number>>();
  const wRefs = (s: Side, fi: number): number[] => s.insns[fi]!.flatMap((x) => x.refs.filter((r) => r.kind === 'mem' && sectionAt(s.img, r.target)?.writable === true).map((r) => r.target));
  for (let i = 0; i < o.fns.length; i++) {
    const j = o2n[i]!;
    if (j < 0) continue;
    const a = wRefs(o, i);
    const b = wRefs(n, j);
    if (a.length !== b.length) continue;
    a.forEach((x, k) => {
      const v = wVotes.get(x) ?? new Map<number, number>();
      v.set(b[k]!, (v.get(b[k]!) ?? 0) + 1);
      wVotes.set(x, v);
    });
  }
  const wNewToOld = new Map<number, number>();
  for (const [x, v] of wVotes) {
    const best = [...v.entries()].sort((p, q) => q[1] - p[1])[0]!;
    if (!wNewToOld.has(best[0])) wNewToOld.set(best[0], x);
  }
  // A global no paired function pair accesses in step keeps its place in its section.
  const wOldPaired = new Set(wNewToOld.values());
  const place = (s: Side, r: number): string => {
    const sec = sectionAt(s.img, r)!;
    return `${sec.name}+${r - sec.rva}`;
  };
  const oW = (r: number): string => (wOldPaired.has(r) ? `p${r}` : place(o, r));
  const nW = (r: number): string => (wNewToOld.has(r) ? `p${wNewToOld.get(r)}` : place(n, r));
  const oExact = new Tokens(o, (i) => (o2n[i]! >= 0 ? `p${i}` : `o${i}`), oW);
  const nExact = new Tokens(n, (j) => (n2o[j]! >= 0 ? `p${n2o[j]}` : `n${j}`), nW);
  const oBytes = new Tokens(o, (i) => (o2n[i]! >= 0 ? `p${i}` : `o${i}`), oW, false, false);
  const nBytes = new Tokens(n, (j) => (n2o[j]! >= 0 ? `p${n2o[j]}` : `n${j}`), nW, false, false);
  const pairs: IndPair[] = [];
  for (let i = 0; i < o.fns.length; i++) {
    const j = o2n[i]!;
    if (j < 0) continue;
    const oe = oExact.form(i);
    const ne = nExact.form(j);
    const same = oe === ne;
    pairs.push({ old: o.fns[i]!.entry, new: n.fns[j]!.entry, status: same ? 'unchanged' : 'changed', how: how.get(i)!, equalEitherReading: same || equalLineByLine(oe, ne, oBytes.form(i), nBytes.form(j)) });
  }
  return {
    oldFns: o.fns,
    newFns: n.fns,
    pairs,
    added: n.fns.filter((_, j) => n2o[j]! < 0).map((f) => f.entry),
    removed: o.fns.filter((_, i) => o2n[i]! < 0).map((f) => f.entry),
    forms: (e, asBytes = false) => {
      const i = o.byEntry.get(e);
      const j = i === undefined ? -1 : o2n[i]!;
      if (i === undefined || j < 0) return undefined;
      const od = new Tokens(o, (x) => (o2n[x]! >= 0 ? `p${x}` : `o${x}`), oW, true, !asBytes);
      const nd = new Tokens(n, (y) => (n2o[y]! >= 0 ? `p${n2o[y]}` : `n${y}`), nW, true, !asBytes);
      return { old: od.form(i).split('\n'), new: nd.form(j).split('\n') };
    },
  };
}
