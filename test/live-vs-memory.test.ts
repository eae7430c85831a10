/**
 * The in-memory backend against a live process: one plan, computed against samples/bin/
 * host.exe running a sample DLL under Wine and applied there (applyLive, through the win32
 * agent), is replayed on the in-memory image of the same DLL loaded at the same base. Both
 * processes must then hold the same bytes and page protections in the module's read-only
 * sections (the redirects) and in the whole patch region; after revert (revertLive / the
 * plan's revert steps) both are back to their own starting bytes. This is what lets the
 * in-memory image stand in for a process in the other tests. Needs Wine.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diffFiles } from '../compiler/index.ts';
import { emitPackage } from '../compiler/emit/emit-package.ts';
import { asVa } from '../common/types.ts';
import { endHosts, startHost, type HostSession } from '../samples/host/host-session.ts';
import { missingTools } from './support/tools.ts';
import { wineEnv } from './support/wine.ts';
import { openWin32Backend, type Win32AgentBackend } from '../runtime/backends/win32-agent.ts';
import { applyLive, revertLive } from '../runtime/backends/win32-agent/live.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import { readModuleView } from '../runtime/image/module-view.ts';
import { IMAGE_SCN_MEM_WRITE } from '../runtime/pe/types.ts';
import type { ProcessBackend } from '../runtime/plan/backend.ts';
import type { WritePlan } from '../runtime/plan/write-plan.ts';
import { executeSteps } from '../runtime/apply/execute-plan.ts';
import { pagesOf as pages, ROOT, sampleBytes } from '../runtime/apply/testing/fixtures.ts';

const skip = missingTools(['wine']);
const hosts: HostSession[] = [];
afterAll(async () => {
  await endHosts(hosts);
});

/** Read-only sections of the module, the patch region's bytes, and their page protections. */
async function snapshot(b: ProcessBackend, plan: WritePlan, readOnly: readonly { va: number; size: number }[], withRegion: boolean): Promise<{ module: Buffer[]; region: Buffer | null; prot: number[] }> {
  const view = await readModuleView(b);
  if (!view.ok) throw new Error(view.error.message);
  const module = readOnly.map((s) => Buffer.from(view.value.bytes.subarray(s.va, s.va + s.size)));
  const mp = await b.queryProtection(b.module.base, b.module.sizeOfImage);
  if (!mp.ok) throw new Error(mp.error.message);
  let region: Buffer | null = null;
  let rp: number[] = [];
  if (withRegion) {
    const r = await b.read(plan.region.address, plan.region.size);
    const q = await b.queryProtection(plan.region.address, plan.region.size);
    if (!r.ok || !q.ok) throw new Error('region unreadable');
    region = Buffer.from(r.value);
    rp = pages(q.value);
  }
  return { module, region, prot: [...pages(mp.value), ...rp] };
}

describe.skipIf(skip !== undefined)(`one plan, a live Wine process and the in-memory image${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  for (const scenario of ['new-helper', 'switch-table', 'cpp-exceptions', 'new-import']) {
    it(`${scenario}: same bytes and protections after apply and after revert`, async () => {
      const o = sampleBytes(scenario, 'v1.dll');
      const n = sampleBytes(scenario, 'v2.dll');
      const diff = diffFiles(o, n);
      if (!diff.ok) throw new Error(diff.error.message);
      const e = emitPackage(diff.value, { moduleName: 'v1.dll', skipRefused: false, series: null, compilerVersion: 'live-vs-memory test' });
      if (!e.ok) throw new Error(e.error.message);
      const readOnly = diff.value.match.old.img.pe.sections.filter((s) => (s.characteristics & IMAGE_SCN_MEM_WRITE) === 0).map((s) => ({ va: s.virtualAddress as number, size: s.virtualSize }));

      const h = await startHost(join(ROOT, 'samples/bin', scenario, 'v1.dll'), {});
      if (!h.ok) throw new Error(h.error.message);
      hosts.push(h.value);
      const open = async (): Promise<Win32AgentBackend> => {
        const b = await openWin32Backend({ pid: h.value.windowsPid, module: 'v1.dll', env: wineEnv() });
        if (!b.ok) throw new Error(b.error.message);
        return b.value;
      };

      let live = await open();
      const applied = await applyLive(e.value.pkg, live);
      if (!applied.ok) throw new Error(`${applied.error.code}: ${applied.error.message}`);
      const plan = applied.value.plan;
      expect((await live.close()).ok).toBe(true);

      // The same plan on the in-memory image at the same base (stubs kept out of the plan's way).
      const img = loadProcessImage(o, { base: live.module.base, name: 'v1.dll', stubAt: asVa(live.module.base - 0x1000_0000n) });
      if (!img.ok) throw new Error(img.error.message);
      const mem = new MemoryBackend(img.value);
      const memBefore = await snapshot(mem, plan, readOnly, false);
      const ran = await executeSteps(mem, plan.steps);
      if (!ran.ok) throw new Error(`${ran.error.code}: ${ran.error.message}`);

      live = await open();
      const liveAfter = await snapshot(live, plan, readOnly, true);
      const memAfter = await snapshot(mem, plan, readOnly, true);
      expect(plan.redirects.length).toBeGreaterThan(0);
      expect(memAfter.module).toEqual(liveAfter.module);
      expect(memAfter.region!.equals(liveAfter.region!)).toBe(true);
      expect(memAfter.prot).toEqual(liveAfter.prot);
      expect(memAfter.module).not.toEqual(memBefore.module);

      const back = await revertLive(live);
      if (!back.ok) throw new Error(`${back.error.code}: ${back.error.message}`);
      expect((await live.close()).ok).toBe(true);
      const memBack = await executeSteps(mem, plan.revert);
      if (!memBack.ok) throw new Error(memBack.error.message);
      live = await open();
      const liveEnd = await snapshot(live, plan, readOnly, false);
      await live.close();
      const memEnd = await snapshot(mem, plan, readOnly, false);
      expect(memEnd).toEqual(memBefore);
      expect(liveEnd.module).toEqual(memBefore.module);
      expect(liveEnd.prot).toEqual(memBefore.prot);
    });
  }
});
