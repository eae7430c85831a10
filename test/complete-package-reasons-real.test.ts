/**
 * The complete package of watcher 2.5.0 -> 2.5.1 (bench/complete-package.ts; samples/real,
 * skipped with the reason when the cache lacks it) names, for each function it carries
 * literally because emission cannot resolve it, that function's own failure: one emission
 * pass collects several failures, and every carrier used to be reported with the pass's
 * first one (32 functions blamed on one catch clause's TypeDescriptor while 18 of them read
 * MSVC's new writable `.fptable`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffFiles } from '../compiler/index.ts';
import { completePackage } from '../bench/complete-package.ts';
import { benchKeys } from '../bench/pairs.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'watcher-2.5.0-2.5.1');
const paths = pair === undefined ? null : [cachePath(pair.old), cachePath(pair.new)];
const unavailable = paths === null ? 'pair not in samples/real/manifest.json' : paths.some((p) => !existsSync(p)) ? 'watcher 2.5.0 / 2.5.1 not in samples/real/cache (run npm run samples:fetch)' : undefined;

describe.skipIf(unavailable !== undefined)(`complete package omissions${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`, () => {
  it('each function left out names the reference it fails on', async () => {
    const d = diffFiles(new Uint8Array(readFileSync(paths![0]!)), new Uint8Array(readFileSync(paths![1]!)));
    if (!d.ok) throw new Error(d.error.message);
    const c = await completePackage(d.value, 'watcher.node', (await benchKeys()).signingKey, false);
    if (typeof c === 'string') throw new Error(c);
    const reason = (fn: string): string => c.omitted.find((o) => o.startsWith(`function ${fn}: `)) ?? '';
    // 0x4854c reads the table MSVC's winapi thunks cache function pointers in; 0x3268c stores
    // into a .data global OLD does not have.
    expect(reason('0x4854c')).toMatch(/^function 0x4854c: needs something left out: 0x4854c at 0x[0-9a-f]+: reference to writable data 0x82000 \(\.fptable\)/);
    expect(reason('0x3268c')).toMatch(/^function 0x3268c: needs something left out: 0x3268c at 0x326c9: reference to writable data 0x7b1f8 \(\.data\)/);
    // 0x408d0 reads switch tables through a base register set in its prologue that the
    // analysis cannot prove on every path: the diff refuses it with that reason (so emission
    // never meets the table reference it could not re-target).
    const sw = d.value.functions.find((f) => f.newRva === 0x408d0);
    expect(sw?.reason?.code).toBe('CODE_NOT_UNDERSTOOD');
    expect(sw?.reason?.message).toMatch(/table base is a lea of the register off the straight line .* not proven to hold it on every path/);
    expect(reason('0x408d0')).toBe('');
    // Every reason names the function itself, or the one it reaches that is left out.
    for (const o of c.omitted.filter((x) => x.includes('needs something left out'))) {
      const m = /^function (0x[0-9a-f]+): needs something left out: (0x[0-9a-f]+) at /.exec(o);
      expect(m, o).not.toBeNull();
      if (m![1] !== m![2]) expect(o).toMatch(new RegExp(`reference to ${m![2]}|${m![2]} is left out`));
    }
  }, 180_000);
});
