/**
 * The GCC language-specific data area (LSDA) that mingw-w64 g++ stores as the handler data
 * of UNWIND_INFO (after the __gxx_personality_seh0 handler RVA). Emission carries it with
 * the function: its call-site table is relative to the function start (so it moves with the
 * code), and its type table entries are pc-relative (so they become fixups).
 *
 * Only the encodings gcc emits for x86-64 PE are accepted (LPStart omitted, uleb128 call
 * sites, type table absent or 4-byte pc-relative entries); anything else is null, and the
 * caller refuses the function with a reason.
 */

/** A parsed LSDA: its extent and the fields that point outside it. */
export interface GccLsda {
  /** Length in bytes from the start of the handler data. */
  readonly length: number;
  /** Offsets (from the start) of 4-byte pc-relative type table entries, with their target RVAs. */
  readonly typeRefs: ReadonlyArray<{ readonly offset: number; readonly target: number; readonly indirect: boolean }>;
}

const DW_EH_PE_omit = 0xff;
const DW_EH_PE_uleb128 = 0x01;

/**
 * Parses the LSDA at `rva` of `image` for a function `fnLength` bytes long. Landing pads and
 * call sites must lie inside the function.
 */
export function parseGccLsda(image: Uint8Array, rva: number, fnLength: number): GccLsda | null {
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
    // pcrel | sdata4, optionally indirect (0x80): what gcc uses on x86-64 PE.
    if ((ttEnc & 0x7f) !== 0x1b) return null;
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
  const typeRefs: Array<{ offset: number; target: number; indirect: boolean }> = [];
  let length = actEnd - rva;
  if (ttBase >= 0) {
    if (ttBase - 4 * maxFilter < actEnd || ttBase > end) return null;
    for (let i = 1; i <= maxFilter; i++) {
      const at = ttBase - 4 * i;
      const v = image[at]! | (image[at + 1]! << 8) | (image[at + 2]! << 16) | (image[at + 3]! << 24);
      // A zero entry is a catch(...) filter: no type.
      if (v !== 0) typeRefs.push({ offset: at - rva, target: at + v, indirect: (ttEnc & 0x80) !== 0 });
    }
    length = ttBase - rva;
  }
  return { length, typeRefs };
}
