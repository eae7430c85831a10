/**
 * A built package as the verifier sees it before it lays the blocks on paper: opened against
 * OLD by the verifier's own opening sequence (compiler/verify/verify-package.ts openPackage:
 * sealed blocks 2.2, unwind blobs by reference 2.3, scanned references 2.6). For tests that
 * build a PaperImage themselves (PaperImage.build refuses a block left unopened).
 */
import type { HotpatchPackage } from '../../formats/package.ts';
import { openPackage } from '../../compiler/verify/verify-package.ts';

export function openForPaper(pkg: HotpatchPackage, oldImage: Uint8Array): HotpatchPackage {
  const opened = openPackage(pkg, oldImage);
  if (!opened.ok) throw new Error(opened.error.message);
  return opened.value;
}
