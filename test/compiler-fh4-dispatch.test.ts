/**
 * FH4 through the handler dispatcher (compiler/eh/parse-handler-data.ts): the statically
 * linked, nameless __CxxFrameHandler4 / __GSHandlerCheck_EH4 copies of the MSVC C++ modules
 * are recognised by shape as `fh4` / `gs-fh4` and every user parses; no FuncInfo-carrying
 * handler passes for `gs`; true GS handlers still do.
 * Files the cache cannot provide are skipped with the reason.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { parsePe } from '../runtime/pe/parse-pe.ts';
import { discoverFunctions } from '../compiler/functions/discover-functions.ts';
import { mapImage } from '../compiler/image/map-image.ts';
import { fetchRealFile, realFiles } from '../samples/real/real-files.ts';
import { fh4FormHint, type ParsedFh4 } from '../compiler/eh/fh4.ts';
import { classifyHandler, parseHandlerData } from '../compiler/eh/parse-handler-data.ts';

const files = realFiles().filter((f) => (f.package === '@img/sharp-win32-x64' || f.package === '@parcel/watcher-win32-x64') && f.path.endsWith('.node'));

describe.each(files.map((f) => [`${f.package}@${f.version}`, f] as const))('%s', (_label, file) => {
  const got = fetchRealFile(file);
  const why = got.ok ? undefined : got.error.message;
  test.skipIf(why !== undefined)(`FH4 routines classify by shape and all their users parse${why === undefined ? '' : ` (skipped: ${why})`}`, { timeout: 180_000 }, () => {
    if (!got.ok) return;
    const bytes = new Uint8Array(readFileSync(got.value));
    const pe = parsePe(bytes);
    if (!pe.ok) throw new Error(pe.error.message);
    const img = mapImage(bytes, pe.value);
    if (!img.ok) throw new Error(img.error.message);
    const fns = discoverFunctions(img.value);
    if (!fns.ok) throw new Error(fns.error.message);
    // Each handler routine's users, and the form their layout hints at (FuncInfo4 right after the data).
    const users = new Map<number, { hints: Set<string>; list: Array<[number, number]> }>();
    for (const f of fns.value.functions) {
      for (const rf of f.pdata) {
        const u = rf.unwind;
        if (u === null || (u.flags & 3) === 0 || (u.flags & 4) !== 0 || u.handler === null) continue;
        const e = users.get(u.handler as number) ?? { hints: new Set<string>(), list: [] };
        // FH3 data is laid out the same way: its FuncInfo starts with a magic number.
        const im = img.value.image;
        const d = u.handlerData as number;
        const fi = (im[d]! | (im[d + 1]! << 8) | (im[d + 2]! << 16) | (im[d + 3]! << 24)) >>> 0;
        const magic = fi + 4 <= im.length ? (im[fi]! | (im[fi + 1]! << 8) | (im[fi + 2]! << 16) | (im[fi + 3]! << 24)) >>> 0 : 0;
        e.hints.add(magic >= 0x19930520 && magic <= 0x19930522 ? 'fh3' : String(fh4FormHint(im, d)));
        e.list.push([f.index, fns.value.functions[f.index]!.pdata.indexOf(rf)]);
        users.set(u.handler as number, e);
      }
    }
    const forms = new Map<string, number>();
    let unwindFunclets = 0;
    for (const [h, e] of users) {
      const cls = classifyHandler(img.value, fns.value, h);
      const form = cls.kind === 'msvc' ? cls.form : 'other';
      forms.set(form, (forms.get(form) ?? 0) + e.list.length);
      const fh4Like = (e.hints.has('fh4') || e.hints.has('gs-fh4')) && !e.hints.has('fh3');
      if (fh4Like) {
        // Routines whose data is laid out as FH4 are FH4, with the form the layout says.
        expect(cls.kind === 'msvc' && cls.by).toBe('shape');
        expect(form).toBe(e.hints.has('gs-fh4') ? 'gs-fh4' : 'fh4');
        for (const [fi, ri] of e.list) {
          const f = fns.value.functions[fi]!;
          const hd = parseHandlerData(img.value, fns.value, f, f.pdata[ri]!);
          expect(hd?.kind === 'refused' ? hd.reason : hd?.kind).toBe('msvc');
          // Unwind funclets are left out of `funclets` (no group with the parent) because
          // they are self-contained: each is a discovered function of its own that refers to
          // no code of the parent naming it (it destroys frame objects and returns).
          if (hd?.kind !== 'msvc' || !('decoded' in hd.data)) continue;
          for (const st of (hd.data as ParsedFh4).decoded) {
            if (st.kind !== 'unwind-map') continue;
            for (const e of st.entries) {
              if (e.type !== 3) continue;
              const g = fns.value.containing(e.action);
              expect(g?.entry).toBe(e.action);
              expect(g === f || g!.decoded.refs.some((r) => fns.value.containing(r.target) === f)).toBe(false);
              unwindFunclets++;
            }
          }
        }
      } else {
        expect(form === 'fh4' || form === 'gs-fh4').toBe(false);
      }
    }
    expect(unwindFunclets).toBeGreaterThan(0);
    expect(forms.get('fh4')).toBeGreaterThan(50);
    expect(forms.get('gs-fh4')).toBeGreaterThan(50);
    // The GS-only handler (__GSHandlerCheck) is still recognised.
    expect(forms.get('gs')).toBeGreaterThan(10);
  });
});
