/**
 * The GCC language-specific data area (LSDA) that mingw-w64 g++ stores as the handler data
 * of UNWIND_INFO (after the __gxx_personality_seh0 handler RVA). Emission carries it with
 * the function: its call-site table is relative to the function start (so it moves with the
 * code), and its type table entries are pc-relative (so they become fixups).
 *
 * Only the encodings the two mingw-w64 compilers emit for x86-64 PE are accepted (LPStart
 * omitted, uleb128 call sites, type table absent, or entries that are 4-byte pc-relative,
 * optionally indirect (gcc: 0x9b, through a DW.ref cell), or 8-byte absolute addresses
 * (clang: 0x00, DW_EH_PE_absptr, fixed by a base relocation)); anything else is null, and
 * the caller refuses the function with a reason.
 */

/** A parsed LSDA: its extent and the fields that point outside it. */
export interface GccLsda {
  /** Length in bytes from the start of the handler data. */
  readonly length: number;
  /** The type table entries that name a type, with their offsets (from the start) and target RVAs. */
  readonly typeRefs: readonly LsdaTypeRef[];
}

/**
 * One type table entry: `pcrel` holds a 4-byte offset from its own address (gcc, 0x1b or
 * 0x9b), `abs64` an 8-byte address (clang, 0x00); carried as a rel32 or abs64 fixup.
 */
export interface LsdaTypeRef {
  readonly offset: number;
  readonly target: number;
  readonly indirect: boolean;
  readonly kind: 'pcrel' | 'abs64';
  /** Bytes of the entry: 4 (pcrel) or 8 (abs64). */
  readonly size: 4 | 8;
}

const DW_EH_PE_omit = 0xff;
const DW_EH_PE_uleb128 = 0x01;
const DW_EH_PE_absptr = 0x00;

/**
 * Parses the LSDA at `rva` of `image` (mapped at its preferred `imageBase`) for a function
 * `fnLength` bytes long. Landing pads and call sites must lie inside the function; absolute
 * type entries must point inside the image.
 */
export function parseGccLsda(image: Uint8Array, rva: number, fnLength: number, imageBase: bigint): GccLsda | null {
  let p = rva;
  const end = image.length;
  const u8 = (): number | null => (p < end ? image[p++]! : null);
  const uleb = (): number | null => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = u8();
      if (b === null || shift > 28) return null;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return v;
    }
  };
  const sleb = (): number | null => {
    let v = 0;
    let shift = 0;
    let b: number | null;
    do {
      b = u8();
      if (b === null || shift > 28) return null;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while ((b & 0x80) !== 0);
    if ((b & 0x40) !== 0) v -= 2 ** shift;
    return v;
  };
  if (u8() !== DW_EH_PE_omit) return null;
  const ttEnc = u8();
  if (ttEnc === null) return null;
  let ttBase = -1;
  if (ttEnc !== DW_EH_PE_omit) {
    // pcrel | sdata4, optionally indirect (0x80): what gcc uses on x86-64 PE; absptr: clang.
    if ((ttEnc & 0x7f) !== 0x1b && ttEnc !== DW_EH_PE_absptr) return null;
    const off = uleb();
    if (off === null) return null;
    ttBase = p + off;
  }
  if (u8() !== DW_EH_PE_uleb128) return null;
  const csLen = uleb();
  if (csLen === null) return null;
  const csEnd = p + csLen;
  let maxAction = 0;
  while (p < csEnd) {
    const start = uleb();
    const len = uleb();
    const lp = uleb();
    const action = uleb();
    if (start === null || len === null || lp === null || action === null) return null;
    if (start + len > fnLength || lp > fnLength) return null;
    if (action > 0) maxAction = Math.max(maxAction, action);
  }
  if (p !== csEnd) return null;
  const actStart = p;
  // Walk every action chain to find the table's extent and the largest type filter.
  let actEnd = actStart;
  let maxFilter = 0;
  const seen = new Set<number>();
  const walk = (first: number): boolean => {
    let at = actStart + first - 1;
    for (let guard = 0; guard < 1024; guard++) {
      if (seen.has(at)) return true;
      seen.add(at);
      p = at;
      const filter = sleb();
      const dispAt = p;
      const disp = sleb();
      if (filter === null || disp === null) return false;
      actEnd = Math.max(actEnd, p);
      if (filter > 0) maxFilter = Math.max(maxFilter, filter);
      if (filter < 0) return false; // exception specifications: not produced for this code, refuse
      if (disp === 0) return true;
      at = dispAt + disp;
      if (at < actStart) return false;
    }
    return false;
  };
  // Every call-site action is a 1-based offset into the action table.
  p = rva;
  u8();
  u8();
  if (ttEnc !== DW_EH_PE_omit) uleb();
  u8();
  uleb();
  const actions: number[] = [];
  while (p < csEnd) {
    uleb();
    uleb();
    uleb();
    const a = uleb()!;
    if (a > 0) actions.push(a);
  }
  for (const a of actions) if (!walk(a)) return null;
  if (maxAction > 0 && actEnd <= actStart) return null;
  const typeRefs: LsdaTypeRef[] = [];
  let length = actEnd - rva;
  if (ttBase >= 0) {
    const size = ttEnc === DW_EH_PE_absptr ? 8 : 4;
    if (ttBase - size * maxFilter < actEnd || ttBase > end) return null;
    const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
    for (let i = 1; i <= maxFilter; i++) {
      const at = ttBase - size * i;
      // A zero entry is a catch(...) filter: no type.
      if (size === 4) {
        const v = dv.getInt32(at, true);
        if (v !== 0) typeRefs.push({ offset: at - rva, target: at + v, indirect: (ttEnc & 0x80) !== 0, kind: 'pcrel', size });
        continue;
      }
      const va = dv.getBigUint64(at, true);
      if (va === 0n) continue;
      if (va < imageBase || va - imageBase >= BigInt(end)) return null;
      typeRefs.push({ offset: at - rva, target: Number(va - imageBase), indirect: false, kind: 'abs64', size });
    }
    length = ttBase - rva;
  }
  return { length, typeRefs };
}
