/**
 * formats/ is part of the runtime core, which must run outside Node (browsers, Deno,
 * workers): no library file may import a `node:` module or a Node-only package. Tests,
 * test helpers and scripts may.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIR = fileURLToPath(new URL('.', import.meta.url));

describe('formats/ portability', () => {
  it('imports no node: module outside tests, test helpers and scripts', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'));
    expect(files.length).toBeGreaterThan(8);
    const offenders = files.filter((f) => /from\s+['"](node:|fs['"]|path['"]|crypto['"])/.test(readFileSync(join(DIR, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
