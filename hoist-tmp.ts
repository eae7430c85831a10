import { readFileSync, readdirSync } from 'node:fs';
import { findFunctions } from './compiler/index.ts';
for (const s of ['cpp-exceptions','threaded-switch']) {
  for (const f of readdirSync('samples/bin/' + s)) {
    const t = findFunctions(new Uint8Array(readFileSync(`samples/bin/${s}/${f}`)));
    if (!t.ok) continue;
    for (const fn of t.value.functions) for (const jt of fn.decoded.jumpTables) if (jt.baseHoisted) console.log(s, f, fn.name, jt.rva.toString(16), jt.count, jt.jumpRva.toString(16), fn.decoded.problems);
  }
}
