/**
 * Labels used as values: a relocated pointer (DIR64) anywhere in the image that lands inside a
 * function past its entry and is no function's entry (a computed goto's `static void *labels[]
 * = {&&a, &&b}`, copied into a saved continuation and taken later by `jmp [rcx]`). A copy old
 * code kept outlives a patch and resumes OLD's body, which no redirect at the entry reaches and
 * no jump can be written at without overwriting the code around it, so such a function is a
 * problem of the analysis (CODE_NOT_UNDERSTOOD when it changes; sample computed-goto). Checked
 * once every entry is known: during discovery a pointer to a function not yet split off (a
 * .ctors entry in a stripped build) lies inside its provisional neighbour.
 */
import { labelInData } from '../disasm/decode-function.ts';
import { codePointerTargets, type MappedImage } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';

/** `functions` with a problem added to each one a relocated pointer lands inside of, past every entry. */
export function withLabelValueProblems(img: MappedImage, functions: readonly FunctionInfo[]): FunctionInfo[] {
  const targets = codePointerTargets(img);
  if (targets.length === 0) return [...functions];
  const entries = new Set<number>(functions.map((f) => f.entry));
  const inner = targets.filter((t) => !entries.has(t));
  return functions.map((f) => {
    const at = f.ranges.map((r) => labelInData(inner, r, f.entry)).find((x) => x >= 0);
    if (at === undefined) return f;
    const problem = `code address 0x${at.toString(16)} inside the function is stored as data (a label used as a value): a copy old code kept would resume the old body`;
    return { ...f, decoded: { ...f.decoded, problems: [...f.decoded.problems, problem] } };
  });
}
