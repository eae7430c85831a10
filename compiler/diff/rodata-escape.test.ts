/**
 * The RODATA_ADDRESS_ESCAPED rule on real sample builds (GCC and clang): where OLD code's
 * `lea` of a read-only object leads. rodata-escape's use_default stores &default_cfg in a
 * global (escapes, the verdict refuses the functions that need the carried copy);
 * rodata-escape-safe's scale_of only loads through &levels; string-change's greeting returns
 * its string to hp_run, which only reads it (followed through the return); clang's enum-names
 * adds the relative table's base to an entry and returns the sum to a caller that reads it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { scenarioDll, type SampleVersion, type Toolchain } from '../../samples/scenarios.ts';
import { diffFiles, type ImageDiff } from '../index.ts';
import { addressEscapes, oldAddressEscape } from './rodata-escape.ts';

const read = (s: string, v: SampleVersion, tc: Toolchain, stripped = false): Uint8Array => new Uint8Array(readFileSync(scenarioDll(s, v, stripped, undefined, tc)));

function diffOf(s: string, tc: Toolchain, from: SampleVersion = 'v1', to: SampleVersion = 'v2', stripped = false): ImageDiff {
  const d = diffFiles(read(s, from, tc, stripped), read(s, to, tc, stripped));
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}

/** What becomes of each address OLD function `fn` takes as a value (lea / imm64 of read-only data). */
function escapesFrom(d: ImageDiff, fn: string): Array<string | null> {
  const a = d.match.old;
  const f = a.fns.functions.find((g) => g.name === fn);
  if (f === undefined) throw new Error(`no ${fn}`);
  const taken = f.decoded.refs.filter((r) => !r.isBranch && !r.accessesTarget && (r.kind === 'riprel32' || r.kind === 'abs64') && a.itemAt(r.target)?.writable === false);
  expect(taken.length, `${fn} takes a read-only address`).toBeGreaterThan(0);
  return taken.map((r) => addressEscapes(a, f, r.insnRva));
}

describe.each(['gcc', 'clang'] as const)('rodata-escape (%s)', (tc) => {
  test('OLD use_default stores &default_cfg: the address escapes, and the functions needing the copy are refused', () => {
    const d = diffOf('rodata-escape', tc);
    const esc = escapesFrom(d, 'use_default');
    expect(esc.some((w) => w !== null && /^it is stored to memory at 0x[0-9a-f]+$/.test(w))).toBe(true);
    const item = d.match.old.items.find((x) => x.name === 'default_cfg');
    expect(item).toBeDefined();
    expect(oldAddressEscape(d.match, item!)?.how).toMatch(/stored to memory/);
    const refused = d.functions.filter((f) => f.reason?.code === 'RODATA_ADDRESS_ESCAPED').map((f) => f.name);
    expect(refused.sort()).toEqual(['is_default', 'use_default']);
    expect(d.hotpatchable).toBe(false);
  });

  test('stripped: the same refusal, the object named by its section and address', () => {
    const d = diffOf('rodata-escape', tc, 'v1', 'v2', true);
    const reasons = d.functions.filter((f) => f.reason?.code === 'RODATA_ADDRESS_ESCAPED');
    expect(reasons.length).toBe(2);
    expect(reasons[0]!.reason!.message).toMatch(/^read-only object \.rdata 0x[0-9a-f]+ \(OLD 0x[0-9a-f]+\) changed content and its OLD address escapes/);
  });

  test('rodata-escape-safe: OLD scale_of only loads through &levels, so the carried copy serves', () => {
    const d = diffOf('rodata-escape-safe', tc);
    expect(escapesFrom(d, 'scale_of')).toEqual([null]);
    expect(d.functions.filter((f) => f.verdict === 'refused')).toEqual([]);
    expect(d.hotpatchable).toBe(true);
  });

  test('string-change: greeting returns its string to a caller that only reads it', () => {
    const d = diffOf('string-change', tc);
    expect(escapesFrom(d, 'greeting')).toEqual([null]);
    expect(d.hotpatchable).toBe(true);
  });
});

test('enum-names (clang): the relative table base added to an entry and returned is followed, not an escape', () => {
  const d = diffOf('enum-names', 'clang');
  expect(escapesFrom(d, 'color_name').every((w) => w === null)).toBe(true);
  expect(d.hotpatchable).toBe(true);
});
