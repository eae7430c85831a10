/**
 * Glue: read-only items that must stay adjacent in the package (an item's start that is
 * also the end pointer of the item before it, `&table[N]`) travel as one run. `glue` holds
 * item i when items i and i + 1 are glued; emission passes grow it (emit-package.ts).
 */

/**
 * Grows `glue` to what resolveTarget requires of the ambiguous starts it met (`starts`: item
 * indices whose start was referenced while the item before it is adjacent read-only data):
 * such a start is fine when neither item is in a glued run (OLD decides) or both are in the
 * same one; when just one of them is, the pair is glued. Only grows the set, so the rule is
 * the one the passes apply, reached without a pass per step.
 */
export function closeGlue(glue: Set<number>, starts: ReadonlySet<number>): void {
  const inRun = (k: number): boolean => glue.has(k) || glue.has(k - 1);
  for (let grew = true; grew; ) {
    grew = false;
    for (const i of starts) {
      if (glue.has(i - 1)) continue;
      if (inRun(i) || inRun(i - 1)) {
        glue.add(i - 1);
        grew = true;
      }
    }
  }
}
