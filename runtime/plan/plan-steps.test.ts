/**
 * storeProtectionRuns: the pages a suspended span makes writable are the site pages and the
 * code pages between sites less than STORE_GAP apart (so the win32 agent stores such a
 * cluster in one write), never a data page between them. On a real sample loaded in memory:
 * new-helper v1.dll has .text at 0x1000-0x3000 (RX), .data at 0x3000 (WRITECOPY), .rdata
 * from 0x4000 (R).
 */
import { describe, expect, it } from 'vitest';
import { asVa } from '../../common/types.ts';
import { loadSample } from '../apply/testing/fixtures.ts';
import { STORE_GAP, storeProtectionRuns } from './plan-steps.ts';
import { PAGE_EXECUTE_READ, PAGE_READONLY, PAGE_WRITECOPY } from './write-plan.ts';

describe('storeProtectionRuns', () => {
  const { image, backend } = loadSample('new-helper', 'v1.dll');
  const site = (rva: number, size = 5) => ({ start: asVa(image.base + BigInt(rva)), size });
  const runs = async (...sites: { start: ReturnType<typeof asVa>; size: number }[]) => {
    const r = await storeProtectionRuns(backend, sites);
    if (!r.ok) throw new Error(r.error.message);
    return r.value.map((x) => [Number(x.address - image.base), x.size, x.protection]);
  };

  it('takes the code pages between nearby sites, not the data pages', async () => {
    // 0x1010 (.text) and 0x4010 (.rdata), 12 KiB apart: .text's page 0x2000 joins, .data's 0x3000 does not.
    expect(await runs(site(0x4010), site(0x1010))).toEqual([
      [0x1000, 0x2000, PAGE_EXECUTE_READ],
      [0x4000, 0x1000, PAGE_READONLY],
    ]);
  });

  it('leaves the pages between sites STORE_GAP or more apart alone', async () => {
    expect(await runs(site(0x1010), site(0x1015 + STORE_GAP))).toEqual([
      [0x1000, 0x1000, PAGE_EXECUTE_READ],
      [0x9000, 0x1000, PAGE_WRITECOPY],
    ]);
    expect(await runs(site(0x1010), site(0x1014 + STORE_GAP))).toEqual([
      [0x1000, 0x2000, PAGE_EXECUTE_READ],
      [0x9000, 0x1000, PAGE_WRITECOPY],
    ]);
  });

  it('is the site pages alone for one site, and nothing for none', async () => {
    expect(await runs(site(0x1ffe, 4))).toEqual([[0x1000, 0x2000, PAGE_EXECUTE_READ]]);
    expect(await runs()).toEqual([]);
  });
});
