/**
 * A sparse 64-bit process address space with Win32 semantics: regions allocated at 64K
 * granularity and committed in 4K pages, a protection per page, reads that need a readable
 * page and writes that need a writable one (a write to PAGE_EXECUTE_READ code without a
 * VirtualProtect first fails, as it does in a real process). No page is ever implicitly
 * made writable.
 *
 * Mutations are all-or-nothing: a failing call changes nothing.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import {
  ALLOCATION_GRANULARITY,
  PAGE_EXECUTE,
  PAGE_EXECUTE_READ,
  PAGE_EXECUTE_READWRITE,
  PAGE_EXECUTE_WRITECOPY,
  PAGE_NOACCESS,
  PAGE_READONLY,
  PAGE_READWRITE,
  PAGE_SIZE,
  PAGE_WRITECOPY,
  REL32_REACH,
  type VaRange,
} from '../plan/write-plan.ts';

/** The lowest user-mode address a region may use (x64 Windows). */
export const USER_MIN = 0x1_0000n;
/** One past the highest user-mode address a region may use. */
export const USER_MAX = 0x7fff_ffff_0000n;

const VALID_PROTECTIONS = new Set([
  PAGE_NOACCESS,
  PAGE_READONLY,
  PAGE_READWRITE,
  PAGE_WRITECOPY,
  PAGE_EXECUTE,
  PAGE_EXECUTE_READ,
  PAGE_EXECUTE_READWRITE,
  PAGE_EXECUTE_WRITECOPY,
]);

/** True when a page with this protection can be read. */
export function isReadable(protection: number): boolean {
  return protection !== PAGE_NOACCESS && protection !== PAGE_EXECUTE;
}

/** True when a page with this protection can be written. */
export function isWritable(protection: number): boolean {
  return (
    protection === PAGE_READWRITE ||
    protection === PAGE_WRITECOPY ||
    protection === PAGE_EXECUTE_READWRITE ||
    protection === PAGE_EXECUTE_WRITECOPY
  );
}

/** One allocation: `[base, base + size)`, page-granular, with its bytes and page protections. */
export interface Region {
  readonly base: Va;
  readonly size: number;
  /** What the region holds, for reports: the mapped image, import stubs, or an allocation. */
  readonly kind: 'image' | 'stubs' | 'allocation';
  readonly bytes: Uint8Array;
  /** One PAGE_* value per 4K page. */
  readonly protection: Uint8Array;
}

function alignUp(n: bigint, a: bigint): bigint {
  return ((n + a - 1n) / a) * a;
}

function alignDown(n: bigint, a: bigint): bigint {
  return (n / a) * a;
}

/** A page-granular, protection-checked sparse memory (see the module comment). */
export class AddressSpace {
  /** Sorted by base, non-overlapping. */
  private readonly regions: Region[] = [];

  /** Every region, in address order (read-only views; mutate through the methods). */
  list(): readonly Region[] {
    return this.regions;
  }

  /** The region containing `va`, or undefined. */
  regionAt(va: Va): Region | undefined {
    // Few regions (image, stubs, a patch or two): a linear scan beats bookkeeping.
    for (const r of this.regions) if (va >= r.base && va < r.base + BigInt(r.size)) return r;
    return undefined;
  }

  private locate(va: Va, size: number, what: string): Result<{ region: Region; offset: number }> {
    const r = this.regionAt(va);
    if (r === undefined) return err('APPLY_UNMAPPED', `${what} at ${hex(va)}: no memory is allocated there`);
    const offset = Number(va - r.base);
    if (size < 0 || offset + size > r.size) return err('APPLY_UNMAPPED', `${what} at ${hex(va)} + ${hex(size)} runs past the end of its region`);
    return ok({ region: r, offset });
  }

  /**
   * Allocates `[address, address + size)` (size rounded up to pages) as VirtualAlloc with
   * MEM_RESERVE|MEM_COMMIT at a fixed address does: the address must be 64K aligned and
   * the range free. Contents are zero.
   */
  allocate(address: Va, size: number, protection: number, kind: Region['kind'] = 'allocation'): Result<Region> {
    if (!VALID_PROTECTIONS.has(protection)) return err('APPLY_BAD_PROTECTION', `invalid page protection ${hex(protection)}`);
    if (address % BigInt(ALLOCATION_GRANULARITY) !== 0n) return err('APPLY_ALLOCATE', `allocation at ${hex(address)} is not 64K aligned`);
    if (!Number.isSafeInteger(size) || size <= 0) return err('APPLY_ALLOCATE', `allocation of ${size} bytes`);
    const rounded = Number(alignUp(BigInt(size), BigInt(PAGE_SIZE)));
    const end = address + BigInt(rounded);
    if (address < USER_MIN || end > USER_MAX) return err('APPLY_ALLOCATE', `allocation at ${hex(address)} is outside user space`);
    if (!this.isFree(address, rounded)) return err('APPLY_ALLOCATE', `allocation at ${hex(address)} + ${hex(rounded)} overlaps memory in use`);
    const region: Region = {
      base: address,
      size: rounded,
      kind,
      bytes: new Uint8Array(rounded),
      protection: new Uint8Array(rounded / PAGE_SIZE).fill(protection),
    };
    const at = this.regions.findIndex((r) => r.base > address);
    this.regions.splice(at === -1 ? this.regions.length : at, 0, region);
    return ok(region);
  }

  /** True when no region overlaps `[address, address + size)`. */
  isFree(address: Va, size: number): boolean {
    const end = address + BigInt(size);
    return !this.regions.some((r) => address < r.base + BigInt(r.size) && r.base < end);
  }

  /** Releases the whole allocation that starts at `address` (VirtualFree MEM_RELEASE). */
  free(address: Va): Result<Region> {
    const i = this.regions.findIndex((r) => r.base === address);
    const r = this.regions[i];
    if (r === undefined) return err('APPLY_FREE', `no allocation starts at ${hex(address)}`);
    if (r.kind === 'image') return err('APPLY_FREE', `${hex(address)} is the image itself`);
    this.regions.splice(i, 1);
    return ok(r);
  }

  /** Reads `size` bytes; every page must be committed and readable. Returns a copy. */
  read(address: Va, size: number): Result<Uint8Array> {
    const loc = this.locate(address, size, 'read');
    if (!loc.ok) return loc;
    const { region, offset } = loc.value;
    for (let p = Math.floor(offset / PAGE_SIZE); p * PAGE_SIZE < offset + size; p++) {
      const prot = region.protection[p] ?? PAGE_NOACCESS;
      if (!isReadable(prot)) return err('APPLY_ACCESS', `read at ${hex(address)}: page ${hex(region.base + BigInt(p * PAGE_SIZE))} is not readable (${hex(prot)})`);
    }
    return ok(region.bytes.slice(offset, offset + size));
  }

  /**
   * Writes `bytes`; every page must be writable (no implicit protection change, except that
   * a copy-on-write page becomes a private read-write one, as on Windows).
   */
  write(address: Va, bytes: Uint8Array): Result<void> {
    const loc = this.locate(address, bytes.length, 'write');
    if (!loc.ok) return loc;
    const { region, offset } = loc.value;
    const p0 = Math.floor(offset / PAGE_SIZE);
    const p1 = Math.ceil((offset + bytes.length) / PAGE_SIZE);
    for (let p = p0; p < p1; p++) {
      const prot = region.protection[p] ?? PAGE_NOACCESS;
      if (!isWritable(prot)) return err('APPLY_ACCESS', `write at ${hex(address)}: page ${hex(region.base + BigInt(p * PAGE_SIZE))} is not writable (${hex(prot)})`);
    }
    region.bytes.set(bytes, offset);
    for (let p = p0; p < p1; p++) {
      if (region.protection[p] === PAGE_WRITECOPY) region.protection[p] = PAGE_READWRITE;
      else if (region.protection[p] === PAGE_EXECUTE_WRITECOPY) region.protection[p] = PAGE_EXECUTE_READWRITE;
    }
    return ok(undefined);
  }

  /**
   * Sets the protection of every page touching `[address, address + size)` (VirtualProtect)
   * and returns the previous protections as runs, so the change can be undone exactly.
   */
  protect(address: Va, size: number, protection: number): Result<{ address: Va; size: number; protection: number }[]> {
    if (!VALID_PROTECTIONS.has(protection)) return err('APPLY_BAD_PROTECTION', `invalid page protection ${hex(protection)}`);
    if (size <= 0) return err('APPLY_PROTECT', `protect of ${size} bytes at ${hex(address)}`);
    const first = asVa(alignDown(address, BigInt(PAGE_SIZE)));
    const last = alignUp(address + BigInt(size), BigInt(PAGE_SIZE));
    const loc = this.locate(first, Number(last - first), 'protect');
    if (!loc.ok) return loc;
    const { region, offset } = loc.value;
    const p0 = offset / PAGE_SIZE;
    const p1 = p0 + Number(last - first) / PAGE_SIZE;
    return ok(this.setPages(region, p0, p1, protection));
  }

  private setPages(region: Region, p0: number, p1: number, protection: number): { address: Va; size: number; protection: number }[] {
    const runs: { address: Va; size: number; protection: number }[] = [];
    for (let p = p0; p < p1; p++) {
      const old = region.protection[p] ?? PAGE_NOACCESS;
      const prev = runs[runs.length - 1];
      if (prev !== undefined && prev.protection === old) runs[runs.length - 1] = { ...prev, size: prev.size + PAGE_SIZE };
      else runs.push({ address: asVa(region.base + BigInt(p * PAGE_SIZE)), size: PAGE_SIZE, protection: old });
      region.protection[p] = protection;
    }
    return runs;
  }

  /** Protection runs over `[address, address + size)` (VirtualQuery, page-granular). */
  query(address: Va, size: number): Result<{ address: Va; size: number; protection: number }[]> {
    const first = asVa(alignDown(address, BigInt(PAGE_SIZE)));
    const last = alignUp(address + BigInt(Math.max(size, 1)), BigInt(PAGE_SIZE));
    const loc = this.locate(first, Number(last - first), 'query');
    if (!loc.ok) return loc;
    const { region, offset } = loc.value;
    const runs: { address: Va; size: number; protection: number }[] = [];
    for (let p = offset / PAGE_SIZE; p < (offset + Number(last - first)) / PAGE_SIZE; p++) {
      const prot = region.protection[p] ?? PAGE_NOACCESS;
      const prev = runs[runs.length - 1];
      if (prev !== undefined && prev.protection === prot) runs[runs.length - 1] = { ...prev, size: prev.size + PAGE_SIZE };
      else runs.push({ address: asVa(region.base + BigInt(p * PAGE_SIZE)), size: PAGE_SIZE, protection: prot });
    }
    return ok(runs);
  }

  /**
   * First fit for `size` bytes at 64K granularity such that the whole allocation and the
   * whole of `near` stay within rel32 reach of each other: upward from the end of `near`
   * first, then downward from its start.
   */
  findFree(near: VaRange, size: number): Result<Va> {
    const g = BigInt(ALLOCATION_GRANULARITY);
    const rounded = alignUp(BigInt(Math.max(size, 1)), BigInt(PAGE_SIZE));
    const nearEnd = near.start + BigInt(near.size);
    const fits = (a: bigint): boolean => {
      const lo = a < near.start ? a : near.start;
      const hi = a + rounded > nearEnd ? a + rounded : nearEnd;
      return hi - lo <= REL32_REACH && a >= USER_MIN && a + rounded <= USER_MAX;
    };
    // Upward: jump past each region that is in the way.
    for (let a = alignUp(nearEnd, g); fits(a); ) {
      const clash = this.regions.find((r) => a < r.base + BigInt(r.size) && r.base < a + rounded);
      if (clash === undefined) return ok(asVa(a));
      a = alignUp(clash.base + BigInt(clash.size), g);
    }
    // Downward: the highest aligned start whose end is at or below the start of `near`.
    for (let a = alignDown(near.start - rounded, g); a >= 0n && fits(a); ) {
      const clash = this.regions.find((r) => a < r.base + BigInt(r.size) && r.base < a + rounded);
      if (clash === undefined) return ok(asVa(a));
      a = alignDown(clash.base - rounded, g);
    }
    return err('PLAN_NO_REGION', `no free ${hex(rounded)}-byte range within ±2 GB of ${hex(near.start)}..${hex(nearEnd)}`);
  }

  /** A deep copy, for tests that compare before and after. */
  snapshot(): { base: Va; kind: Region['kind']; bytes: Uint8Array; protection: Uint8Array }[] {
    return this.regions.map((r) => ({ base: r.base, kind: r.kind, bytes: r.bytes.slice(), protection: r.protection.slice() }));
  }
}
