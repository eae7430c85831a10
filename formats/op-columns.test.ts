/**
 * Op columns (format 2.3, formats/op-columns.ts): ops survive the columns exactly, and a copy
 * that resumes its alignment across an edited run costs an offset gap of 0.
 */
import { describe, expect, it } from 'vitest';
import { hotpatch } from './generated/hotpatch.js';
import { opColumnsOf, opsOfColumns } from './op-columns.ts';
import type { StoredOp } from './package.ts';

/** Through the wire and back; bytes as plain arrays (the decoder hands out Buffer views). */
const decode = (ops: readonly StoredOp[]): unknown[] =>
  opsOfColumns(hotpatch.DeltaOpColumns.decode(hotpatch.DeltaOpColumns.encode(opColumnsOf(ops)).finish()), 'c').map(plain);
const plain = (op: StoredOp): unknown => ('bytes' in op ? { ...op, bytes: [...op.bytes] } : op);

describe('delta op columns', () => {
  it('a copy resuming the alignment after an edited run has gap 0; a jump back is a negative gap', () => {
    const ops: StoredOp[] = [
      { kind: 'copy', offset: 100, length: 20 },
      { kind: 'literal', bytes: Uint8Array.of(1, 2, 3, 4) },
      { kind: 'copy', offset: 124, length: 8 },
      { kind: 'add', offset: 40, bytes: Uint8Array.of(0, 0, 7) },
    ];
    const c = opColumnsOf(ops);
    expect(c.offsetGaps).toEqual([100, 0, 40 - 132]);
    expect(c.ops).toEqual([20 * 8 + 1, 4 * 8 + 2, 8 * 8 + 1, 3 * 8 + 3]);
    expect([...(c.bytes ?? [])]).toEqual([1, 2, 3, 4, 0, 0, 7]);
    expect(decode(ops)).toEqual(ops.map(plain));
  });

  it('sealed ops keep their lengths and take no bytes', () => {
    const ops: StoredOp[] = [
      { kind: 'sealed-literal', length: 9 },
      { kind: 'sealed-add', offset: 9, length: 30 },
      { kind: 'literal', bytes: Uint8Array.of(5) },
      { kind: 'copy', offset: 0, length: 12 },
    ];
    const c = opColumnsOf(ops);
    expect(c.offsetGaps).toEqual([0, 0 - 40]);
    expect(c.bytes?.length).toBe(1);
    expect(decode(ops)).toEqual(ops.map(plain));
  });

  it('columns that do not rebuild ops are refused with the column named', () => {
    const base = opColumnsOf([{ kind: 'copy', offset: 4, length: 4 }]);
    expect(() => opsOfColumns({ ...base, ops: [4 * 8 + 7] } as hotpatch.DeltaOpColumns, 'c')).toThrow(/c.ops\[0\]: 7 is not an op kind/);
    expect(() => opsOfColumns({ ...base, offsetGaps: [] } as unknown as hotpatch.DeltaOpColumns, 'c')).toThrow(/fewer entries/);
    expect(() => opsOfColumns({ ...base, offsetGaps: [4, 1] } as unknown as hotpatch.DeltaOpColumns, 'c')).toThrow(/2 entries for 1/);
    expect(() => opsOfColumns({ ops: [2 * 8 + 2], offsetGaps: [], bytes: Uint8Array.of(1, 2, 3) } as unknown as hotpatch.DeltaOpColumns, 'c')).toThrow(/1 bytes no op takes/);
  });
});
