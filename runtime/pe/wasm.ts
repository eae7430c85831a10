/**
 * The wasm pe-parser, loaded: importing this module loads the wasm once with a top-level
 * await (from the default place, see wasm-bridge.ts), so `parsePe`, `mapImage` and `sha256`
 * are plain synchronous calls for every importer (Node, Deno, browsers and module workers all
 * support top-level await). Runtimes that cannot resolve the default URL (some bundlers) call
 * `initPeParser(bytesOrModule)` themselves; until one load succeeds, calls return
 * PE_WASM_UNAVAILABLE.
 */
import { initPeParser } from './wasm-bridge.ts';

export * from './wasm-bridge.ts';

await initPeParser();
