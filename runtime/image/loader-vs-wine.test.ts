/**
 * The process image model against a real loader: samples/bin/host.exe loads a sample DLL
 * under Wine, the win32 agent reads the module back (through the same ProcessBackend
 * interface and module view the planner uses), and the in-memory image of the same file,
 * loaded at the same base, must agree: headers and every non-writable section byte for
 * byte (so mapping and base relocations match the loader's), the same import slots (bound
 * to real addresses there, to stubs here), zero-filled .bss in the model, and the same
 * protection on every page. Needs Wine (skipped with the reason otherwise; a failure under
 * HOTPATCH_REQUIRE_WINE=1).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IMAGE_SCN_MEM_WRITE } from '../pe/types.ts';
import { missingTools } from '../../test/support/tools.ts';
import { wineEnv } from '../../test/support/wine.ts';
import { endHosts, startHost, type HostSession } from '../../samples/host/host-session.ts';
import { openWin32Backend } from '../backends/win32-agent.ts';
import { loadSample, pagesOf as pages, ROOT } from '../apply/testing/fixtures.ts';
import { readModuleView } from './module-view.ts';

const skip = missingTools(['wine']);
const hosts: HostSession[] = [];

afterAll(async () => {
  await endHosts(hosts);
});

describe.skipIf(skip !== undefined)(`in-memory image vs the module Wine loaded${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  for (const scenario of ['new-import', 'cpp-exceptions', 'switch-table']) {
    it(`${scenario}/v1.dll: same bytes, same import slots, same page protections`, async () => {
      const h = await startHost(join(ROOT, 'samples/bin', scenario, 'v1.dll'), {});
      if (!h.ok) throw new Error(h.error.message);
      hosts.push(h.value);
      const live = await openWin32Backend({ pid: h.value.windowsPid, module: 'v1.dll', env: wineEnv() });
      if (!live.ok) throw new Error(live.error.message);
      try {
        const wineView = await readModuleView(live.value);
        if (!wineView.ok) throw new Error(wineView.error.message);
        const { image, backend } = loadSample(scenario, 'v1.dll', live.value.module.base);
        const ourView = await readModuleView(backend);
        if (!ourView.ok) throw new Error(ourView.error.message);
        expect(image.sizeOfImage).toBe(live.value.module.sizeOfImage);

        // Headers and every section the program cannot write: identical bytes.
        const headers = image.pe.optionalHeader.sizeOfHeaders;
        expect(Buffer.compare(wineView.value.bytes.subarray(0, headers), ourView.value.bytes.subarray(0, headers))).toBe(0);
        const compared: string[] = [];
        for (const s of image.pe.sections) {
          if ((s.characteristics & IMAGE_SCN_MEM_WRITE) !== 0) continue;
          const a = wineView.value.bytes.subarray(s.virtualAddress, s.virtualAddress + s.virtualSize);
          const b = ourView.value.bytes.subarray(s.virtualAddress, s.virtualAddress + s.virtualSize);
          expect(Buffer.compare(a, b), `${scenario} ${s.name}`).toBe(0);
          compared.push(s.name);
        }
        expect(compared).toContain('.text');
        expect(compared).toContain('.reloc');
        expect(image.pe.relocations.entries.length).toBeGreaterThan(0);

        // The same import slots; Wine bound them to real code, we to our stubs.
        const slots = (v: typeof ourView.value): string[] => v.imports.map((i) => `${i.dll.toLowerCase()}!${i.name ?? `#${i.ordinal}`}@${i.iatRva.toString(16)}`).sort();
        expect(slots(ourView.value)).toEqual(slots(wineView.value));
        for (const i of wineView.value.imports) expect(i.bound).not.toBe(i.intValue);
        for (const i of ourView.value.imports) expect(image.stubs.get(`${i.dll.toLowerCase()}!${i.name ?? `#${i.ordinal}`}`)).toBe(i.bound);

        // Page protections, page by page.
        const theirs = await live.value.queryProtection(live.value.module.base, image.sizeOfImage);
        const ours = await backend.queryProtection(image.base, image.sizeOfImage);
        if (!theirs.ok || !ours.ok) throw new Error('query');
        expect(pages(ours.value)).toEqual(pages(theirs.value));
      } finally {
        await live.value.close();
      }
    });
  }
});
