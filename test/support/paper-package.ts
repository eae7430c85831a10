/**
 * A built package as the verifier sees it before it lays the blocks on paper: sealed blocks
 * (2.2), unwind blobs by reference (2.3) and scanned references (2.6) opened against OLD by the
 * runtime's own functions, in the order compiler/verify/verify-package.ts opens them. For tests
 * that build a PaperImage themselves (PaperImage.build refuses a block left unopened).
 */
import type { HotpatchPackage } from '../../formats/package.ts';
import { openRefScans } from '../../formats/ref-scan.ts';
import { unsealPackage } from '../../formats/seal.ts';
import { openUnwinds } from '../../formats/unwind-ref.ts';

export function openForPaper(pkg: HotpatchPackage, oldImage: Uint8Array): HotpatchPackage {
  const sealed = unsealPackage(pkg, oldImage);
  if (!sealed.ok) throw new Error(sealed.error.message);
  const unwound = openUnwinds(sealed.value, oldImage);
  if (!unwound.ok) throw new Error(unwound.error.message);
  const scanned = openRefScans(unwound.value, oldImage);
  if (!scanned.ok) throw new Error(scanned.error.message);
  return scanned.value;
}
