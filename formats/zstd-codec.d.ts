/**
 * Types for the part of `zstd-codec` (0.1.5, no bundled types) that formats/zstd.ts uses:
 * the Emscripten factory of its WebAssembly binding and the embind classes it registers.
 * Read from node_modules/zstd-codec/lib/zstd-codec.js, which drives the same binding.
 */
declare module 'zstd-codec/lib/zstd-codec-binding-wasm.js' {
  /** A C++ std::vector<uint8_t> living in the wasm heap; `delete()` frees it. */
  interface VectorU8 {
    resize(size: number, fill: number): void;
    size(): number;
    delete(): void;
  }

  /** zstd's simple (one-shot) API; sizes are returned as numbers, negative on error. */
  interface ZstdCodecInstance {
    compressBound(contentSize: number): number;
    /** ZSTD_getFrameContentSize of the first frame. */
    contentSize(src: VectorU8): number;
    /** ZSTD_compress into `dest` (sized beforehand); returns the compressed size. */
    compress(dest: VectorU8, src: VectorU8, level: number): number;
    /** ZSTD_decompress into `dest` (sized beforehand); returns the decompressed size. */
    decompress(dest: VectorU8, src: VectorU8): number;
    /** ZSTD_compress_usingCDict into `dest` (sized beforehand); returns the compressed size. */
    compressUsingDict(dest: VectorU8, src: VectorU8, dict: CompressionDict): number;
    delete(): void;
  }

  /** A ZSTD_CDict (ZSTD_createCDict of the bytes at a level); `delete()` frees it. */
  interface CompressionDict {
    delete(): void;
  }

  /** The initialised Emscripten module, with the embind registrations. */
  export interface ZstdBinding {
    readonly ZstdCodec: new () => ZstdCodecInstance;
    readonly VectorU8: new () => VectorU8;
    cloneToVector(dest: VectorU8, src: Uint8Array): void;
    /** ZSTD_createCDict: raw content unless the bytes start with the dictionary magic. */
    createCompressionDict(dict: Uint8Array, level: number): CompressionDict;
    cloneAsTypedArray(src: VectorU8): Uint8Array;
  }

  /** Emscripten Module options the factory honours. */
  export interface ZstdModuleOptions {
    TOTAL_MEMORY?: number;
    print?: (s: string) => void;
    printErr?: (s: string) => void;
    onRuntimeInitialized?: () => void;
  }

  /** Instantiates the module into `options` (Emscripten style) and returns it. */
  const factory: (options: ZstdModuleOptions) => unknown;
  export default factory;
}
