/**
 * Argument roles computed on RegisterEffects' decode (the rider entry-arguments.ts uses) give
 * the same roles as their own decode, for every function of the entry-args and
 * entry-args-roles builds (GCC and clang, v1 and v2), whether RegisterEffects decoded a
 * function before the roles rode on it (caller-registers.ts runs first) or for them; and the
 * register effects a rider sees the decode of are those decoded alone.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { scenarioDll, TOOLCHAINS } from '../../samples/scenarios.ts';
import { diffFiles } from '../index.ts';
import { ArgumentRoles } from './argument-roles.ts';
import { decodeEffects, RegisterEffects } from './register-effects.ts';

const CASES = ['entry-args', 'entry-args-roles'].flatMap((s) => TOOLCHAINS.map((tc) => [s, tc] as const));

describe.each(CASES)('%s (%s)', (scenario, tc) => {
  test('roles on the shared decode equal roles on their own; effects equal effects decoded alone', () => {
    const read = (v: 'v1' | 'v2'): Uint8Array => new Uint8Array(readFileSync(scenarioDll(scenario, v, false, undefined, tc)));
    const d = diffFiles(read('v1'), read('v2'));
    if (!d.ok) throw new Error(d.error.message);
    for (const side of [d.value.match.old, d.value.match.new]) {
      const fns = side.fns.functions;
      const image = side.img.image;
      const fx = new RegisterEffects(image);
      // Half decoded before the roles ride (their role code is decoded apart), half after.
      for (const f of fns.slice(0, fns.length >> 1)) fx.of(f);
      const alone = new ArgumentRoles(side.fns, image);
      const shared = new ArgumentRoles(side.fns, image, undefined, fx);
      const again = new ArgumentRoles(side.fns, image, undefined, fx);
      let withEvidence = 0;
      for (const f of fns) {
        const want = alone.of(f);
        expect(shared.of(f), `${f.name ?? f.entry}`).toEqual(want);
        expect(again.of(f)).toEqual(want);
        if (want.some((r) => r !== 0)) withEvidence++;
      }
      expect(withEvidence, 'some functions dereference or compute with an argument').toBeGreaterThan(3);
      for (const f of fns) expect(fx.of(f)).toEqual(decodeEffects(image, f.decoded.insns));
    }
  });
});
