/**
 * runtime/pe/wasm.ts as the CLI's CommonJS bundle has it (scripts/build.ts puts this module
 * in wasm.ts's place there): the same bridge, loaded synchronously from the .wasm beside the
 * bundle. CommonJS cannot hold wasm.ts's top-level await, and the CLI's entry is CommonJS
 * because Node then starts without its ES module loader (scripts/build.ts has the figures).
 * A read or compile failure leaves the parser unloaded, so calls return PE_WASM_UNAVAILABLE,
 * as they do after wasm.ts fails to load it.
 */
import { readFileSync } from 'node:fs';
import { initPeParserSync } from '../runtime/pe/wasm-bridge.ts';

export * from '../runtime/pe/wasm-bridge.ts';

initPeParserSync(() => readFileSync(new URL('./pe_parser_bg.wasm', import.meta.url)));
