/**
 * The decoded instructions of one function by RVA, for descent (decode-function.ts): a Map
 * in behaviour (insertion-ordered iteration, the ReadonlyMap the jump-table and base-path
 * code read), stored as a list plus one Int32Array slot per byte of the function's ranges.
 * Descent asks "decoded here already?" at every step and adds every instruction: a Map of
 * numbers hashes and grows for each, the slot array is one index.
 */

/** A value the map holds: it knows its own RVA (its key). */
export interface AtRva {
  readonly rva: number;
}

export class InstructionMap<V extends AtRva> implements ReadonlyMap<number, V> {
  private readonly list: V[] = [];
  /** Per cell: 1 + the list index of the value whose key maps to the cell, or 0. */
  private readonly slot: Int32Array;

  /**
   * `cellOf` maps an RVA one-to-one to a cell in [0, cells), or to -1 for an RVA outside
   * (decode-function.ts's Coverage.index over the function's ranges).
   */
  /**
   * `slots`, when given, is `cells` zeroed cells the map uses instead of an array of its own
   * (descent reuses one buffer for every function it decodes).
   */
  constructor(
    private readonly cellOf: (rva: number) => number,
    cells: number,
    slots?: Int32Array,
  ) {
    this.slot = slots ?? new Int32Array(cells);
  }

  get size(): number {
    return this.list.length;
  }

  private indexOf(rva: number): number {
    const c = this.cellOf(rva);
    if (c < 0) return -1;
    const i = this.slot[c]! - 1;
    return i >= 0 && this.list[i]!.rva === rva ? i : -1;
  }

  /** has(rva) when `cell` is cellOf(rva) (>= 0), known already. */
  hasAt(cell: number, rva: number): boolean {
    const i = this.slot[cell]! - 1;
    return i >= 0 && this.list[i]!.rva === rva;
  }

  has(rva: number): boolean {
    return this.indexOf(rva) >= 0;
  }

  get(rva: number): V | undefined {
    const i = this.indexOf(rva);
    return i < 0 ? undefined : this.list[i];
  }

  /** Adds `v` under its RVA (replacing, in place, a value already there, as a Map does). */
  add(v: V): void {
    const c = this.cellOf(v.rva);
    if (c < 0) throw new Error(`InstructionMap: 0x${v.rva.toString(16)} is outside the function's ranges`);
    this.addAt(c, v);
  }

  /** add(v) when `cell` is cellOf(v.rva) (>= 0), known already. */
  addAt(cell: number, v: V): void {
    const c = cell;
    const i = this.slot[c]! - 1;
    if (i >= 0) this.list[i] = v;
    else {
      this.list.push(v);
      this.slot[c] = this.list.length;
    }
  }

  /**
   * The values in address order. A sort of the list (descent appends straight-line runs, which
   * the sort takes as they are): walking the cells instead costs one step per byte of the
   * ranges, and bounded trial decodes span thousands of bytes for a few instructions.
   */
  inAddressOrder(): V[] {
    return this.list.slice().sort((a, b) => a.rva - b.rva);
  }

  values(): MapIterator<V> {
    return this.list.values();
  }

  keys(): MapIterator<number> {
    return this.list.map((v) => v.rva).values();
  }

  entries(): MapIterator<[number, V]> {
    return this.list.map((v): [number, V] => [v.rva, v]).values();
  }

  [Symbol.iterator](): MapIterator<[number, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: number, map: ReadonlyMap<number, V>) => void): void {
    for (const v of this.list) fn(v, v.rva, this);
  }
}
