/**
 * `loadProcessImage`: a PE file loaded into a fresh in-memory process, as the Windows loader
 * would load it at `base` (default: its preferred ImageBase). Parsing and mapping run in the
 * wasm core (runtime/pe); binding and protections in process-image.ts.
 */
import { err, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import { mapImage } from '../pe/map-image.ts';
import { parsePe } from '../pe/parse-pe.ts';
import { createProcessImage, type ProcessImage } from './process-image.ts';

/** Where and under which name to load a module. */
export interface LoadOptions {
  /** Where to load; 64K aligned. Default: the file's preferred ImageBase. */
  readonly base?: Va;
  /** Module name for reports (e.g. `logic.dll`). */
  readonly name?: string | null;
  /** Where the import stubs go (64K aligned); default: the first free range near the image. */
  readonly stubAt?: Va;
}

/** Parses, maps, binds and protects `bytes` into a new ProcessImage (see the module comment). */
export function loadProcessImage(bytes: Uint8Array, options: LoadOptions = {}): Result<ProcessImage> {
  const pe = parsePe(bytes);
  if (!pe.ok) return pe;
  if (pe.value.format !== 'PE32+') return err('PLAN_IMAGE', `only PE32+ (x64) images can be loaded, this is ${pe.value.format}`);
  const base = options.base ?? asVa(pe.value.optionalHeader.imageBase);
  if (base % 0x1_0000n !== 0n) return err('PLAN_IMAGE', `image base ${hex(base)} is not 64K aligned`);
  const mapped = mapImage(bytes, base);
  if (!mapped.ok) return mapped;
  return createProcessImage(pe.value, mapped.value, base, options.name ?? null, options.stubAt ?? null);
}
