/**
 * The process image model: one PE module loaded into a simulated process the way the
 * Windows loader loads it, and the place tests and benchmarks apply packages by default.
 *
 * - The mapped bytes (headers and sections at their RVAs, zero-filled tails, base
 *   relocations applied for the chosen base) come from the wasm core's `mapImage`.
 * - Imports are bound: no real DLL is loaded, so every imported (dll, symbol) gets a
 *   deterministic stub address in a stub region near the image (sorted by dll, then name),
 *   and its IAT slot holds that address. New imports resolved later get the next stubs.
 * - Page protections follow the section characteristics as the loader sets them (headers
 *   read-only, code execute-read, read-only data read-only, writable data copy-on-write);
 *   a page no section covers is no-access. `loader-vs-wine.test.ts` compares them, page by
 *   page, with a module Wine loaded.
 * - Simulated threads: a list of instruction pointers the caller sets, which the thread
 *   rule (suspend-threads) looks at.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import {
  IMAGE_SCN_MEM_EXECUTE,
  IMAGE_SCN_MEM_READ,
  IMAGE_SCN_MEM_WRITE,
  type PeFile,
} from '../pe/types.ts';
import {
  ALLOCATION_GRANULARITY,
  PAGE_EXECUTE,
  PAGE_EXECUTE_READ,
  PAGE_EXECUTE_READWRITE,
  PAGE_EXECUTE_WRITECOPY,
  PAGE_NOACCESS,
  PAGE_READONLY,
  PAGE_SIZE,
  PAGE_WRITECOPY,
} from '../plan/write-plan.ts';
import { AddressSpace, type Region } from './address-space.ts';

/** Bytes per import stub; stubs are `int3` filled, so a call into one traps loudly. */
export const STUB_SIZE = 16;
/** Stub slots reserved beyond the image's own imports, for new imports resolved at apply time. */
export const SPARE_STUBS = 1024;

/** A registered function table (RtlAddFunctionTable), as the in-memory process records it. */
export interface FunctionTable {
  readonly table: Va;
  readonly entryCount: number;
  readonly base: Va;
}

/** One module loaded into a simulated process (see the module comment). */
export interface ProcessImage {
  readonly space: AddressSpace;
  readonly pe: PeFile;
  readonly base: Va;
  readonly sizeOfImage: number;
  readonly name: string | null;
  readonly stubRegion: Va;
  /** `dll!name` (dll lower-cased; `dll!#ordinal` by ordinal) to stub address. */
  readonly stubs: Map<string, Va>;
  /** Registered function tables, in registration order. */
  readonly functionTables: FunctionTable[];
  /** Simulated threads' instruction pointers (the caller sets them; the thread rule reads them). */
  threadIps: () => readonly Va[];
}

/** The stub key of an import: `dll!name` or `dll!#ordinal`, dll lower-cased (Windows DLL names are case-insensitive). */
export function stubKey(dll: string, name: string | null, ordinal: number | null): string {
  return `${dll.toLowerCase()}!${name ?? `#${ordinal ?? 0}`}`;
}

/** The page protection the loader gives a section with these characteristics. */
export function sectionProtection(characteristics: number): number {
  const x = (characteristics & IMAGE_SCN_MEM_EXECUTE) !== 0;
  const r = (characteristics & IMAGE_SCN_MEM_READ) !== 0;
  const w = (characteristics & IMAGE_SCN_MEM_WRITE) !== 0;
  // Writable image sections are mapped copy-on-write, as Windows (and Wine) report them
  // until the first write turns a page into a private read-write one.
  if (x) return w ? PAGE_EXECUTE_WRITECOPY : r ? PAGE_EXECUTE_READ : PAGE_EXECUTE;
  if (w) return PAGE_WRITECOPY;
  return r ? PAGE_READONLY : PAGE_NOACCESS;
}

/**
 * Builds the process image from a parsed PE and its mapped bytes (`mapImage(bytes, base)`,
 * SizeOfImage long, relocated for `base`). `stubAt` fixes the stub region's address
 * (64K aligned, free); by default it is the first fit near the image.
 */
export function createProcessImage(pe: PeFile, mapped: Uint8Array, base: Va, name: string | null = null, stubAt: Va | null = null): Result<ProcessImage> {
  const sizeOfImage = pe.optionalHeader.sizeOfImage;
  if (mapped.length !== sizeOfImage) return err('PLAN_IMAGE', `mapped image is ${mapped.length} bytes, SizeOfImage is ${sizeOfImage}`);
  if (base % BigInt(ALLOCATION_GRANULARITY) !== 0n) return err('PLAN_IMAGE', `image base ${hex(base)} is not 64K aligned`);
  const space = new AddressSpace();
  const placed = space.allocate(base, sizeOfImage, PAGE_NOACCESS, 'image');
  if (!placed.ok) return placed;
  const image = placed.value;
  image.bytes.set(mapped);

  // Protections: the headers, then each section over its page-rounded virtual size.
  const sectionAlignment = pe.optionalHeader.sectionAlignment;
  if (sectionAlignment < PAGE_SIZE) {
    // Images aligned below a page are mapped as one executable, writable view by Windows.
    image.protection.fill(PAGE_EXECUTE_READWRITE);
  } else {
    setRange(image, 0, Math.max(pe.optionalHeader.sizeOfHeaders, 1), PAGE_READONLY);
    for (const s of pe.sections) {
      const size = Math.max(s.virtualSize, s.sizeOfRawData === 0 ? 0 : Math.min(s.sizeOfRawData, sizeOfImage));
      if (size === 0) continue;
      setRange(image, s.virtualAddress, size, sectionProtection(s.characteristics));
    }
  }

  // Import binding: every (dll, symbol) the image imports gets a stub.
  const keys = new Set<string>();
  for (const d of pe.imports) for (const s of d.symbols) keys.add(stubKey(d.dll, s.name, s.ordinal));
  const sorted = [...keys].sort();
  const stubBytes = (sorted.length + SPARE_STUBS) * STUB_SIZE;
  // Default: first fit near the image. A caller replaying another process's plan puts the
  // stubs where that plan does not allocate.
  const at = stubAt === null ? space.findFree({ start: base, size: sizeOfImage }, stubBytes) : ok(stubAt);
  if (!at.ok) return at;
  const stubRegion = space.allocate(at.value, stubBytes, PAGE_EXECUTE_READ, 'stubs');
  if (!stubRegion.ok) return stubRegion;
  stubRegion.value.bytes.fill(0xcc);
  const stubs = new Map<string, Va>();
  sorted.forEach((k, i) => stubs.set(k, asVa(at.value + BigInt(i * STUB_SIZE))));
  const view = new DataView(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength);
  for (const d of pe.imports) {
    for (const s of d.symbols) {
      const va = stubs.get(stubKey(d.dll, s.name, s.ordinal));
      if (va === undefined) continue;
      if (s.iatRva + 8 > sizeOfImage) return err('PLAN_IMAGE', `IAT slot of ${d.dll}!${s.name ?? s.ordinal} at ${hex(s.iatRva)} is outside the image`, s.iatRva);
      view.setBigUint64(s.iatRva, va, true);
    }
  }

  return ok({
    space,
    pe,
    base,
    sizeOfImage,
    name,
    stubRegion: at.value,
    stubs,
    functionTables: [],
    threadIps: () => [],
  });
}

function setRange(r: Region, rva: number, size: number, protection: number): void {
  const p0 = Math.floor(rva / PAGE_SIZE);
  const p1 = Math.min(Math.ceil((rva + size) / PAGE_SIZE), r.protection.length);
  for (let p = p0; p < p1; p++) r.protection[p] = protection;
}

/**
 * The stub address of `dll!symbol`, assigning the next free stub when the image does not
 * import it yet (an in-memory process "loads" any DLL). PLAN_IMPORT when the stubs run out.
 */
export function stubFor(img: ProcessImage, dll: string, name: string | null, ordinal: number | null): Result<Va> {
  const key = stubKey(dll, name, ordinal);
  const known = img.stubs.get(key);
  if (known !== undefined) return ok(known);
  const region = img.space.regionAt(img.stubRegion);
  const next = img.stubs.size;
  if (region === undefined || (next + 1) * STUB_SIZE > region.size) return err('PLAN_IMPORT', `no stub left for ${dll}!${name ?? `#${ordinal}`}`);
  const va = asVa(img.stubRegion + BigInt(next * STUB_SIZE));
  img.stubs.set(key, va);
  return ok(va);
}

/** The import a stub address stands for (`dll!name`), for the verifier and reports. */
export function importAtStub(img: ProcessImage, va: Va): string | undefined {
  for (const [k, v] of img.stubs) if (v === va) return k;
  return undefined;
}
