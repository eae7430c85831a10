/**
 * A zstd frame decoder (RFC 8878) in plain TypeScript: the loader's decompressor, so loading
 * a package needs no WebAssembly glue, no Node module and no fixed heap, and runs in any JS
 * runtime. It decodes exactly one frame (with an optional raw-content dictionary) into an output buffer allocated
 * once, of the size the caller allows; a frame that would write past it is refused at the
 * first byte over, so a bomb is never expanded. Work is linear in input plus output (every
 * sequence writes at least 3 bytes into that bounded buffer; tables are at most 2^11).
 *
 * Every defect of the data is an error value (PKG_ZSTD) carrying the frame offset of the
 * part that failed; nothing here throws on any input.
 *
 * Vocabulary follows the RFC: frame, block, literals section, Huffman tree description,
 * sequences section, FSE table, Literals_Length / Match_Length / Offset codes, repeat
 * offsets.
 */
import { err, ok, type Result } from '../common/errors.ts';

const MAGIC = 0xfd2fb528;
/** Block_Maximum_Size: no block regenerates or carries more (RFC 8878, 3.1.1.2.4). */
const BLOCK_MAX = 128 * 1024;

/** Thrown only inside this module and turned into an error value by decodeZstdFrame. */
class Corrupt {
  constructor(
    readonly message: string,
    readonly offset: number,
  ) {}
}

function fail(message: string, offset: number): never {
  throw new Corrupt(message, offset);
}

/**
 * Reads a backward bitstream (Huffman streams, FSE weights, sequences): the last byte's
 * highest set bit marks where the data starts, and fields are read from there toward the
 * first byte. Reading past the first byte yields zeros and leaves `left` negative, which
 * callers check (a well-formed stream ends at exactly 0).
 */
class BackBits {
  /** Bits not yet consumed; negative once reads went past the start. */
  left: number;

  constructor(
    private readonly src: Uint8Array,
    private readonly start: number,
    end: number,
  ) {
    if (end <= start) fail('empty bitstream', start);
    const last = src[end - 1]!;
    if (last === 0) fail('bitstream has no end marker', end - 1);
    this.left = (end - 1 - start) * 8 + (31 - Math.clz32(last));
  }

  /** The next `n` (0..31) bits, not consumed. */
  peek(n: number): number {
    if (n === 0) return 0;
    const pos = this.left - n; // bit index (from the stream's first bit) of the field's low bit
    if (pos >= 0) return this.bitsAt(pos, n);
    if (this.left <= 0) return 0;
    return this.bitsAt(0, this.left) * 2 ** -pos;
  }

  /** Consumes `n` bits and returns them. */
  read(n: number): number {
    const v = this.peek(n);
    this.left -= n;
    return v;
  }

  private bitsAt(pos: number, n: number): number {
    const first = this.start + (pos >>> 3);
    const shift = pos & 7;
    if (shift + n <= 32) {
      // Fast path (every field but long offsets): one 32-bit little-endian load. Bytes past
      // the end of `src` read as undefined, which `|` turns into 0, and are masked off anyway.
      const s = this.src;
      const w = (s[first]! | (s[first + 1]! << 8) | (s[first + 2]! << 16) | (s[first + 3]! << 24)) >>> shift;
      return n === 32 ? w >>> 0 : w & ((1 << n) - 1);
    }
    const bytes = (shift + n + 7) >>> 3;
    let v = 0;
    for (let i = bytes - 1; i >= 0; i--) v = v * 256 + this.src[first + i]!;
    return Math.floor(v / 2 ** shift) % 2 ** n;
  }
}

/** One state of an FSE decoding table. */
interface FseTable {
  readonly log: number;
  readonly symbol: Uint8Array;
  readonly bits: Uint8Array;
  readonly base: Uint16Array;
}

/** Builds the decoding table of a normalised distribution (RFC 8878, 4.1.1). */
function buildFse(norm: readonly number[], log: number, at: number): FseTable {
  const size = 1 << log;
  const symbol = new Uint8Array(size);
  const bits = new Uint8Array(size);
  const base = new Uint16Array(size);
  const next = new Array<number>(norm.length);
  let high = size - 1;
  for (let s = 0; s < norm.length; s++) {
    if (norm[s] === -1) {
      symbol[high--] = s;
      next[s] = 1;
    } else next[s] = norm[s]!;
  }
  const step = (size >>> 1) + (size >>> 3) + 3;
  const mask = size - 1;
  let pos = 0;
  for (let s = 0; s < norm.length; s++) {
    for (let i = 0; i < norm[s]!; i++) {
      symbol[pos] = s;
      do pos = (pos + step) & mask;
      while (pos > high);
    }
  }
  if (pos !== 0) fail('FSE distribution does not fill its table', at);
  for (let i = 0; i < size; i++) {
    const s = symbol[i]!;
    const n = next[s]!;
    next[s] = n + 1;
    const nb = log - (31 - Math.clz32(n));
    bits[i] = nb;
    base[i] = (n << nb) - size;
  }
  return { log, symbol, bits, base };
}

/**
 * Reads an FSE table description at `at` (forward, little-endian bits) and returns the table
 * and the bytes it took. `maxLog`/`maxSymbol` are the limits of the table's use.
 */
function readFse(src: Uint8Array, at: number, end: number, maxLog: number, maxSymbol: number): { table: FseTable; size: number } {
  let bitPos = 0;
  const bitsAt = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const b = at + ((bitPos + i) >>> 3);
      if (b >= end) fail('FSE table description is truncated', end);
      v += ((src[b]! >>> ((bitPos + i) & 7)) & 1) * 2 ** i;
    }
    return v;
  };
  const log = bitsAt(4) + 5;
  bitPos = 4;
  if (log > maxLog) fail(`FSE accuracy log ${log} is over ${maxLog}`, at);
  let remaining = (1 << log) + 1;
  let threshold = 1 << log;
  let nb = log + 1;
  const norm: number[] = [];
  while (remaining > 1) {
    if (norm.length > maxSymbol) fail('FSE table description has too many symbols', at + (bitPos >>> 3));
    const max = 2 * threshold - 1 - remaining;
    let v = bitsAt(nb - 1);
    if (v < max) bitPos += nb - 1;
    else {
      v = bitsAt(nb);
      if (v >= threshold) v -= max;
      bitPos += nb;
    }
    const prob = v - 1;
    remaining -= prob < 0 ? -prob : prob;
    norm.push(prob);
    if (prob === 0) {
      for (;;) {
        const rep = bitsAt(2);
        bitPos += 2;
        for (let i = 0; i < rep; i++) norm.push(0);
        if (rep !== 3) break;
      }
      if (norm.length > maxSymbol + 1) fail('FSE table description has too many symbols', at + (bitPos >>> 3));
    }
    while (remaining < threshold) {
      nb--;
      threshold >>= 1;
    }
  }
  if (remaining !== 1 || norm.length > maxSymbol + 1) fail('FSE table description does not sum to its table size', at);
  return { table: buildFse(norm, log, at), size: (bitPos + 7) >>> 3 };
}

/** A one-symbol table (RLE mode). */
function rleTable(s: number): FseTable {
  return { log: 0, symbol: Uint8Array.of(s), bits: Uint8Array.of(0), base: Uint16Array.of(0) };
}

// Predefined distributions (RFC 8878, 3.1.1.3.2.2).
const LL_DEFAULT = [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1];
const ML_DEFAULT = [1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1];
const OF_DEFAULT = [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1];
let defaults: { ll: FseTable; ml: FseTable; of: FseTable } | undefined;
function defaultTables(): { ll: FseTable; ml: FseTable; of: FseTable } {
  defaults ??= { ll: buildFse(LL_DEFAULT, 6, 0), ml: buildFse(ML_DEFAULT, 6, 0), of: buildFse(OF_DEFAULT, 5, 0) };
  return defaults;
}

// Literals_Length and Match_Length codes: baseline and extra bits (RFC 8878, 3.1.1.3.2.1.1).
const LL_BASE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
const LL_BITS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const ML_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
  4099, 8195, 16387, 32771, 65539,
];
const ML_BITS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/** 2^n for Offset codes 0..31 (a table: `2 **` is a call in the hot loop). */
const POW2 = Array.from({ length: 32 }, (_, n) => 2 ** n);

/** A Huffman decoding table: indexed by the next `maxBits` bits. */
interface HuffTable {
  readonly maxBits: number;
  readonly symbol: Uint8Array;
  readonly bits: Uint8Array;
}

/** Reads a Huffman tree description at `at`; returns the table and the bytes it took. */
function readHuffman(src: Uint8Array, at: number, end: number): { table: HuffTable; size: number } {
  if (at >= end) fail('Huffman tree description is missing', at);
  const head = src[at]!;
  const weights: number[] = [];
  let size: number;
  if (head >= 128) {
    const n = head - 127;
    size = 1 + ((n + 1) >>> 1);
    if (at + size > end) fail('Huffman weights are truncated', end);
    for (let i = 0; i < n; i++) {
      const b = src[at + 1 + (i >>> 1)]!;
      weights.push(i % 2 === 0 ? b >>> 4 : b & 15);
    }
  } else {
    size = 1 + head;
    if (head === 0 || at + size > end) fail('Huffman weights are truncated', end);
    const { table, size: tsize } = readFse(src, at + 1, at + size, 6, 255);
    const bs = new BackBits(src, at + 1 + tsize, at + size);
    let s1 = bs.read(table.log);
    let s2 = bs.read(table.log);
    // Two interleaved states; the stream ends when a state update reads past its start.
    for (;;) {
      if (weights.length > 254) fail('Huffman description has too many weights', at);
      weights.push(table.symbol[s1]!);
      s1 = table.base[s1]! + bs.read(table.bits[s1]!);
      if (bs.left < 0) {
        weights.push(table.symbol[s2]!);
        break;
      }
      weights.push(table.symbol[s2]!);
      s2 = table.base[s2]! + bs.read(table.bits[s2]!);
      if (bs.left < 0) {
        weights.push(table.symbol[s1]!);
        break;
      }
    }
  }
  if (weights.length > 255) fail('Huffman description has too many weights', at);
  let sum = 0;
  for (const w of weights) {
    if (w > 11) fail(`Huffman weight ${w} is over 11`, at);
    if (w > 0) sum += 1 << (w - 1);
  }
  if (sum === 0) fail('Huffman weights are all zero', at);
  const maxBits = 32 - Math.clz32(sum); // highest bit of sum, plus one
  if (maxBits > 11) fail(`Huffman table log ${maxBits} is over 11`, at);
  const rest = (1 << maxBits) - sum;
  if ((rest & (rest - 1)) !== 0) fail('Huffman weights do not complete a tree', at);
  weights.push(32 - Math.clz32(rest)); // the implied last weight: log2(rest) + 1
  const symbol = new Uint8Array(1 << maxBits);
  const bits = new Uint8Array(1 << maxBits);
  // Codes of longer length (lower weight) come first; within a weight, symbols in order.
  const start = new Array<number>(maxBits + 2).fill(0);
  const count = new Array<number>(maxBits + 2).fill(0);
  for (const w of weights) count[w]!++;
  let p = 0;
  for (let w = 1; w <= maxBits; w++) {
    start[w] = p;
    p += count[w]! << (w - 1);
  }
  for (let s = 0; s < weights.length; s++) {
    const w = weights[s]!;
    if (w === 0) continue;
    const len = 1 << (w - 1);
    const from = start[w]!;
    symbol.fill(s, from, from + len);
    bits.fill(maxBits + 1 - w, from, from + len);
    start[w] = from + len;
  }
  return { table: { maxBits, symbol, bits }, size };
}

/** Decodes one Huffman-coded literals stream [at, end) into out[from, to). */
function decodeHuffStream(src: Uint8Array, at: number, end: number, t: HuffTable, out: Uint8Array, from: number, to: number): void {
  const bs = new BackBits(src, at, end);
  for (let i = from; i < to; i++) {
    const k = bs.peek(t.maxBits);
    out[i] = t.symbol[k]!;
    bs.left -= t.bits[k]!;
  }
  if (bs.left !== 0) fail('Huffman literals stream does not end where its data does', at);
}

/** State kept across the blocks of a frame. */
interface FrameState {
  huffman: HuffTable | undefined;
  ll: FseTable | undefined;
  of: FseTable | undefined;
  ml: FseTable | undefined;
  readonly rep: number[];
  readonly out: Uint8Array;
  pos: number;
}

/** Reads the literals section at `at`; returns the literals and the bytes the section took. */
function readLiterals(src: Uint8Array, at: number, end: number, st: FrameState): { lits: Uint8Array; size: number } {
  const b0 = src[at]!;
  const type = b0 & 3;
  const sf = (b0 >>> 2) & 3;
  if (type === 0 || type === 1) {
    let regen: number;
    let hl: number;
    if (sf === 0 || sf === 2) {
      regen = b0 >>> 3;
      hl = 1;
    } else if (sf === 1) {
      if (at + 2 > end) fail('literals header is truncated', at);
      regen = (b0 >>> 4) + (src[at + 1]! << 4);
      hl = 2;
    } else {
      if (at + 3 > end) fail('literals header is truncated', at);
      regen = (b0 >>> 4) + (src[at + 1]! << 4) + (src[at + 2]! << 12);
      hl = 3;
    }
    if (regen > BLOCK_MAX) fail(`literals section regenerates ${regen} bytes, over the block maximum`, at);
    if (type === 0) {
      if (at + hl + regen > end) fail('raw literals are truncated', end);
      return { lits: src.subarray(at + hl, at + hl + regen), size: hl + regen };
    }
    if (at + hl + 1 > end) fail('RLE literals are truncated', end);
    return { lits: new Uint8Array(regen).fill(src[at + hl]!), size: hl + 1 };
  }
  const hl = sf < 2 ? 3 : sf === 2 ? 4 : 5;
  if (at + hl > end) fail('literals header is truncated', at);
  let h = 0;
  for (let i = hl - 1; i >= 0; i--) h = h * 256 + src[at + i]!;
  const fieldBits = sf < 2 ? 10 : sf === 2 ? 14 : 18;
  const regen = Math.floor(h / 16) % 2 ** fieldBits;
  const comp = Math.floor(h / 2 ** (4 + fieldBits)) % 2 ** fieldBits;
  const streams = sf === 0 ? 1 : 4;
  if (regen > BLOCK_MAX) fail(`literals section regenerates ${regen} bytes, over the block maximum`, at);
  let p = at + hl;
  const cend = p + comp;
  if (cend > end) fail('compressed literals are truncated', end);
  if (type === 2) {
    const h = readHuffman(src, p, cend);
    st.huffman = h.table;
    p += h.size;
  } else if (st.huffman === undefined) fail('treeless literals with no previous Huffman table', at);
  const t = st.huffman!;
  const lits = new Uint8Array(regen);
  if (streams === 1) decodeHuffStream(src, p, cend, t, lits, 0, regen);
  else {
    if (p + 6 > cend) fail('literals jump table is truncated', p);
    const s1 = src[p]! | (src[p + 1]! << 8);
    const s2 = src[p + 2]! | (src[p + 3]! << 8);
    const s3 = src[p + 4]! | (src[p + 5]! << 8);
    p += 6;
    const s4 = cend - p - s1 - s2 - s3;
    if (s4 <= 0) fail('literals jump table points past its section', p - 6);
    const seg = Math.floor((regen + 3) / 4);
    if (3 * seg > regen) fail('four literals streams for too few literals', at);
    let o = 0;
    for (const [i, s] of [s1, s2, s3, s4].entries()) {
      const to = i === 3 ? regen : o + seg;
      decodeHuffStream(src, p, p + s, t, lits, o, to);
      p += s;
      o = to;
    }
  }
  return { lits, size: hl + comp };
}

/** Reads one table of the sequences section per its mode; returns the bytes it took. */
function readSeqTable(mode: number, src: Uint8Array, at: number, end: number, kind: 'll' | 'of' | 'ml', st: FrameState): number {
  const maxLog = kind === 'of' ? 8 : 9;
  const maxSym = kind === 'll' ? 35 : kind === 'ml' ? 52 : 31;
  if (mode === 0) {
    st[kind] = defaultTables()[kind];
    return 0;
  }
  if (mode === 1) {
    if (at >= end) fail('RLE sequence table is truncated', at);
    const s = src[at]!;
    if (s > maxSym) fail(`RLE ${kind} code ${s} is over ${maxSym}`, at);
    st[kind] = rleTable(s);
    return 1;
  }
  if (mode === 2) {
    const r = readFse(src, at, end, maxLog, maxSym);
    st[kind] = r.table;
    return r.size;
  }
  if (st[kind] === undefined) fail(`repeat ${kind} table with no previous one`, at);
  return 0;
}

/** Decodes a compressed block [at, end) and appends what it regenerates to st.out. */
function decodeCompressedBlock(src: Uint8Array, at: number, end: number, st: FrameState): void {
  const { lits, size } = readLiterals(src, at, end, st);
  let p = at + size;
  if (p >= end) fail('sequences section is missing', p);
  const b0 = src[p]!;
  let nbSeq: number;
  if (b0 < 128) {
    nbSeq = b0;
    p += 1;
  } else if (b0 < 255) {
    if (p + 2 > end) fail('sequences header is truncated', p);
    nbSeq = ((b0 - 128) << 8) + src[p + 1]!;
    p += 2;
  } else {
    if (p + 3 > end) fail('sequences header is truncated', p);
    nbSeq = src[p + 1]! + (src[p + 2]! << 8) + 0x7f00;
    p += 3;
  }
  const out = st.out;
  let lp = 0;
  if (nbSeq > 0) {
    if (p >= end) fail('sequences header is truncated', p);
    const modes = src[p]!;
    if ((modes & 3) !== 0) fail('sequences header has reserved bits set', p);
    p += 1;
    p += readSeqTable(modes >>> 6, src, p, end, 'll', st);
    p += readSeqTable((modes >>> 4) & 3, src, p, end, 'of', st);
    p += readSeqTable((modes >>> 2) & 3, src, p, end, 'ml', st);
    if (p > end) fail('sequence tables run past their block', end);
    const ll = st.ll!;
    const of = st.of!;
    const ml = st.ml!;
    const bs = new BackBits(src, p, end);
    let sLL = bs.read(ll.log);
    let sOF = bs.read(of.log);
    let sML = bs.read(ml.log);
    const rep = st.rep;
    for (let i = 0; i < nbSeq; i++) {
      const ofCode = of.symbol[sOF]!;
      const mlCode = ml.symbol[sML]!;
      const llCode = ll.symbol[sLL]!;
      if (ofCode > 31 || mlCode > 52 || llCode > 35) fail('sequence code out of range', p);
      const ofValue = POW2[ofCode]! + bs.read(ofCode);
      const matchLen = ML_BASE[mlCode]! + bs.read(ML_BITS[mlCode]!);
      const litLen = LL_BASE[llCode]! + bs.read(LL_BITS[llCode]!);
      let offset: number;
      if (ofValue > 3) {
        offset = ofValue - 3;
        rep[2] = rep[1]!;
        rep[1] = rep[0]!;
        rep[0] = offset;
      } else {
        const idx = ofValue - 1 + (litLen === 0 ? 1 : 0);
        if (idx === 0) offset = rep[0]!;
        else {
          offset = idx === 3 ? rep[0]! - 1 : rep[idx]!;
          if (offset === 0) fail('repeat offset of 0', p);
          if (idx !== 1) rep[2] = rep[1]!;
          rep[1] = rep[0]!;
          rep[0] = offset;
        }
      }
      if (i + 1 < nbSeq) {
        sLL = ll.base[sLL]! + bs.read(ll.bits[sLL]!);
        sML = ml.base[sML]! + bs.read(ml.bits[sML]!);
        sOF = of.base[sOF]! + bs.read(of.bits[sOF]!);
      }
      // Execute: literals, then the match (which may overlap what it copies).
      if (lp + litLen > lits.length) fail('sequence uses more literals than the block has', p);
      if (st.pos + litLen + matchLen > out.length) fail(`frame expands past its declared ${out.length} bytes`, p);
      // Short copies by hand: a subarray or copyWithin call costs more than a few bytes.
      let o = st.pos;
      if (litLen < 32) for (let k = 0; k < litLen; k++) out[o++] = lits[lp + k]!;
      else {
        out.set(lits.subarray(lp, lp + litLen), o);
        o += litLen;
      }
      lp += litLen;
      if (offset > o) fail(`match offset ${offset} reaches before the start of the frame and its dictionary`, p);
      const from = o - offset;
      if (offset >= matchLen && matchLen >= 32) out.copyWithin(o, from, from + matchLen);
      else for (let k = 0; k < matchLen; k++) out[o + k] = out[from + k]!;
      st.pos = o + matchLen;
    }
    if (bs.left !== 0) fail('sequences bitstream does not end where its data does', p);
  } else if (p !== end) fail('block has bytes after an empty sequences section', p);
  const rest = lits.length - lp;
  if (st.pos + rest > out.length) fail(`frame expands past its declared ${out.length} bytes`, end);
  out.set(lits.subarray(lp), st.pos);
  st.pos += rest;
}

// XXH64 on (hi, lo) pairs of uint32: five times faster than BigInt arithmetic here, and
// exact (every intermediate stays below 2^53 before `>>> 0` reduces it).
type U64 = readonly [number, number];
const P1: U64 = [0x9e3779b1, 0x85ebca87];
const P2: U64 = [0xc2b2ae3d, 0x27d4eb4f];
const P3: U64 = [0x165667b1, 0x9e3779f9];
const P4: U64 = [0x85ebca77, 0xc2b2ae63];
const P5: U64 = [0x27d4eb2f, 0x165667c5];
const ZERO: U64 = [0, 0];
function add(a: U64, b: U64): U64 {
  const lo = a[1] + b[1];
  return [(a[0] + b[0] + (lo > 0xffffffff ? 1 : 0)) >>> 0, lo >>> 0];
}
function mul(a: U64, b: U64): U64 {
  const al = a[1];
  const bl = b[1];
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(al, b[0]) + Math.imul(a[0], bl);
  return [hi >>> 0, ((mid << 16) | (p00 & 0xffff)) >>> 0];
}
const xor = (a: U64, b: U64): U64 => [(a[0] ^ b[0]) >>> 0, (a[1] ^ b[1]) >>> 0];
/** Rotate left by 0 < r < 32. */
const rotl = (a: U64, r: number): U64 => [((a[0] << r) | (a[1] >>> (32 - r))) >>> 0, ((a[1] << r) | (a[0] >>> (32 - r))) >>> 0];
const shr = (a: U64, r: number): U64 => (r >= 32 ? [0, a[0] >>> (r - 32)] : [a[0] >>> r, ((a[1] >>> r) | (a[0] << (32 - r))) >>> 0]);
const xxRound = (acc: U64, lane: U64): U64 => mul(rotl(add(acc, mul(lane, P2)), 31), P1);
const xxMerge = (acc: U64, v: U64): U64 => add(mul(xor(acc, xxRound(ZERO, v)), P1), P4);

/** Low 32 bits of XXH64 of `b` with seed 0: the frame's content checksum. */
function xxh64Low(b: Uint8Array): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lane = (i: number): U64 => [view.getUint32(i + 4, true), view.getUint32(i, true)];
  let i = 0;
  let h: U64;
  if (b.length >= 32) {
    let v1 = add(P1, P2);
    let v2 = P2;
    let v3 = ZERO;
    let v4 = add([~P1[0] >>> 0, ~P1[1] >>> 0], [0, 1]); // -P1
    for (; i + 32 <= b.length; i += 32) {
      v1 = xxRound(v1, lane(i));
      v2 = xxRound(v2, lane(i + 8));
      v3 = xxRound(v3, lane(i + 16));
      v4 = xxRound(v4, lane(i + 24));
    }
    h = add(add(rotl(v1, 1), rotl(v2, 7)), add(rotl(v3, 12), rotl(v4, 18)));
    h = xxMerge(xxMerge(xxMerge(xxMerge(h, v1), v2), v3), v4);
  } else h = P5;
  h = add(h, [Math.floor(b.length / 2 ** 32), b.length >>> 0]);
  for (; i + 8 <= b.length; i += 8) h = add(mul(rotl(xor(h, xxRound(ZERO, lane(i))), 27), P1), P4);
  if (i + 4 <= b.length) {
    h = add(mul(rotl(xor(h, mul([0, view.getUint32(i, true)], P1)), 23), P2), P3);
    i += 4;
  }
  for (; i < b.length; i++) h = mul(rotl(xor(h, mul([0, b[i]!], P5)), 11), P1);
  h = mul(xor(h, shr(h, 33)), P2);
  h = mul(xor(h, shr(h, 29)), P3);
  return xor(h, shr(h, 32))[1];
}

const EMPTY = new Uint8Array(0);

/**
 * Decodes the single zstd frame `frame` whose regenerated size must be exactly `size` bytes
 * (the caller has already checked it against its bound, and read it from the frame header or
 * the container). `dictionary` is raw content (RFC 8878, 5: "Raw content" dictionaries): the
 * history before the frame's first byte, which match offsets may reach into; the repeat
 * offsets start at 1, 4, 8 as without one, and the checksum covers the frame's output only.
 * PKG_ZSTD, with the offset of the part at fault, when the frame is malformed, names a
 * dictionary id (only id 0 or none: a raw-content dictionary has no id), reaches before the
 * dictionary's start, would produce more or fewer than `size` bytes, has a wrong checksum, or
 * is followed by other bytes.
 */
export function decodeZstdFrame(frame: Uint8Array, size: number, dictionary: Uint8Array = EMPTY): Result<Uint8Array> {
  try {
    return ok(decodeFrame(frame, size, dictionary));
  } catch (e) {
    if (e instanceof Corrupt) return err('PKG_ZSTD', `zstd data is corrupt: ${e.message}`, e.offset);
    throw e;
  }
}

function decodeFrame(src: Uint8Array, size: number, dictionary: Uint8Array): Uint8Array {
  if (src.length < 6 || ((src[0]! | (src[1]! << 8) | (src[2]! << 16) | (src[3]! << 24)) >>> 0) !== MAGIC) fail('not a zstd frame', 0);
  const fhd = src[4]!;
  if ((fhd & 0x08) !== 0) fail('frame header reserved bit set', 4);
  const single = (fhd & 0x20) !== 0;
  const dictLen = [0, 1, 2, 4][fhd & 3]!;
  const fcsFlag = fhd >>> 6;
  const fcsLen = fcsFlag === 0 ? (single ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
  let p = 5 + (single ? 0 : 1) + dictLen + fcsLen;
  if (p > src.length) fail('frame header is truncated', src.length);
  for (let i = 0; i < dictLen; i++) if (src[5 + (single ? 0 : 1) + i] !== 0) fail('frame needs a dictionary by id (only raw-content dictionaries, id 0, are read)', 5);
  // The dictionary is the start of the output buffer: matches reach into it like into earlier
  // output, and nothing can reach before it (the offset check against the write position).
  const dict = dictionary.length;
  const out = new Uint8Array(dict + size);
  out.set(dictionary, 0);
  const end = dict + size;
  const st: FrameState = { huffman: undefined, ll: undefined, of: undefined, ml: undefined, rep: [1, 4, 8], out, pos: dict };
  for (;;) {
    if (p + 3 > src.length) fail('block header is truncated', p);
    const bh = src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16);
    const last = (bh & 1) !== 0;
    const type = (bh >>> 1) & 3;
    const bsize = bh >>> 3;
    p += 3;
    if (bsize > BLOCK_MAX) fail(`block of ${bsize} bytes is over the block maximum`, p - 3);
    if (type === 0) {
      if (p + bsize > src.length) fail('raw block is truncated', src.length);
      if (st.pos + bsize > end) fail(`frame expands past its declared ${size} bytes`, p);
      st.out.set(src.subarray(p, p + bsize), st.pos);
      st.pos += bsize;
      p += bsize;
    } else if (type === 1) {
      if (p + 1 > src.length) fail('RLE block is truncated', src.length);
      if (st.pos + bsize > end) fail(`frame expands past its declared ${size} bytes`, p);
      st.out.fill(src[p]!, st.pos, st.pos + bsize);
      st.pos += bsize;
      p += 1;
    } else if (type === 2) {
      if (p + bsize > src.length) fail('compressed block is truncated', src.length);
      if (bsize === 0) fail('empty compressed block', p);
      decodeCompressedBlock(src, p, p + bsize, st);
      p += bsize;
    } else fail('reserved block type', p - 3);
    if (last) break;
  }
  if (st.pos !== end) fail(`frame regenerates ${st.pos - dict} bytes, not the declared ${size}`, p);
  const result = dict === 0 ? out : out.subarray(dict);
  if ((fhd & 0x04) !== 0) {
    if (p + 4 > src.length) fail('content checksum is truncated', p);
    const want = (src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24)) >>> 0;
    const got = xxh64Low(result);
    if (want !== got) fail('content checksum does not match', p);
    p += 4;
  }
  if (p !== src.length) fail(`${src.length - p} bytes follow the frame`, p);
  // A copy without the dictionary, so the caller does not keep the dictionary's memory alive.
  return dict === 0 ? out : result.slice();
}
