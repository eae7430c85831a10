/**
 * The write plan: the exact, fully checked list of primitive operations that applying one
 * package to one process image implies. Everything that needs judgement (identity, original
 * bytes, layout, fixups, thread rule parameters) is decided by the planner before the first
 * step; a backend only executes steps, in order, and reports what it observed.
 *
 * A plan is plain data. In TypeScript addresses are `Va` (bigint) and bytes are
 * `Uint8Array`; at a process boundary (the win32 agent, a JSON file) use
 * `writePlanToJson` / `writePlanFromJson`, where every address is a `0x` hex string and every
 * byte string is lower-case hex without a prefix.
 *
 * Primitive steps (`WriteStep.op`), each with its Win32 equivalent:
 *
 * | op                  | Win32                                   | undo (see `undoOf`)                         |
 * | ------------------- | --------------------------------------- | ------------------------------------------- |
 * | `allocate`          | VirtualAllocEx(address, size, MEM_RESERVE\|MEM_COMMIT, protection) at exactly `address` (the planner found it free, within ±2 GB of the image, 64K aligned) | `free` |
 * | `write`             | WriteProcessMemory; every page must already be writable (no implicit protection change) | `write` of the bytes that were there |
 * | `protect`           | VirtualProtectEx(address, size, protection) | `protect` back to the old protection the backend observed (per page run) |
 * | `flush`             | FlushInstructionCache(address, size)    | none |
 * | `register-unwind`   | RtlAddFunctionTable(table, entryCount, base) in the target | `deregister-unwind` |
 * | `deregister-unwind` | RtlDeleteFunctionTable(table)           | `register-unwind` with the same arguments |
 * | `suspend-threads`   | suspend every thread but the caller's, read each thread's Rip; when any Rip lies in `avoid` (or, format 2.4, any Rip or stack word in `quiescent`), resume all, wait `retryDelayMs`, try again, at most `attempts` times, then fail (the Detours rule; quiescent ranges: the activeness check) | `resume-threads` |
 * | `redirect`          | compare the bytes at `address` with `expected` (fail when they differ), then write `bytes` (one aligned store where possible); threads are suspended | `redirect` with `expected` and `bytes` swapped |
 * | `resume-threads`    | resume the threads `suspend-threads` suspended | none (a rollback resumes anyway) |
 * | `free`              | VirtualFreeEx(address, 0, MEM_RELEASE) of a region this tool allocated; the backend reads its bytes and protections first, and releases it only while no thread runs in it (the win32 agent at commit: no RIP, register or stack word inside; else kept allocated, a leak instead of a crash) | `allocate` + `write` + `protect` of what was there |
 *
 * Order the planner emits for an apply (the transaction commits with the last `redirect`):
 * allocate (PAGE_READWRITE) → write the region's code, then its data (read-only data, import
 * slots, the RUNTIME_FUNCTION table and unwind info) → protect code pages PAGE_EXECUTE_READ
 * and data pages PAGE_READONLY → flush the code → register-unwind → protect redirect sites
 * PAGE_EXECUTE_READWRITE →
 * suspend-threads → redirect... → flush sites → resume-threads → protect sites back →
 * (superseding a series: deregister-unwind + free the previous patch's region).
 * Threads are suspended only around the redirect stores, so the pause is those stores alone.
 *
 * Stability: this type is consumed by runtime/backends/win32-agent*. Add optional fields or
 * new ops with a `version` bump; never change the meaning of an existing field.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';

/** Win32 page protection constants (winnt.h), used as-is in plans so the agent passes them through. */
export const PAGE_NOACCESS = 0x01;
/** PAGE_READONLY. */
export const PAGE_READONLY = 0x02;
/** PAGE_READWRITE. */
export const PAGE_READWRITE = 0x04;
/** PAGE_WRITECOPY (how the loader maps writable image sections). */
export const PAGE_WRITECOPY = 0x08;
/** PAGE_EXECUTE. */
export const PAGE_EXECUTE = 0x10;
/** PAGE_EXECUTE_READ. */
export const PAGE_EXECUTE_READ = 0x20;
/** PAGE_EXECUTE_READWRITE. */
export const PAGE_EXECUTE_READWRITE = 0x40;
/** PAGE_EXECUTE_WRITECOPY. */
export const PAGE_EXECUTE_WRITECOPY = 0x80;

/** Page size and allocation granularity of x64 Windows. */
export const PAGE_SIZE = 0x1000;
/** VirtualAlloc's allocation granularity: region bases are multiples of 64K. */
export const ALLOCATION_GRANULARITY = 0x1_0000;
/** A rel32 reaches ±2 GB; the patch region must lie within this distance of every site it serves. */
export const REL32_REACH = 0x7fff_ffffn;

/** The format version of `WritePlan`. */
export const WRITE_PLAN_VERSION = 1;

/**
 * A quiescent range (format 2.4) in the process, with the old function whose body it is, or
 * SUPERSEDED_CODE for the region of a superseded package (plan-steps.ts applySteps).
 */
export interface QuiescentRange {
  readonly start: Va;
  readonly size: number;
  readonly name: string;
}

/** The name of a quiescent range that is a superseded package's region. */
export const SUPERSEDED_CODE = 'the superseded package';

/** Whose code a quiescent range is, for messages: `old run`, or the superseded package's code. */
export const quiescentOwner = (name: string): string => (name === SUPERSEDED_CODE ? `the code of ${SUPERSEDED_CODE}` : `old ${name}`);

/** An address range `[start, start + size)`. */
export interface VaRange {
  readonly start: Va;
  readonly size: number;
}

/** One primitive step; see the table in the module comment for each op's meaning and undo. */
export type WriteStep =
  | { readonly op: 'allocate'; readonly address: Va; readonly size: number; readonly protection: number }
  | { readonly op: 'write'; readonly address: Va; readonly bytes: Uint8Array }
  | { readonly op: 'protect'; readonly address: Va; readonly size: number; readonly protection: number }
  | { readonly op: 'flush'; readonly address: Va; readonly size: number }
  | { readonly op: 'register-unwind'; readonly table: Va; readonly entryCount: number; readonly base: Va }
  | { readonly op: 'deregister-unwind'; readonly table: Va; readonly entryCount: number; readonly base: Va }
  | {
      readonly op: 'suspend-threads';
      /** No thread's instruction pointer may lie in these ranges (the bytes the span replaces; a region is freed only where no thread runs, by the backend). */
      readonly avoid: readonly VaRange[];
      /**
       * Since format 2.4: no thread's instruction pointer, nor any word on its stack (a return
       * address), may lie in these OLD ranges (the old bodies of callers that call a changed
       * callee the old way); `name` says whose body. Absent: none.
       */
      readonly quiescent?: readonly QuiescentRange[];
      /** How many times to suspend and look before refusing (>= 1). */
      readonly attempts: number;
      /** Wait between attempts, with the threads running. */
      readonly retryDelayMs: number;
    }
  | { readonly op: 'redirect'; readonly address: Va; readonly expected: Uint8Array; readonly bytes: Uint8Array }
  | { readonly op: 'resume-threads' }
  | { readonly op: 'free'; readonly address: Va; readonly size: number };

/** One byte range a redirect writes: the entry jump, or (short-to-pad) the long jump in the padding. */
export interface RedirectWrite {
  readonly address: Va;
  /** Bytes there just before this plan (the baseline's, or a superseded patch's jump). */
  readonly expected: Uint8Array;
  /** Bytes this plan puts there. */
  readonly bytes: Uint8Array;
  /** The baseline bytes there (what revert restores). */
  readonly original: Uint8Array;
}

/** One function the plan redirects, for reports (times, sizes), for revert and for series. */
export interface PlannedRedirect {
  /** Function name from the package, or null. */
  readonly name: string | null;
  /** The old function's entry. */
  readonly functionVa: Va;
  /** Where callers end up: the new body in the patch region. */
  readonly target: Va;
  /** As in the package: `jmp-rel32` (E9 at the entry), `jmp-abs64` (FF 25 + address), `short-to-pad` (EB at the entry to an E9 in padding). */
  readonly kind: 'jmp-rel32' | 'jmp-abs64' | 'short-to-pad';
  /** The ranges written, pad first for short-to-pad. */
  readonly writes: readonly RedirectWrite[];
}

/** A new function body the plan places (changed or added), for reports and verification. */
export interface PlannedFunction {
  readonly name: string | null;
  readonly status: 'changed' | 'added';
  /** The old function's entry, null for an added function. */
  readonly oldVa: Va | null;
  /** Where the new body starts in the patch region. */
  readonly bodyVa: Va;
  /** The new body's size in bytes. */
  readonly size: number;
}

/** The patch region a plan allocates. */
export interface PlannedRegion {
  readonly address: Va;
  readonly size: number;
  /** Code pages `[address, address + codeSize)`; the rest is read-only data and unwind info. */
  readonly codeSize: number;
}

/** The whole plan for applying one package to one image, and for reverting it. */
export interface WritePlan {
  readonly version: typeof WRITE_PLAN_VERSION;
  /** The series this plan belongs to, and its place in it. */
  readonly series: { readonly baseline: string; readonly sequence: number };
  /** The image (module) the plan was computed for. */
  readonly image: { readonly base: Va; readonly sizeOfImage: number; readonly name: string | null };
  readonly region: PlannedRegion;
  /** Unwind registration for the region, or null when the package carries no unwind data. */
  readonly unwind: { readonly table: Va; readonly entryCount: number; readonly base: Va } | null;
  readonly redirects: readonly PlannedRedirect[];
  readonly functions: readonly PlannedFunction[];
  /** When this plan supersedes an applied one: the sequence it replaces. */
  readonly supersedes: number | null;
  /** What applying does, in order. */
  readonly steps: readonly WriteStep[];
  /**
   * What reverting the applied plan does, in order: back to the baseline (not to a
   * superseded patch), the region freed.
   */
  readonly revert: readonly WriteStep[];
}

/** What a backend observed while executing a step: what `undoOf` needs to invert it. */
export interface StepObservation {
  /** `write`: the bytes that were there. */
  readonly previousBytes?: Uint8Array;
  /** `protect`: the old protection of each page run in the range (VirtualProtectEx's lpflOldProtect, per run). */
  readonly previousProtection?: readonly { readonly address: Va; readonly size: number; readonly protection: number }[];
  /** `free`: the region's contents and protections before it was freed. */
  readonly freed?: {
    readonly bytes: Uint8Array;
    readonly protection: readonly { readonly address: Va; readonly size: number; readonly protection: number }[];
  };
  /** `suspend-threads`: the instruction pointers seen on the attempt that succeeded. */
  readonly threadIps?: readonly Va[];
}

/**
 * The steps that undo `step`, given what the backend observed while executing it, in the
 * order to execute them. Undo a partly executed plan step by step in reverse step order.
 * Returns an empty list for steps with nothing to undo.
 */
export function undoOf(step: WriteStep, seen: StepObservation): WriteStep[] {
  switch (step.op) {
    case 'allocate':
      return [{ op: 'free', address: step.address, size: step.size }];
    case 'write':
      return seen.previousBytes === undefined ? [] : [{ op: 'write', address: step.address, bytes: seen.previousBytes }];
    case 'protect':
      return (seen.previousProtection ?? []).map((p) => ({ op: 'protect', address: p.address, size: p.size, protection: p.protection }));
    case 'flush':
    case 'resume-threads':
      return [];
    case 'register-unwind':
      return [{ op: 'deregister-unwind', table: step.table, entryCount: step.entryCount, base: step.base }];
    case 'deregister-unwind':
      return [{ op: 'register-unwind', table: step.table, entryCount: step.entryCount, base: step.base }];
    case 'suspend-threads':
      return [{ op: 'resume-threads' }];
    case 'redirect':
      return [{ op: 'redirect', address: step.address, expected: step.bytes, bytes: step.expected }];
    case 'free': {
      const f = seen.freed;
      if (f === undefined) return [];
      return [
        { op: 'allocate', address: step.address, size: step.size, protection: PAGE_READWRITE },
        { op: 'write', address: step.address, bytes: f.bytes },
        ...f.protection.map((p): WriteStep => ({ op: 'protect', address: p.address, size: p.size, protection: p.protection })),
      ];
    }
  }
}

// ---- JSON boundary -------------------------------------------------------------------------

/** `WriteStep` with addresses as `0x` hex strings and bytes as hex: what crosses a process boundary. */
export type WriteStepJson =
  | { op: 'allocate'; address: string; size: number; protection: number }
  | { op: 'write'; address: string; bytes: string }
  | { op: 'protect'; address: string; size: number; protection: number }
  | { op: 'flush'; address: string; size: number }
  | { op: 'register-unwind'; table: string; entryCount: number; base: string }
  | { op: 'deregister-unwind'; table: string; entryCount: number; base: string }
  | { op: 'suspend-threads'; avoid: { start: string; size: number }[]; attempts: number; retryDelayMs: number; quiescent?: { start: string; size: number; name: string }[] }
  | { op: 'redirect'; address: string; expected: string; bytes: string }
  | { op: 'resume-threads' }
  | { op: 'free'; address: string; size: number };

/** Lower-case hex of `bytes`, no prefix. */
export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Inverse of bytesToHex; null when `s` is not an even-length hex string. */
export function hexToBytes(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A step as JSON-ready plain data. */
export function writeStepToJson(s: WriteStep): WriteStepJson {
  switch (s.op) {
    case 'allocate':
    case 'protect':
      return { op: s.op, address: hex(s.address), size: s.size, protection: s.protection };
    case 'write':
      return { op: 'write', address: hex(s.address), bytes: bytesToHex(s.bytes) };
    case 'flush':
    case 'free':
      return { op: s.op, address: hex(s.address), size: s.size };
    case 'register-unwind':
    case 'deregister-unwind':
      return { op: s.op, table: hex(s.table), entryCount: s.entryCount, base: hex(s.base) };
    case 'suspend-threads':
      return {
        op: s.op,
        avoid: s.avoid.map((r) => ({ start: hex(r.start), size: r.size })),
        attempts: s.attempts,
        retryDelayMs: s.retryDelayMs,
        ...(s.quiescent === undefined || s.quiescent.length === 0 ? {} : { quiescent: s.quiescent.map((r) => ({ start: hex(r.start), size: r.size, name: r.name })) }),
      };
    case 'redirect':
      return { op: 'redirect', address: hex(s.address), expected: bytesToHex(s.expected), bytes: bytesToHex(s.bytes) };
    case 'resume-threads':
      return { op: 'resume-threads' };
  }
}

function parseVa(v: unknown, what: string): Result<Va> {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{1,16}$/.test(v)) return err('PLAN_BAD_JSON', `${what}: expected a 0x hex address, got ${JSON.stringify(v)}`);
  return ok(asVa(BigInt(v)));
}

function parseSize(v: unknown, what: string): Result<number> {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return err('PLAN_BAD_JSON', `${what}: expected a non-negative integer`);
  return ok(v);
}

function parseBytes(v: unknown, what: string): Result<Uint8Array> {
  const b = typeof v === 'string' ? hexToBytes(v) : null;
  return b === null ? err('PLAN_BAD_JSON', `${what}: expected hex bytes`) : ok(b);
}

/** Parses one JSON step back into a `WriteStep`; a malformed step is a PLAN_BAD_JSON error. */
export function writeStepFromJson(j: unknown): Result<WriteStep> {
  if (typeof j !== 'object' || j === null) return err('PLAN_BAD_JSON', 'step: expected an object');
  const o = j as Record<string, unknown>;
  const op = o['op'];
  const at = `step ${String(op)}`;
  switch (op) {
    case 'allocate':
    case 'protect': {
      const a = parseVa(o['address'], at);
      const s = parseSize(o['size'], at);
      const p = parseSize(o['protection'], at);
      if (!a.ok) return a;
      if (!s.ok) return s;
      if (!p.ok) return p;
      return ok({ op, address: a.value, size: s.value, protection: p.value });
    }
    case 'write': {
      const a = parseVa(o['address'], at);
      const b = parseBytes(o['bytes'], at);
      if (!a.ok) return a;
      if (!b.ok) return b;
      return ok({ op, address: a.value, bytes: b.value });
    }
    case 'flush':
    case 'free': {
      const a = parseVa(o['address'], at);
      const s = parseSize(o['size'], at);
      if (!a.ok) return a;
      if (!s.ok) return s;
      return ok({ op, address: a.value, size: s.value });
    }
    case 'register-unwind':
    case 'deregister-unwind': {
      const t = parseVa(o['table'], at);
      const n = parseSize(o['entryCount'], at);
      const b = parseVa(o['base'], at);
      if (!t.ok) return t;
      if (!n.ok) return n;
      if (!b.ok) return b;
      return ok({ op, table: t.value, entryCount: n.value, base: b.value });
    }
    case 'suspend-threads': {
      const avoidJ = o['avoid'];
      if (!Array.isArray(avoidJ)) return err('PLAN_BAD_JSON', `${at}: avoid must be an array`);
      const avoid: VaRange[] = [];
      for (const r of avoidJ as unknown[]) {
        const rr = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
        const s = parseVa(rr['start'], at);
        const n = parseSize(rr['size'], at);
        if (!s.ok) return s;
        if (!n.ok) return n;
        avoid.push({ start: s.value, size: n.value });
      }
      const attempts = parseSize(o['attempts'], at);
      const delay = parseSize(o['retryDelayMs'], at);
      if (!attempts.ok) return attempts;
      if (!delay.ok) return delay;
      const quiescent: QuiescentRange[] = [];
      const qJ = o['quiescent'];
      if (qJ !== undefined && !Array.isArray(qJ)) return err('PLAN_BAD_JSON', `${at}: quiescent must be an array`);
      for (const r of (qJ ?? []) as unknown[]) {
        const rr = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
        const s = parseVa(rr['start'], at);
        const n = parseSize(rr['size'], at);
        if (!s.ok) return s;
        if (!n.ok) return n;
        if (typeof rr['name'] !== 'string') return err('PLAN_BAD_JSON', `${at}: a quiescent range needs a name`);
        quiescent.push({ start: s.value, size: n.value, name: rr['name'] });
      }
      return ok({ op, avoid, attempts: attempts.value, retryDelayMs: delay.value, ...(quiescent.length === 0 ? {} : { quiescent }) });
    }
    case 'redirect': {
      const a = parseVa(o['address'], at);
      const e = parseBytes(o['expected'], at);
      const b = parseBytes(o['bytes'], at);
      if (!a.ok) return a;
      if (!e.ok) return e;
      if (!b.ok) return b;
      if (e.value.length !== b.value.length) return err('PLAN_BAD_JSON', `${at}: expected and bytes differ in length`);
      return ok({ op, address: a.value, expected: e.value, bytes: b.value });
    }
    case 'resume-threads':
      return ok({ op });
    default:
      return err('PLAN_BAD_JSON', `unknown step op ${JSON.stringify(op)}`);
  }
}

/** The whole plan as JSON-ready plain data (addresses and bytes as hex strings). */
export function writePlanToJson(plan: WritePlan): unknown {
  return {
    version: plan.version,
    series: plan.series,
    image: { base: hex(plan.image.base), sizeOfImage: plan.image.sizeOfImage, name: plan.image.name },
    region: { address: hex(plan.region.address), size: plan.region.size, codeSize: plan.region.codeSize },
    unwind: plan.unwind === null ? null : { table: hex(plan.unwind.table), entryCount: plan.unwind.entryCount, base: hex(plan.unwind.base) },
    redirects: plan.redirects.map((r) => ({
      name: r.name,
      functionVa: hex(r.functionVa),
      target: hex(r.target),
      kind: r.kind,
      writes: r.writes.map((w) => ({ address: hex(w.address), expected: bytesToHex(w.expected), bytes: bytesToHex(w.bytes), original: bytesToHex(w.original) })),
    })),
    functions: plan.functions.map((f) => ({ name: f.name, status: f.status, oldVa: f.oldVa === null ? null : hex(f.oldVa), bodyVa: hex(f.bodyVa), size: f.size })),
    supersedes: plan.supersedes,
    steps: plan.steps.map(writeStepToJson),
    revert: plan.revert.map(writeStepToJson),
  };
}

/** Parses `writePlanToJson` output back; PLAN_BAD_JSON names the first malformed field. */
export function writePlanFromJson(j: unknown): Result<WritePlan> {
  if (typeof j !== 'object' || j === null) return err('PLAN_BAD_JSON', 'plan: expected an object');
  const o = j as Record<string, unknown>;
  if (o['version'] !== WRITE_PLAN_VERSION) return err('PLAN_BAD_JSON', `plan version ${String(o['version'])} is not ${WRITE_PLAN_VERSION}`);
  const series = o['series'] as { baseline?: unknown; sequence?: unknown } | undefined;
  if (typeof series?.baseline !== 'string' || typeof series.sequence !== 'number') return err('PLAN_BAD_JSON', 'plan.series: expected {baseline, sequence}');
  const img = (o['image'] ?? {}) as Record<string, unknown>;
  const base = parseVa(img['base'], 'plan.image.base');
  if (!base.ok) return base;
  const soi = parseSize(img['sizeOfImage'], 'plan.image.sizeOfImage');
  if (!soi.ok) return soi;
  const name = img['name'];
  if (name !== null && typeof name !== 'string') return err('PLAN_BAD_JSON', 'plan.image.name: expected a string or null');
  const reg = (o['region'] ?? {}) as Record<string, unknown>;
  const ra = parseVa(reg['address'], 'plan.region.address');
  const rs = parseSize(reg['size'], 'plan.region.size');
  const rc = parseSize(reg['codeSize'], 'plan.region.codeSize');
  if (!ra.ok) return ra;
  if (!rs.ok) return rs;
  if (!rc.ok) return rc;
  let unwind: WritePlan['unwind'] = null;
  if (o['unwind'] !== null) {
    const u = (o['unwind'] ?? {}) as Record<string, unknown>;
    const t = parseVa(u['table'], 'plan.unwind.table');
    const n = parseSize(u['entryCount'], 'plan.unwind.entryCount');
    const b = parseVa(u['base'], 'plan.unwind.base');
    if (!t.ok) return t;
    if (!n.ok) return n;
    if (!b.ok) return b;
    unwind = { table: t.value, entryCount: n.value, base: b.value };
  }
  const redirects: PlannedRedirect[] = [];
  for (const rj of (Array.isArray(o['redirects']) ? o['redirects'] : []) as Record<string, unknown>[]) {
    const fv = parseVa(rj['functionVa'], 'redirect.functionVa');
    const target = parseVa(rj['target'], 'redirect.target');
    if (!fv.ok) return fv;
    if (!target.ok) return target;
    const kind = rj['kind'];
    if (kind !== 'jmp-rel32' && kind !== 'jmp-abs64' && kind !== 'short-to-pad') return err('PLAN_BAD_JSON', 'redirect.kind: expected jmp-rel32, jmp-abs64 or short-to-pad');
    const writes: RedirectWrite[] = [];
    for (const wj of (Array.isArray(rj['writes']) ? rj['writes'] : []) as Record<string, unknown>[]) {
      const a = parseVa(wj['address'], 'redirect.writes.address');
      const e = parseBytes(wj['expected'], 'redirect.writes.expected');
      const b = parseBytes(wj['bytes'], 'redirect.writes.bytes');
      const o = parseBytes(wj['original'], 'redirect.writes.original');
      if (!a.ok) return a;
      if (!e.ok) return e;
      if (!b.ok) return b;
      if (!o.ok) return o;
      writes.push({ address: a.value, expected: e.value, bytes: b.value, original: o.value });
    }
    const nm = rj['name'];
    redirects.push({ name: typeof nm === 'string' ? nm : null, functionVa: fv.value, target: target.value, kind, writes });
  }
  const functions: PlannedFunction[] = [];
  for (const fj of (Array.isArray(o['functions']) ? o['functions'] : []) as Record<string, unknown>[]) {
    const body = parseVa(fj['bodyVa'], 'function.bodyVa');
    if (!body.ok) return body;
    const size = parseSize(fj['size'], 'function.size');
    if (!size.ok) return size;
    let oldVa: Va | null = null;
    if (fj['oldVa'] !== null) {
      const ov = parseVa(fj['oldVa'], 'function.oldVa');
      if (!ov.ok) return ov;
      oldVa = ov.value;
    }
    const nm = fj['name'];
    functions.push({ name: typeof nm === 'string' ? nm : null, status: fj['status'] === 'added' ? 'added' : 'changed', oldVa, bodyVa: body.value, size: size.value });
  }
  const steps: WriteStep[] = [];
  for (const s of (Array.isArray(o['steps']) ? o['steps'] : []) as unknown[]) {
    const r = writeStepFromJson(s);
    if (!r.ok) return r;
    steps.push(r.value);
  }
  const revert: WriteStep[] = [];
  for (const s of (Array.isArray(o['revert']) ? o['revert'] : []) as unknown[]) {
    const r = writeStepFromJson(s);
    if (!r.ok) return r;
    revert.push(r.value);
  }
  const sup = o['supersedes'];
  return ok({
    version: WRITE_PLAN_VERSION,
    series: { baseline: series.baseline, sequence: series.sequence },
    image: { base: base.value, sizeOfImage: soi.value, name },
    region: { address: ra.value, size: rs.value, codeSize: rc.value },
    unwind,
    redirects,
    functions,
    supersedes: typeof sup === 'number' ? sup : null,
    steps,
    revert,
  });
}
