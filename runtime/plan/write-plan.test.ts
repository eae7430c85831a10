/**
 * The write plan at a process boundary: a real plan survives JSON text exactly, the
 * round-tripped plan applies to the same result, and malformed JSON is a PLAN_BAD_JSON
 * error naming the field.
 */
import { describe, expect, it } from 'vitest';
import { applyPlan } from '../apply/execute-plan.ts';
import { fingerprint, loadSample, sampleBytes } from '../apply/testing/fixtures.ts';
import { buildHandPackage } from '../apply/testing/hand-package.ts';
import { planPackage } from './plan-package.ts';
import { writePlanFromJson, writePlanToJson, writeStepFromJson } from './write-plan.ts';

describe('write plan JSON', () => {
  it('round-trips a real plan exactly, and the parsed plan applies identically', async () => {
    const pkg = buildHandPackage(sampleBytes('new-helper', 'v1.dll'), sampleBytes('new-helper', 'v2.dll'), { changed: ['average_percent'], added: ['clamp_percent'] });
    const a = loadSample('new-helper', 'v1.dll');
    const planned = await planPackage(pkg, a.backend);
    if (!planned.ok) throw new Error(planned.error.message);
    const plan = planned.value.plan;
    const text = JSON.stringify(writePlanToJson(plan));
    expect(text).toMatch(/"op":"suspend-threads","avoid":\[\{"start":"0x[0-9a-f]+","size":5\}\]/);
    const back = writePlanFromJson(JSON.parse(text));
    if (!back.ok) throw new Error(back.error.message);
    expect(back.value).toEqual(plan);
    expect((await applyPlan(a.backend, plan)).ok).toBe(true);
    const b = loadSample('new-helper', 'v1.dll');
    expect((await applyPlan(b.backend, back.value)).ok).toBe(true);
    expect(fingerprint(b.image)).toBe(fingerprint(a.image));
  });

  it('refuses malformed steps with one-line PLAN_BAD_JSON errors', () => {
    expect(writeStepFromJson({ op: 'write', address: '12', bytes: '00' })).toEqual({ ok: false, error: { code: 'PLAN_BAD_JSON', message: 'step write: expected a 0x hex address, got "12"' } });
    expect(writeStepFromJson({ op: 'write', address: '0x10', bytes: '0' })).toEqual({ ok: false, error: { code: 'PLAN_BAD_JSON', message: 'step write: expected hex bytes' } });
    expect(writeStepFromJson({ op: 'redirect', address: '0x10', expected: '00', bytes: '0000' })).toMatchObject({ ok: false, error: { message: 'step redirect: expected and bytes differ in length' } });
    expect(writeStepFromJson({ op: 'format-disk' })).toEqual({ ok: false, error: { code: 'PLAN_BAD_JSON', message: 'unknown step op "format-disk"' } });
    expect(writePlanFromJson({ version: 2 })).toMatchObject({ ok: false, error: { code: 'PLAN_BAD_JSON' } });
  });
});
