/**
 * Pairs the PE modules of two release trees: first by relative path, then, for modules whose
 * names changed (libvips-cpp-8.17.2.dll -> libvips-cpp-8.17.3.dll), by PE identity: the
 * module name in the export directory (with version numbers set aside), and the import
 * relations (which already-paired modules import it). A renamed module is paired only when
 * the evidence is unambiguous both ways; anything else stays unpaired (OLD only) or added
 * (NEW only), which is what a release engineer must look at, never a guess.
 *
 * Pure: takes file bytes, returns pairs with the evidence that made each one.
 */
import { parsePeParts } from '../runtime/pe/parse-pe.ts';
import { sha256 } from '../formats/keys.ts';
import type { ModuleIdentity } from '../formats/bundle.ts';

/** One file of a tree. */
export interface TreeFile {
  /** '/'-separated, relative to the tree root. */
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** A PE module of a tree, with what pairing looks at. */
export interface TreeModule {
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly identity: ModuleIdentity;
  /** Export directory name, else null. */
  readonly exportName: string | null;
  /** Imported DLL names, lower case. */
  readonly imports: readonly string[];
}

export interface ModulePair {
  readonly old: TreeModule;
  readonly new: TreeModule;
  /** "path", or the identity evidence (e.g. `export name libvips-cpp-#.#.#.dll; imported by lib/a.node`). */
  readonly pairedBy: string;
}

export interface Pairing {
  readonly pairs: readonly ModulePair[];
  /** OLD modules nothing in NEW pairs with. */
  readonly unpaired: readonly TreeModule[];
  /** NEW modules nothing in OLD pairs with. */
  readonly added: readonly TreeModule[];
  /** Files that start like a PE ("MZ") but do not parse as one, with the reason. */
  readonly ignored: ReadonlyArray<{ readonly tree: 'old' | 'new'; readonly path: string; readonly reason: string }>;
}

const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
/** A name with its version numbers set aside: `libvips-cpp-8.17.2.dll` -> `libvips-cpp-#.#.#.dll`. */
export const nameStem = (name: string): string => name.toLowerCase().replace(/\d+/g, '#');

async function readModules(files: readonly TreeFile[], tree: 'old' | 'new', ignored: Pairing['ignored'][number][]): Promise<TreeModule[]> {
  const out: TreeModule[] = [];
  for (const f of files) {
    if (f.bytes.length < 2 || f.bytes[0] !== 0x4d || f.bytes[1] !== 0x5a) continue; // not "MZ": not a module
    const pe = parsePeParts(f.bytes, ['exports', 'imports']);
    if (!pe.ok) {
      ignored.push({ tree, path: f.path, reason: `${pe.error.code}: ${pe.error.message}` });
      continue;
    }
    const h = pe.value;
    out.push({
      path: f.path,
      bytes: f.bytes,
      identity: {
        machine: h.fileHeader.machine,
        timeDateStamp: h.fileHeader.timeDateStamp,
        sizeOfImage: h.optionalHeader.sizeOfImage,
        checkSum: h.optionalHeader.checkSum,
        fileSha256: await sha256(f.bytes),
        fileSize: f.bytes.length,
      },
      exportName: h.exports?.dllName ?? null,
      imports: [...new Set(h.imports.map((i) => i.dll.toLowerCase()))],
    });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Names other modules import this one by: its export name and its file name. */
function namesOf(m: TreeModule): string[] {
  return [...new Set([base(m.path).toLowerCase(), ...(m.exportName === null ? [] : [m.exportName.toLowerCase()])])];
}

/** Paths (in OLD terms) of the paired modules that import `m`. */
function importers(m: TreeModule, side: 'old' | 'new', pairs: readonly ModulePair[]): string[] {
  const names = namesOf(m);
  return pairs.filter((p) => p[side].imports.some((i) => names.includes(i))).map((p) => p.old.path);
}

function evidence(o: TreeModule, n: TreeModule, pairs: readonly ModulePair[]): { score: number; why: string[] } {
  const why: string[] = [];
  let score = 0;
  if (o.identity.machine !== n.identity.machine) return { score: 0, why };
  if (o.exportName !== null && n.exportName !== null && nameStem(o.exportName) === nameStem(n.exportName)) {
    score += 2;
    why.push(`export name ${o.exportName} -> ${n.exportName}`);
  } else if (nameStem(base(o.path)) === nameStem(base(n.path))) {
    score += 1;
    why.push(`file name ${base(o.path)} -> ${base(n.path)}`);
  }
  const io = importers(o, 'old', pairs);
  const inn = importers(n, 'new', pairs);
  if (io.length > 0 && io.length === inn.length && io.every((p, i) => p === inn[i])) {
    score += 2;
    why.push(`imported by ${io.join(', ')}`);
  }
  return { score, why };
}

/**
 * Pairs OLD and NEW modules: by path (exact, then ignoring case, as Windows does), then
 * renamed modules by identity, repeated while new pairs bring new import evidence. A renamed
 * pair needs a score of at least 2 (a matching export name, or the same importers) and must
 * be the single best candidate of both its modules.
 */
export async function pairModules(oldFiles: readonly TreeFile[], newFiles: readonly TreeFile[]): Promise<Pairing> {
  const ignored: Pairing['ignored'][number][] = [];
  const olds = await readModules(oldFiles, 'old', ignored);
  const news = await readModules(newFiles, 'new', ignored);
  const pairs: ModulePair[] = [];
  const freeOld = new Set(olds);
  const freeNew = new Set(news);
  for (const exact of [true, false]) {
    for (const o of [...freeOld]) {
      const n = [...freeNew].find((x) => (exact ? x.path === o.path : x.path.toLowerCase() === o.path.toLowerCase()));
      if (n === undefined) continue;
      pairs.push({ old: o, new: n, pairedBy: 'path' });
      freeOld.delete(o);
      freeNew.delete(n);
    }
  }
  for (let changed = true; changed; ) {
    changed = false;
    const best = (scores: Array<{ o: TreeModule; n: TreeModule; score: number }>): (typeof scores)[number] | null => {
      const top = Math.max(0, ...scores.map((s) => s.score));
      const at = scores.filter((s) => s.score === top);
      return top >= 2 && at.length === 1 ? at[0]! : null;
    };
    const all = [...freeOld].flatMap((o) => [...freeNew].map((n) => ({ o, n, ...evidence(o, n, pairs) })));
    for (const c of all) {
      if (!freeOld.has(c.o) || !freeNew.has(c.n)) continue;
      const forOld = best(all.filter((x) => x.o === c.o && freeNew.has(x.n)));
      const forNew = best(all.filter((x) => x.n === c.n && freeOld.has(x.o)));
      if (forOld === null || forNew === null || forOld !== c || forNew !== c) continue;
      pairs.push({ old: c.o, new: c.n, pairedBy: c.why.join('; ') });
      freeOld.delete(c.o);
      freeNew.delete(c.n);
      changed = true;
    }
  }
  return { pairs: pairs.sort((a, b) => (a.old.path < b.old.path ? -1 : 1)), unpaired: [...freeOld], added: [...freeNew], ignored };
}
