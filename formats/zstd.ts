/**
 * zstd for the package container. The two directions have different homes:
 *  - decompression (the loader's side, which runs in any JS runtime) is our own RFC 8878
 *    frame decoder in plain TypeScript (formats/zstd-decode.ts): no WebAssembly glue, no
 *    `fs`/`path`, no fixed heap. We parse the frame header first (readZstdFrameHeader) and
 *    decode only when the declared size is within the caller's bound, into a buffer of
 *    exactly that size that the decoder refuses to write past, so a bomb is never expanded;
 *  - compression (the compiler's side) goes through the `zstd-codec` package (zstd compiled
 *    to WebAssembly with Emscripten). Its glue `require`s `fs` and `path`, which would stop a
 *    bundler building the portable loader, so it is imported on first use through a specifier
 *    bundlers do not follow: where the package cannot be loaded (a browser bundle),
 *    compressZstd returns PKG_ZSTD instead. Its wasm module has a fixed 16 MiB heap (memory
 *    maximum 256 pages): level 19 already runs out of memory on a 1 MiB input, and running out
 *    calls Emscripten's abort(), which prints "OOM" and leaves the instance unusable. So we
 *    instantiate the binding ourselves (the same factory `ZstdCodec.run` uses) with silent
 *    print hooks, bound every input (ZSTD_MAX_CONTENT), pick the level by size
 *    (zstdLevelFor), and if a call still throws we drop the instance and retry once.
 */
import { err, ok, type Result } from '../common/errors.ts';
import type { ZstdBinding, ZstdModuleOptions } from 'zstd-codec/lib/zstd-codec-binding-wasm.js';
import { decodeZstdFrame } from './zstd-decode.ts';

/**
 * The compressor's module. Held in a variable so that bundlers leave the import alone (see
 * the module comment); Node and Deno resolve it from node_modules as usual.
 */
const ZSTD_CODEC_MODULE: string = 'zstd-codec/lib/zstd-codec-binding-wasm.js';

/**
 * The largest payload this wrapper will compress: zstd-codec's 16 MiB heap must hold the
 * input, the output and zstd's tables at once (measured: 4 MiB of incompressible data
 * round-trips at level 3; 6 MiB does not). The decoder has no such limit; the container keeps
 * it as its default bound, since no larger payload can be written.
 */
export const ZSTD_MAX_CONTENT = 4 * 1024 * 1024;

/**
 * The compression level for a payload of `size` bytes: the highest level that fits the
 * 16 MiB heap (measured on this build: 19 fails from 1 MiB, 9 from 3 MiB). Packages are
 * almost always far below 512 KiB, where 19 is used; FORMAT.md has the size measurements.
 */
export function zstdLevelFor(size: number): number {
  if (size <= 512 * 1024) return 19;
  if (size <= 2 * 1024 * 1024) return 9;
  return 3;
}

// Boxed: an Emscripten module object has a `then` method, so resolving a promise with it
// directly makes the promise adopt it as a thenable, which loops forever.
let instance: Promise<{ readonly binding: ZstdBinding }> | undefined;

function load(): Promise<{ readonly binding: ZstdBinding }> {
  instance ??= (async () => {
    const mod = (await import(/* @vite-ignore */ ZSTD_CODEC_MODULE)) as { default: (opts: ZstdModuleOptions) => unknown };
    return new Promise<{ readonly binding: ZstdBinding }>((resolve) => {
      const opts: ZstdModuleOptions = {
        // Emscripten prints abort reasons itself; the error value we return says it instead.
        print: () => {},
        printErr: () => {},
        onRuntimeInitialized: () => resolve({ binding: opts as unknown as ZstdBinding }),
      };
      mod.default(opts);
    });
  })();
  return instance;
}

function withVector<T>(b: ZstdBinding, f: (v: InstanceType<ZstdBinding['VectorU8']>) => T): T {
  const v = new b.VectorU8();
  try {
    return f(v);
  } finally {
    v.delete();
  }
}

type Codec = InstanceType<ZstdBinding['ZstdCodec']>;
type Vector = InstanceType<ZstdBinding['VectorU8']>;

/** One frame of `bytes` through `compress` (a one-shot codec call into a buffer of compressBound bytes); null when zstd reports an error. */
function oneShot(b: ZstdBinding, bytes: Uint8Array, compress: (codec: Codec, dst: Vector, src: Vector) => number): Uint8Array | null {
  const codec = new b.ZstdCodec();
  try {
    const bound = codec.compressBound(bytes.length);
    if (bound < 0) return null;
    return withVector(b, (src) =>
      withVector(b, (dst) => {
        b.cloneToVector(src, bytes);
        dst.resize(bound, 0);
        const n = compress(codec, dst, src);
        if (n < 0) return null;
        dst.resize(n, 0);
        return b.cloneAsTypedArray(dst);
      }),
    );
  } finally {
    codec.delete();
  }
}

/** Runs `f` on the binding; if it throws (an Emscripten abort), drops the instance. */
async function call<T>(f: (b: ZstdBinding) => T): Promise<Result<T>> {
  let why = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    let b: ZstdBinding;
    try {
      b = (await load()).binding; // never `await` the module itself (see above)
    } catch (e) {
      instance = undefined;
      return err('PKG_ZSTD', `zstd compression is not available in this runtime (${ZSTD_CODEC_MODULE} could not be loaded: ${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
    try {
      return ok(f(b));
    } catch (e) {
      // An Emscripten abort (OOM) throws a string; the instance is dead after it.
      instance = undefined;
      why = typeof e === 'string' ? e : e instanceof Error ? e.message : String(e);
    }
  }
  return err('PKG_ZSTD', `zstd failed: ${why.split('\n')[0]}`);
}

/**
 * Compresses `bytes` into one zstd frame that records its content size (the loader relies on
 * that). `level` is 1..22. IO-free and deterministic for a given zstd-codec version.
 */
export async function compressZstd(bytes: Uint8Array, level: number): Promise<Result<Uint8Array>> {
  if (bytes.length > ZSTD_MAX_CONTENT) return err('PKG_ZSTD', `payload of ${bytes.length} bytes exceeds the ${ZSTD_MAX_CONTENT}-byte limit`);
  if (!Number.isInteger(level) || level < 1 || level > 22) throw new RangeError(`zstd level ${level}`);
  const r = await call((b) => oneShot(b, bytes, (codec, dst, src) => codec.compress(dst, src, level)));
  if (!r.ok) return r;
  if (r.value === null) return err('PKG_ZSTD', 'zstd compression failed');
  return ok(r.value);
}

/**
 * The largest dictionary compressZstdWithDictionary takes. zstd sizes a CDict's tables by the
 * dictionary's size tier; measured on this build (zstd-codec 0.1.5, level 19): a dictionary
 * of 253,952 bytes works with 512 KiB of input, one of 262,143 (the next tier) runs out of the
 * 16 MiB heap whatever the input, as does every level from 9 up. 192 KiB leaves margin, and
 * 240 KiB gained the corpus pairs under 0.3% (FORMAT.md, changelog 2.2).
 */
export const ZSTD_MAX_DICTIONARY = 192 * 1024;
/** The largest input compressZstdWithDictionary takes (level 19 with a full dictionary: 1 MiB runs out of memory). */
export const ZSTD_MAX_DICTIONARY_CONTENT = 512 * 1024;
/** The magic that makes zstd read a dictionary as a trained one (RFC 8878, 5), little-endian. */
const DICTIONARY_MAGIC = 0xec30a437;

/**
 * Compresses `bytes` into one zstd frame at level 19 against `dictionary` as raw content
 * (RFC 8878, 5: the history before the frame's first byte). The frame records its content
 * size and no dictionary id (a raw-content dictionary has none), and carries no checksum;
 * `decodeZstdFrame(frame, bytes.length, dictionary)` decodes it, and so does
 * `zstd -d -D DICT`. PKG_ZSTD when the inputs are over the bounds the codec's heap allows
 * (ZSTD_MAX_DICTIONARY, ZSTD_MAX_DICTIONARY_CONTENT), or when the dictionary starts with the
 * trained-dictionary magic (zstd would parse it instead of using it as content).
 */
export async function compressZstdWithDictionary(bytes: Uint8Array, dictionary: Uint8Array): Promise<Result<Uint8Array>> {
  if (bytes.length > ZSTD_MAX_DICTIONARY_CONTENT) return err('PKG_ZSTD', `${bytes.length} bytes to compress with a dictionary, over the ${ZSTD_MAX_DICTIONARY_CONTENT}-byte limit`);
  if (dictionary.length > ZSTD_MAX_DICTIONARY) return err('PKG_ZSTD', `dictionary of ${dictionary.length} bytes, over the ${ZSTD_MAX_DICTIONARY}-byte limit`);
  if (dictionary.length < 8) return err('PKG_ZSTD', `dictionary of ${dictionary.length} bytes is too short to be one`);
  if (new DataView(dictionary.buffer, dictionary.byteOffset, 4).getUint32(0, true) === DICTIONARY_MAGIC) return err('PKG_ZSTD', 'dictionary starts with the trained-dictionary magic; zstd would not read it as raw content');
  const r = await call((b) => {
    const cdict = b.createCompressionDict(dictionary, 19);
    try {
      return oneShot(b, bytes, (codec, dst, src) => codec.compressUsingDict(dst, src, cdict));
    } finally {
      cdict.delete();
    }
  });
  if (!r.ok) return r;
  if (r.value === null) return err('PKG_ZSTD', 'zstd compression with a dictionary failed');
  return ok(r.value);
}

/** What a zstd frame header says (RFC 8878, section 3.1.1.1). */
export interface ZstdFrameHeader {
  /** Frame_Content_Size, or null when the frame does not record it. */
  readonly contentSize: number | null;
  readonly hasChecksum: boolean;
  readonly dictionaryId: number;
  /** Length of magic + header, i.e. where the first block starts. */
  readonly headerLength: number;
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * Parses the header of the zstd frame at the start of `bytes` without touching wasm, so a
 * size can be refused before any memory is committed. PKG_ZSTD when it is not a zstd frame.
 */
export function readZstdFrameHeader(bytes: Uint8Array): Result<ZstdFrameHeader> {
  if (bytes.length < 5) return err('PKG_ZSTD', `payload of ${bytes.length} bytes is too short for a zstd frame`, 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== ZSTD_MAGIC) return err('PKG_ZSTD', 'payload is not a zstd frame (bad magic)', 0);
  const fhd = bytes[4]!;
  if ((fhd & 0x08) !== 0) return err('PKG_ZSTD', 'zstd frame header has its reserved bit set', 4);
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd & 0x20) !== 0;
  const dictFlag = fhd & 0x03;
  let at = 5 + (singleSegment ? 0 : 1);
  const dictLen = [0, 1, 2, 4][dictFlag]!;
  const fcsLen = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
  if (bytes.length < at + dictLen + fcsLen) return err('PKG_ZSTD', 'zstd frame header is truncated', bytes.length);
  let dictionaryId = 0;
  for (let i = 0; i < dictLen; i++) dictionaryId += bytes[at + i]! * 2 ** (8 * i);
  at += dictLen;
  let contentSize: number | null = null;
  if (fcsLen === 1) contentSize = bytes[at]!;
  else if (fcsLen === 2) contentSize = view.getUint16(at, true) + 256;
  else if (fcsLen === 4) contentSize = view.getUint32(at, true);
  else if (fcsLen === 8) {
    const big = view.getBigUint64(at, true);
    // Anything past 2^53 is refused as a bomb by every caller anyway; keep it a safe number.
    contentSize = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
  }
  at += fcsLen;
  return ok({ contentSize, hasChecksum: (fhd & 0x04) !== 0, dictionaryId, headerLength: at });
}

/**
 * Decompresses one zstd frame whose header records a content size of at most `maxBytes`.
 * PKG_BOMB when the declared size is over the bound or not declared at all; PKG_ZSTD when the
 * data is corrupt, needs a dictionary, or does not produce exactly the declared size. Never
 * allocates more than the declared size for the output. Pure TypeScript (zstd-decode.ts):
 * runs in any JS runtime; async only to keep the signature the compressor side shares.
 */
export async function decompressZstd(frame: Uint8Array, maxBytes: number): Promise<Result<Uint8Array>> {
  const h = readZstdFrameHeader(frame);
  if (!h.ok) return h;
  const { contentSize } = h.value;
  if (contentSize === null) return err('PKG_BOMB', 'zstd frame does not declare its content size; refusing to expand it unbounded');
  if (contentSize > maxBytes) return err('PKG_BOMB', `zstd frame declares ${contentSize} bytes, over the ${maxBytes}-byte limit`);
  if (h.value.dictionaryId !== 0) return err('PKG_ZSTD', `zstd frame needs dictionary ${h.value.dictionaryId}; packages use none`);
  return decodeZstdFrame(frame, contentSize);
}
