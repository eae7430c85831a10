/**
 * The default series baseline id: the module, TimeDateStamp and SizeOfImage of the target.
 * Since format 1.2 a package whose baseline is this default stores it empty (it is implied
 * by the target identity), and the decoder fills it back in, so the model always holds it.
 */
import type { TargetIdentity } from './package.ts';

/** `module@TimeDateStamp-SizeOfImage` (lower-case module, 8 hex digits, hex size). */
export function defaultBaselineId(t: Pick<TargetIdentity, 'moduleName' | 'timeDateStamp' | 'sizeOfImage'>): string {
  return `${t.moduleName.toLowerCase()}@${(t.timeDateStamp >>> 0).toString(16).padStart(8, '0')}-${(t.sizeOfImage >>> 0).toString(16)}`;
}
