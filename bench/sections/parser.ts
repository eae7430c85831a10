/**
 * Bench section `parser`: PE parsing throughput (MB/s of input file), the wasm pe-parser
 * side by side with pe-library (npm) on the same files in the same run.
 *
 * What each side parses (as comparable as the libraries allow):
 * - wasm `parsePe`: DOS/NT headers, sections, all data directories, exports, imports and
 *   delay imports, base relocations, .pdata with every UNWIND_INFO (chains followed),
 *   debug/CodeView, load config with the Guard CF table, TLS, COFF symbols; the JSON
 *   transfer and the typed PeFile objects included.
 * - wasm raw: the same parse up to the JSON bytes leaving wasm (no JSON.parse, no objects),
 *   to show what the JSON boundary costs.
 * - wasm imports+exports: `parsePeParts(bytes, ['imports', 'exports'])`, the like-for-like
 *   counterpart of the pe-library side.
 * - pe-library: `NtExecutable.from` (DOS/NT headers, section table, a copy of every
 *   section's data) plus a walk of the import descriptors, thunks and hint/name entries
 *   and the export name/ordinal/function tables written here in JS over pe-library's
 *   section data (pe-library itself has no import/export parser). No relocations, .pdata,
 *   symbols or load config: it does less work than the wasm side.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Bench } from 'tinybench';
import * as PeLib from 'pe-library';
import { parsePe, parsePeParts } from '../../runtime/pe/parse-pe.ts';
import { mapImage } from '../../runtime/pe/map-image.ts';
import { rawParser } from '../../runtime/pe/wasm.ts';
import { realCorpusFiles, samplePeFiles } from '../../test/support/test-files.ts';
import { markdownTable, type BenchContext, type BenchSection, type SectionResult } from '../section.ts';
import { checkoutBaseline, PARSER_BASELINE } from '../baseline.ts';

interface Row {
  file: string;
  bytes: number;
  jsonBytes: number;
  wasmParsePeMBs: number;
  wasmRawMBs: number;
  wasmImpExpMBs: number;
  wasmImpExpMs: number;
  /** mapImage at a base other than the preferred one (relocations applied), for the image model. */
  mapImageMs: number;
  sizeOfImage: number;
  /** null when pe-library refuses the file (it rejects files with a COFF symbol table). */
  peLibraryMBs: number | null;
  wasmParsePeMs: number;
  wasmRawMs: number;
  peLibraryMs: number | null;
  peLibraryError: string | null;
  imports: number;
  exports: number;
  peLibraryImports: number | null;
  peLibraryExports: number | null;
}

/** Imports + exports read through pe-library's headers and section copies. */
function peLibraryParse(bytes: Uint8Array): { imports: number; exports: number } {
  const exe = PeLib.NtExecutable.from(bytes, { ignoreCert: true });
  const sections = exe.getAllSections();
  const is64 = !exe.is32bit();
  const view = (rva: number): { dv: DataView; off: number } | null => {
    for (const s of sections) {
      const i = s.info;
      if (s.data !== null && rva >= i.virtualAddress && rva < i.virtualAddress + Math.max(i.virtualSize, i.sizeOfRawData)) {
        const off = rva - i.virtualAddress;
        if (off >= s.data.byteLength) return null;
        return { dv: new DataView(s.data), off };
      }
    }
    return null;
  };
  const cstr = (rva: number): string | null => {
    const v = view(rva);
    if (v === null) return null;
    let s = '';
    for (let o = v.off; o < v.dv.byteLength; o++) {
      const c = v.dv.getUint8(o);
      if (c === 0) return s;
      s += String.fromCharCode(c);
    }
    return null;
  };
  const dirs = exe.newHeader.optionalHeaderDataDirectory;
  let imports = 0;
  const imp = dirs.get(PeLib.Format.ImageDirectoryEntry.Import);
  if (imp.virtualAddress !== 0) {
    for (let d = imp.virtualAddress; ; d += 20) {
      const v = view(d);
      if (v === null || v.off + 20 > v.dv.byteLength) break;
      const oft = v.dv.getUint32(v.off, true);
      const name = v.dv.getUint32(v.off + 12, true);
      const ft = v.dv.getUint32(v.off + 16, true);
      if (name === 0 && ft === 0) break;
      cstr(name);
      const step = is64 ? 8 : 4;
      for (let t = oft !== 0 ? oft : ft; ; t += step) {
        const tv = view(t);
        if (tv === null || tv.off + step > tv.dv.byteLength) break;
        const val = is64 ? tv.dv.getBigUint64(tv.off, true) : BigInt(tv.dv.getUint32(tv.off, true));
        if (val === 0n) break;
        const byOrdinal = is64 ? val >> 63n === 1n : val >> 31n === 1n;
        if (!byOrdinal) cstr(Number(val & 0x7fff_ffffn) + 2);
        imports++;
      }
    }
  }
  let exports = 0;
  const exp = dirs.get(PeLib.Format.ImageDirectoryEntry.Export);
  const ev = exp.virtualAddress === 0 ? null : view(exp.virtualAddress);
  if (ev !== null && ev.off + 40 <= ev.dv.byteLength) {
    const nfun = ev.dv.getUint32(ev.off + 20, true);
    const nnames = ev.dv.getUint32(ev.off + 24, true);
    const funcs = ev.dv.getUint32(ev.off + 28, true);
    const names = ev.dv.getUint32(ev.off + 32, true);
    const ords = ev.dv.getUint32(ev.off + 36, true);
    const named = new Set<number>();
    for (let i = 0; i < nnames; i++) {
      const nv = view(names + i * 4);
      const ov = view(ords + i * 2);
      if (nv === null || ov === null) break;
      cstr(nv.dv.getUint32(nv.off, true));
      named.add(ov.dv.getUint16(ov.off, true));
      exports++;
    }
    for (let i = 0; i < nfun; i++) {
      const fv = view(funcs + i * 4);
      if (fv === null) break;
      if (!named.has(i) && fv.dv.getUint32(fv.off, true) !== 0) exports++;
    }
  }
  return { imports, exports };
}

interface ParserApi {
  parsePe(bytes: Uint8Array): { ok: boolean };
  rawParser: { parse(bytes: Uint8Array, parts?: number): unknown };
}

interface BeforeAfter {
  readonly baseline: string;
  readonly bytes: number;
  /** MB/s, median of the rounds: [before, after]. */
  readonly parsePeMBs: readonly [number, number];
  readonly rawMBs: readonly [number, number];
  readonly wasmBytes: readonly [number, number];
}

/**
 * The parser of PARSER_BASELINE against this checkout's, in alternating rounds over the
 * same files in this process (so both see the same machine load): parsePe and the raw
 * parse up to the JSON bytes.
 */
async function parserBeforeAfter(ctx: BenchContext, files: readonly string[]): Promise<BeforeAfter | string> {
  const base = checkoutBaseline(ctx.root, PARSER_BASELINE);
  if (typeof base === 'string') return base;
  try {
    const before = (await import(join(base.root, 'runtime/pe/parse-pe.ts'))) as ParserApi;
    const beforeRaw = (await import(join(base.root, 'runtime/pe/wasm.ts'))) as { rawParser: ParserApi['rawParser'] };
    const sides: ReadonlyArray<ParserApi> = [{ parsePe: before.parsePe, rawParser: beforeRaw.rawParser }, { parsePe, rawParser }];
    const datas = files.map((f) => new Uint8Array(readFileSync(f)));
    const bytes = datas.reduce((n, d) => n + d.length, 0);
    for (const side of sides) for (const d of datas) if (!side.parsePe(d).ok) return `the ${side === sides[0] ? 'baseline' : 'current'} parser refused a corpus file`;
    const rounds = ctx.quick ? 3 : 9;
    const times = { parsePe: [[], []] as number[][], raw: [[], []] as number[][] };
    for (let r = 0; r < rounds; r++) {
      for (const [i, side] of sides.entries()) {
        let t = performance.now();
        for (const d of datas) side.parsePe(d);
        times.parsePe[i]!.push(performance.now() - t);
        t = performance.now();
        for (const d of datas) side.rawParser.parse(d, 255);
        times.raw[i]!.push(performance.now() - t);
      }
    }
    const mbs = (ts: number[]): number => {
      const m = [...ts].sort((a, b) => a - b)[Math.floor(ts.length / 2)]!;
      return Math.round((bytes / 1e6 / (m / 1000)) * 10) / 10;
    };
    const wasmSize = (root: string): number => readFileSync(join(root, 'runtime/pe-parser/pkg/pe_parser_bg.wasm')).length;
    return {
      baseline: base.commit,
      bytes,
      parsePeMBs: [mbs(times.parsePe[0]!), mbs(times.parsePe[1]!)],
      rawMBs: [mbs(times.raw[0]!), mbs(times.raw[1]!)],
      wasmBytes: [wasmSize(base.root), wasmSize(ctx.root)],
    };
  } finally {
    base.remove();
  }
}

const section: BenchSection = {
  id: 'parser',
  title: 'PE parser throughput: wasm pe-parser vs pe-library',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const corpus = realCorpusFiles();
    if (corpus.missing !== undefined) ctx.log(`parser: ${corpus.missing}`);
    // One file per distinct binary name and size class keeps the run short but covers 75 KB .. 19 MB.
    const seen = new Set<string>();
    const paths: string[] = [];
    for (const f of corpus.files) {
      const key = basename(f.path).replace(/[-.]\d.*$/, '');
      if (seen.has(key)) continue;
      seen.add(key);
      paths.push(f.path);
    }
    const sample = samplePeFiles().find((p) => !p.includes('stripped'));
    if (sample !== undefined) paths.unshift(sample);
    const files = ctx.quick ? paths.slice(0, 3) : paths;
    const rows: Row[] = [];
    for (const path of files) {
      const bytes = new Uint8Array(readFileSync(path));
      const pe = parsePe(bytes);
      if (!pe.ok) throw new Error(`${path}: ${pe.error.code}: ${pe.error.message}`);
      const raw = rawParser.parse(bytes);
      const rebase = pe.value.optionalHeader.imageBase + 0x1000_0000n;
      if (!mapImage(bytes, rebase).ok) throw new Error(`${path}: mapImage failed`);
      let lib: { imports: number; exports: number } | null = null;
      let libError: string | null = null;
      try {
        lib = peLibraryParse(bytes);
      } catch (e) {
        libError = (e as Error).message;
      }
      const bench = new Bench({ time: ctx.quick ? 150 : bytes.length > 4_000_000 ? 1500 : 600, iterations: 5, warmupTime: 100 });
      bench
        .add('wasm parsePe', () => {
          parsePe(bytes);
        })
        .add('wasm raw', () => {
          rawParser.parse(bytes);
        })
        .add('wasm imports+exports', () => {
          parsePeParts(bytes, ['imports', 'exports']);
        })
        .add('mapImage', () => {
          mapImage(bytes, rebase);
        });
      if (lib !== null) {
        bench.add('pe-library', () => {
          peLibraryParse(bytes);
        });
      }
      await bench.run();
      const ms = (name: string): number => {
        const t = bench.tasks.find((x) => x.name === name);
        const r = t?.result;
        if (r === undefined || r.state !== 'completed') throw new Error(`${name} did not complete on ${path}`);
        return r.latency.mean;
      };
      const mbs = (m: number): number => Math.round((bytes.length / 1e6 / (m / 1000)) * 10) / 10;
      const [a, b, ie, mi] = [ms('wasm parsePe'), ms('wasm raw'), ms('wasm imports+exports'), ms('mapImage')];
      const c = lib === null ? null : ms('pe-library');
      const row: Row = {
        file: path.includes('/cache/') ? path.split('/cache/')[1] ?? path : path.replace(ctx.root, ''),
        bytes: bytes.length,
        jsonBytes: raw.status === 0 ? raw.data.length : 0,
        wasmParsePeMBs: mbs(a),
        wasmRawMBs: mbs(b),
        wasmImpExpMBs: mbs(ie),
        wasmImpExpMs: Math.round(ie * 1000) / 1000,
        mapImageMs: Math.round(mi * 1000) / 1000,
        sizeOfImage: pe.value.optionalHeader.sizeOfImage,
        peLibraryMBs: c === null ? null : mbs(c),
        wasmParsePeMs: Math.round(a * 1000) / 1000,
        wasmRawMs: Math.round(b * 1000) / 1000,
        peLibraryMs: c === null ? null : Math.round(c * 1000) / 1000,
        peLibraryError: libError,
        imports: pe.value.imports.filter((d) => !d.delayed).reduce((n, d) => n + d.symbols.length, 0),
        exports: pe.value.exports?.entries.length ?? 0,
        peLibraryImports: lib?.imports ?? null,
        peLibraryExports: lib?.exports ?? null,
      };
      rows.push(row);
      ctx.log(`parser: ${row.file}: wasm ${row.wasmParsePeMBs} MB/s (raw ${row.wasmRawMBs}, imports+exports ${row.wasmImpExpMBs}), pe-library ${row.peLibraryMBs ?? libError} MB/s`);
    }
    // What the runtime ships of the parser: the wasm-pack package's runtime files.
    const pkgDir = join(ctx.root, 'runtime', 'pe-parser', 'pkg');
    const pkgFiles = readdirSync(pkgDir)
      .filter((f) => f.endsWith('.wasm') || f.endsWith('.js'))
      .sort()
      .map((f) => {
        const b = readFileSync(join(pkgDir, f));
        return { file: f, bytes: b.length, gzipBytes: gzipSync(b, { level: 9 }).length };
      });
    ctx.log('parser: before/after');
    const beforeAfter = await parserBeforeAfter(ctx, files);
    // Aggregates over the files both sides parsed.
    const both = rows.filter((r) => r.peLibraryMs !== null);
    const total = (k: 'wasmParsePeMs' | 'wasmRawMs' | 'wasmImpExpMs' | 'peLibraryMs'): number => both.reduce((n, r) => n + (r[k] ?? 0), 0);
    const totalBytes = both.reduce((n, r) => n + r.bytes, 0);
    const agg = (k: 'wasmParsePeMs' | 'wasmRawMs' | 'wasmImpExpMs' | 'peLibraryMs'): number => Math.round((totalBytes / 1e6 / (total(k) / 1000)) * 10) / 10;
    const markdown = [
      'Mean time per parse (tinybench) and throughput in MB of input file per second, same files, same process.',
      '',
      '- **wasm parsePe**: everything the parser reads (headers, sections, all directories, exports, imports + delay imports, relocations, every .pdata entry with its UNWIND_INFO, CodeView, load config + Guard CF table, TLS, COFF symbols) into typed `PeFile` objects, JSON transfer included.',
      '- **wasm raw**: the same parse, stopping at the JSON bytes out of wasm (no JSON.parse).',
      '- **mapImage (rebased)**: the SizeOfImage buffer with sections placed and every base relocation applied for a base 256 MiB above the preferred one, copied out of wasm (what the process image model starts from).',
      "- **wasm imports+exports**: `parsePeParts(bytes, ['imports', 'exports'])`: headers, sections, data directories, imports (+ delay imports) and exports only, into `PeFile` objects; the side to compare with pe-library.",
      '- **pe-library**: `NtExecutable.from` (headers, section table, section data copies) plus a JS walk of imports (descriptors, thunks, names) and exports (names, ordinals, functions) over its section data. Less work than the wasm side: no relocations, .pdata, symbols or load config.',
      '',
      markdownTable(
        ['file', 'size', 'wasm parsePe', 'wasm raw', 'wasm imports+exports', 'pe-library', 'mapImage (rebased)', 'JSON out', 'imports (wasm / pe-lib)', 'exports (wasm / pe-lib)'],
        rows.map((r) => [
          r.file,
          `${(r.bytes / 1024).toFixed(0)} KiB`,
          `${r.wasmParsePeMs.toFixed(2)} ms, ${r.wasmParsePeMBs} MB/s`,
          `${r.wasmRawMs.toFixed(2)} ms, ${r.wasmRawMBs} MB/s`,
          `${r.wasmImpExpMs.toFixed(2)} ms, ${r.wasmImpExpMBs} MB/s`,
          r.peLibraryMs === null ? `refused: ${r.peLibraryError ?? ''}` : `${r.peLibraryMs.toFixed(2)} ms, ${r.peLibraryMBs} MB/s`,
          `${r.mapImageMs.toFixed(2)} ms for ${(r.sizeOfImage / 1024).toFixed(0)} KiB`,
          `${(r.jsonBytes / 1024).toFixed(0)} KiB`,
          `${r.imports} / ${r.peLibraryImports ?? '-'}`,
          `${r.exports} / ${r.peLibraryExports ?? '-'}`,
        ]),
      ),
      '',
      `pe-parser package (runtime/pe-parser/pkg, what the runtime loads): ${pkgFiles.map((f) => `${f.file} ${f.bytes} bytes (gzip -9: ${f.gzipBytes})`).join(', ')}.`,
      '',
      typeof beforeAfter === 'string'
        ? `Before/after: not measured (${beforeAfter}).`
        : `Before/after, same files (${(beforeAfter.bytes / 1e6).toFixed(1)} MB), alternating rounds in this process, median: parser at ${beforeAfter.baseline.slice(0, 7)} (hand-written bindings) -> this checkout: parsePe ${beforeAfter.parsePeMBs[0]} -> ${beforeAfter.parsePeMBs[1]} MB/s, raw (JSON bytes out) ${beforeAfter.rawMBs[0]} -> ${beforeAfter.rawMBs[1]} MB/s, pe_parser_bg.wasm ${beforeAfter.wasmBytes[0]} -> ${beforeAfter.wasmBytes[1]} bytes.`,
      '',
      `The ${both.length} files both parsed, together (${(totalBytes / 1e6).toFixed(1)} MB): wasm parsePe ${agg('wasmParsePeMs')} MB/s, wasm raw ${agg('wasmRawMs')} MB/s, wasm imports+exports ${agg('wasmImpExpMs')} MB/s, pe-library ${agg('peLibraryMs')} MB/s.`,
    ].join('\n');
    return {
      markdown,
      data: {
        files: rows,
        package: pkgFiles,
        beforeAfter: typeof beforeAfter === 'string' ? { error: beforeAfter } : beforeAfter,
        aggregate: { bytes: totalBytes, wasmParsePeMBs: agg('wasmParsePeMs'), wasmRawMBs: agg('wasmRawMs'), wasmImportsExportsMBs: agg('wasmImpExpMs'), peLibraryMBs: agg('peLibraryMs') },
      },
    };
  },
};

export default section;
