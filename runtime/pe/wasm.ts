/**
 * The bridge to the wasm pe-parser (runtime/pe-parser/pkg). Importing this module loads the
 * wasm once with a top-level await, so `parsePe`, `mapImage` and `sha256` are plain
 * synchronous calls for every importer (Node, Deno, browsers and module workers all support
 * top-level await). Runtimes that cannot resolve the default URL (some bundlers) call
 * `initPeParser(bytesOrModule)` themselves; until one load succeeds, calls return
 * PE_WASM_UNAVAILABLE.
 *
 * This is the one converter between wasm results and error values: a trap (a parser bug,
 * never bad input) becomes PE_INTERNAL and the module is re-instantiated.
 */
import * as wasm from '../pe-parser/pkg/pe_parser.js';
import { err, ok, type HotpatchError, type Result } from '../../common/errors.ts';

let loadError: string | null = null;

/**
 * Loads the parser. Idempotent; the module already does it on import with the default
 * source, so only call this to supply the bytes/module/URL yourself.
 */
export async function initPeParser(source?: WebAssembly.Module | Uint8Array | ArrayBuffer | URL | string): Promise<Result<void>> {
  try {
    await wasm.init(source);
    loadError = null;
    return ok(undefined);
  } catch (e) {
    loadError = e instanceof Error ? e.message : String(e);
    return err('PE_WASM_UNAVAILABLE', `cannot load the pe-parser wasm: ${loadError}`);
  }
}

await initPeParser();

const decoder = new TextDecoder();

/** Runs one raw call and turns status 1/2 into error values; `onOk` reads the data. */
export function callParser<T>(run: () => wasm.RawResult, onOk: (data: Uint8Array) => T): Result<T> {
  if (!wasm.isReady()) {
    return err('PE_WASM_UNAVAILABLE', `the pe-parser wasm is not loaded${loadError === null ? '' : `: ${loadError}`}`);
  }
  const r = run();
  if (r.status === 0) return ok(onOk(r.data));
  if (r.status === 1) {
    const e = JSON.parse(decoder.decode(r.data)) as HotpatchError;
    return err(e.code, e.message, e.offset);
  }
  return err('PE_INTERNAL', `pe-parser trapped (a bug in hotpatch): ${decoder.decode(r.data)}`);
}

/** UTF-8 JSON from the parser. */
export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data));
}

/** The raw loader (pkg/pe_parser.js), for callers that want the JSON bytes or the bench. */
export { wasm as rawParser };
