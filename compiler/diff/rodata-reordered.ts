/**
 * RODATA_TABLE_REORDERED: a read-only table whose entries changed places. A function whose own
 * code is unchanged but that reads a read-only item whose contents changed is carried with a
 * copy of the new item (its exact form names the item's contents), so after the patch it reads
 * the new table. When the change moves entries (reordered, or an entry inserted or removed in
 * front of others), an index means another entry in each version: indexes that old code
 * computed and stored in live objects before the patch (test/probes/red-table.c: v1
 * {zero, one, two, three}, v2 reversed, make storing v2's index for a name) select the wrong
 * entry in the new table, and the old table read with new code's indexes is as wrong; no choice
 * of table serves both. An entry whose value changed in place (a typo fixed, a constant tuned)
 * keeps every index's meaning and is not refused, nor is a table that only grows at its end.
 *
 * Evidence: the old counterpart of a changed NEW read-only item is the OLD item a matched
 * function's parallel reference names (same reference count, same kind at each position, as
 * rodata-counterparts.ts pairs them); both items are split into entries, pointer tables by
 * their relocated 8-byte slots (each entry named by what it points at, as the normaliser names
 * it: a string by its text, a function by its match), other tables by 8- or 4-byte words when
 * both items have the same size and the same entries in another order. An entry moved when an
 * old index holds another value in NEW and its old value sits at another index of NEW. Every
 * changed or added function that references the NEW item is refused: the code cannot tell
 * which indexes live in memory.
 */
import { hex } from '../../common/types.ts';
import { absTarget, relocsIn } from '../image/map-image.ts';
import type { DataItem } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import type { Normaliser } from '../match/normalise.ts';
import { reason, type Reason } from './reasons.ts';
import { forEachParallelItemRef } from './rodata-counterparts.ts';
import type { FunctionStatus } from './types.ts';

/** An entry that moved: its index in OLD, where NEW has it, and the entry size. */
interface MovedEntry {
  readonly from: number;
  readonly to: number;
  readonly stride: number;
}

const readOnly = (d: DataItem | undefined): d is DataItem => d !== undefined && !d.writable && !d.jumpTable;

/** The entries of a pointer table (every 8-byte slot from its start relocated), named by their targets; null when it is not one. */
function pointerEntries(a: ImageAnalysis, norm: Normaliser, d: DataItem): string[] | null {
  const relocs = relocsIn(a.img, d.start, d.end);
  if (relocs.length < 2) return null;
  const out: string[] = [];
  for (let k = 0; k < relocs.length; k++) {
    const at = relocs[k]!;
    if (at !== d.start + 8 * k || a.img.relocs.get(at) !== 10) return null;
    out.push(norm.targetToken(null, absTarget(a.img, at, 10), 'exact'));
  }
  // Bytes after the pointers (not a pure pointer table) leave the item to the word rule.
  for (let p: number = d.start + 8 * relocs.length; p < d.end; p++) if (a.img.image[p] !== 0) return null;
  return out;
}

/** The item's bytes as `stride`-byte words, or null when it holds relocations or does not divide. */
function wordEntries(a: ImageAnalysis, d: DataItem, stride: number): string[] | null {
  const size = d.end - d.start;
  if (size % stride !== 0 || size / stride < 2 || relocsIn(a.img, d.start, d.end).length > 0) return null;
  const out: string[] = [];
  for (let p: number = d.start; p < d.end; p += stride) out.push(a.img.image.subarray(p, p + stride).join(','));
  return out;
}

/** The first old entry that holds another value in NEW while its old value sits at another index of NEW, or null. */
function firstMoved(olds: readonly string[], news: readonly string[], stride: number): MovedEntry | null {
  for (let i = 0; i < olds.length; i++) {
    if (olds[i] === news[i]) continue;
    const to = news.indexOf(olds[i]!);
    if (to >= 0 && to !== i) return { from: i, to, stride };
  }
  return null;
}

/** Whether `xs` and `ys` hold the same entries (with multiplicity) and at least two distinct ones. */
function samePermutedEntries(xs: readonly string[], ys: readonly string[]): boolean {
  if (xs.length !== ys.length || new Set(xs).size < 2) return false;
  const a = [...xs].sort();
  const b = [...ys].sort();
  return a.every((x, k) => x === b[k]);
}

/** How the entries of OLD item `o` moved in NEW item `n`, or null. */
function movedEntry(m: MatchResult, o: DataItem, n: DataItem): MovedEntry | null {
  const po = pointerEntries(m.old, m.oldNorm, o);
  const pn = pointerEntries(m.new, m.newNorm, n);
  if (po !== null && pn !== null) return firstMoved(po, pn, 8);
  if (po !== null || pn !== null) return null;
  for (const stride of [8, 4]) {
    const wo = wordEntries(m.old, o, stride);
    const wn = wordEntries(m.new, n, stride);
    if (wo !== null && wn !== null && samePermutedEntries(wo, wn)) return firstMoved(wo, wn, stride);
  }
  return null;
}

/** NEW read-only items whose entries moved against their OLD counterpart (by NEW index), with the OLD item and the move. */
function reorderedItems(m: MatchResult): Map<number, { o: DataItem; moved: MovedEntry }> {
  const out = new Map<number, { o: DataItem; moved: MovedEntry }>();
  const seen = new Set<string>();
  forEachParallelItemRef(m, (n, o) => {
    if (!readOnly(n) || !readOnly(o)) return;
    const pair = `${o.index}:${n.index}`;
    if (seen.has(pair) || out.has(n.index)) return;
    seen.add(pair);
    if (m.oldNorm.itemKey(o, 'exact') === m.newNorm.itemKey(n, 'exact')) return;
    const moved = movedEntry(m, o, n);
    if (moved !== null) out.set(n.index, { o, moved });
  });
  return out;
}

/** Refusals, by NEW function index, of the changed and added functions that reference a read-only table whose entries moved. */
export function reorderedTableProblems(m: MatchResult, status: readonly FunctionStatus[]): Map<number, Reason> {
  const out = new Map<number, Reason>();
  const items = reorderedItems(m);
  if (items.size === 0) return out;
  for (const f of m.new.fns.functions) {
    const st = status[f.index];
    if (st !== 'changed' && st !== 'added') continue;
    for (const r of f.decoded.refs) {
      const n = r.isBranch ? undefined : m.new.itemAt(r.target);
      const hit = n === undefined ? undefined : items.get(n.index);
      if (n === undefined || hit === undefined) continue;
      const { o, moved } = hit;
      const label = n.name ?? `${n.section}+${hex(n.start)}`;
      const at = (i: number): string => `+${hex(i * moved.stride)}`;
      out.set(f.index, reason('RODATA_TABLE_REORDERED', `reads read-only table ${label} (OLD ${o.name ?? `${o.section}+${hex(o.start)}`}), whose ${moved.stride}-byte entries changed places: OLD's entry ${moved.from} (${at(moved.from)}) is NEW's entry ${moved.to} (${at(moved.to)}), so an index old code stored means another entry (needs a baseline)`, r.insnRva));
      break;
    }
  }
  return out;
}
