/** `mapImage`: a PE mapped as the Windows loader maps it, for the process image model. */
import type { Result } from '../../common/errors.ts';
import { callParser, rawParser } from './wasm.ts';

/**
 * Maps `bytes` into a SizeOfImage buffer: headers at 0, each section at its RVA (bytes past
 * its raw data zero), base relocations applied for `base`, and OptionalHeader.ImageBase
 * set to `base` as the loader leaves it. Imports are not bound (that needs a process).
 * Errors: any header error of parsePe, PE_IMAGE_TOO_LARGE (SizeOfImage over 1 GiB),
 * PE_BAD_SECTION (a section past SizeOfImage), PE_BAD_RELOCATION (damaged or unsupported
 * relocations when rebasing), PE_RELOCS_STRIPPED, PE_BAD_BASE.
 */
export function mapImage(bytes: Uint8Array, base: bigint): Result<Uint8Array> {
  return callParser(() => rawParser.mapImage(bytes, base), (d) => d);
}

/**
 * The compiler's mapping: `bytes` laid out as `mapImage` lays them at the file's own
 * ImageBase, except that overlapping sections are accepted (laid in section-table order,
 * a later section's bytes winning; `parsePe` accepts them too) and base relocations are
 * neither read nor applied: the compiler reads two builds, it never runs one. Errors: any
 * header error of parsePe, PE_IMAGE_TOO_LARGE, PE_BAD_SECTION (a section past SizeOfImage).
 */
export function mapImageLenient(bytes: Uint8Array): Result<Uint8Array> {
  return callParser(() => rawParser.mapImageLenient(bytes), (d) => d);
}
