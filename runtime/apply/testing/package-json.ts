/**
 * Test support: a HotpatchPackage as JSON text (bigints as `{"$big": "..."}`, bytes as
 * `{"$hex": "..."}`) and back, to hand a real package to code running in another realm
 * (the Node-globals-free worker of the portability test) without the container.
 */
import type { HotpatchPackage } from '../../../formats/package.ts';
import { bytesToHex, hexToBytes } from '../../plan/write-plan.ts';

/** JSON text of `pkg`. */
export function packageToJson(pkg: HotpatchPackage): string {
  return JSON.stringify(pkg, (_k, v: unknown) => {
    if (typeof v === 'bigint') return { $big: v.toString() };
    if (v instanceof Uint8Array) return { $hex: bytesToHex(v) };
    return v;
  });
}

/** Inverse of packageToJson (test code: trusts its input). */
export function packageFromJson(text: string): HotpatchPackage {
  return JSON.parse(text, (_k, v: unknown) => {
    if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (typeof o['$big'] === 'string') return BigInt(o['$big']);
      if (typeof o['$hex'] === 'string') return hexToBytes(o['$hex']);
    }
    return v;
  }) as HotpatchPackage;
}
