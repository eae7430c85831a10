/**
 * Signatures grown under callers outside the module, live under Wine
 * (compiler/diff/entry-arguments.ts). samples/entry-args/importer.c stands for a module
 * compiled against entry-args v1: loaded next to the scenario DLL (`host.exe --also`), it
 * calls the exports scale_by(x), api_scale(x) and weigh(a..e) with v1's signatures every round.
 *
 * Before the rule, `hotpatch build` carried the pair and `hotpatch live`
 * applied it: hp_run then printed v2's output, and the importer got -1476771819 from
 * scale_by(1) and api_scale(1) (3 and 5 before the patch) and 1619039049 from
 * weigh(1, 2, 3, 4, 5) (55): the new bodies read k from rdx and f from [rsp+0x30], which it
 * never set. Now the build is refused, naming five functions (make_span too, whose result moved
 * to a hidden pointer in rcx), and a --skip-refused
 * package carries none of them, so the importer keeps v1's answers after the patch. The same
 * importer next to the v2 DLL shows what the refusal prevents: v2's bodies called the old way.
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { HostSession } from '../samples/host/host-session.ts';
import type { SampleVersion } from '../samples/scenarios.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { buildImporter } from './support/importer.ts';
import { applyLive, expectedOutput, liveSuite, sampleDll } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw']);
const suite = liveSuite('hp-entry-args-', skip);
const dll = (v: SampleVersion, variant: string): string => sampleDll('entry-args', v, variant);
const expected = (v: SampleVersion): string => expectedOutput('entry-args', v);
/** What the importer prints when each export answers as v1's does. */
const V1_ANSWERS = [1, 2].map((x) => `importer scale_by(${x}) = ${3 * x}\nimporter api_scale(${x}) = ${5 * x}\nimporter weigh(${x}, 2, 3, 4, 5) = ${x + 54}\n`).join('');

const host = (main: string, also: string): Promise<HostSession> => suite.start(main, { also: [also] });

describe.skipIf(skip !== undefined)(`entry-args, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('an importer compiled against v1 gets other answers from v2\'s exports: the hazard the rule refuses', async () => {
    const h = await host(dll('v2', ''), buildImporter(suite.dir(), 'entry-args', 'v2.dll'));
    expect(h.first.output.startsWith(expected('v2'))).toBe(true);
    expect(h.first.output.slice(expected('v2').length)).not.toBe(V1_ANSWERS);
  }, 120_000);

  for (const variant of ['', '.stripped']) {
    test(`entry-args${variant}: refused, naming the five functions; the --skip-refused patch leaves the importer v1's answers`, async () => {
      const out = join(suite.dir(), `p${variant}.hpk`);
      const r = await runHotpatchAsync(['build', dll('v1', variant), dll('v2', variant), '-o', out, '--unsigned', '--json']);
      expect(r.status).toBe(31);
      const j = JSON.parse(r.stdout) as { refused: Array<{ code: string }> };
      expect(j.refused.map((x) => x.code)).toEqual(Array(5).fill('ENTRY_ARGUMENTS_CHANGED'));
      const s = await runHotpatchAsync(['build', dll('v1', variant), dll('v2', variant), '-o', out, '--unsigned', '--skip-refused', '--json']);
      expect(s.status, s.stderr).toBe(0);
      expect((JSON.parse(s.stdout) as { functions: unknown[] }).functions).toEqual([]);
      const h = await host(dll('v1', variant), buildImporter(suite.dir(), 'entry-args', `v1${variant}.dll`));
      expect(h.first.output).toBe(expected('v1') + V1_ANSWERS);
      const live = await applyLive(out, h, `v1${variant}.dll`);
      expect(live.status, live.stderr).toBe(0);
      const after = await h.run();
      if (!after.ok) throw new Error(after.error.message);
      expect(after.value.output).toBe(expected('v1') + V1_ANSWERS);
    }, 120_000);
  }
});
