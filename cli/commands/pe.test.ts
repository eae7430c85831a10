/** `hotpatch pe`: exit codes, one-line errors, and JSON that matches the library's parse. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { fetchRealFile, realPairs } from '../../samples/real/real-files.ts';
import { runHotpatch, runHotpatchReaderGone, type CliRun } from '../../test/support/cli.ts';

const hotpatch = (...args: string[]): CliRun => runHotpatch(args, { timeoutMs: 60_000 });

// A real shipped DLL with exports, imports, relocations, .pdata and CodeView.
const pair = realPairs().find((p) => p.label.startsWith('bufferutil'));
const fetched = pair === undefined ? undefined : fetchRealFile(pair.new);
const dll = fetched?.ok ? fetched.value : undefined;
const tmp = mkdtempSync(join(tmpdir(), 'hotpatch-pe-cli-'));

describe('hotpatch pe', () => {
  it.skipIf(dll === undefined)('prints the parse as JSON and exits 0', () => {
    const file = dll as string;
    const r = hotpatch('pe', file, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    const pe = parsePe(readFileSync(file));
    if (!pe.ok) throw new Error(pe.error.message);
    expect(j['format']).toBe('PE32+');
    expect(j['machine']).toBe(0x8664);
    expect(j['imageBase']).toBe(`0x${pe.value.optionalHeader.imageBase.toString(16)}`);
    expect(j['sha256']).toBe(pair?.new.sha256);
    expect((j['sections'] as unknown[]).length).toBe(pe.value.sections.length);
    expect(j['relocations']).toEqual({ blocks: pe.value.relocations.blocks, entries: pe.value.relocations.entries.length });
    expect(j['exceptionEntries']).toBe(pe.value.exceptions.length);
    expect(j['codeView']).toEqual(pe.value.codeView);
    const imports = j['imports'] as Array<{ dll: string; symbols: Array<{ name: string | null; iatRva: number }> }>;
    expect(imports.map((d) => d.dll)).toEqual(pe.value.imports.map((d) => d.dll));
    expect(imports.flatMap((d) => d.symbols).length).toBeGreaterThan(0);
  });

  it.skipIf(dll === undefined)('prints a readable summary without --json', () => {
    const r = hotpatch('pe', dll as string);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/PE32\+ x64 DLL/);
    expect(r.stdout).toMatch(/sections \(\d+\):/);
    expect(r.stdout).toMatch(/\.text\s+rva 0x1000/);
  });

  it('a missing file is a one-line IO_ error with exit 3', () => {
    const r = hotpatch('pe', join(tmp, 'nope.dll'));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^hotpatch: IO_NOT_FOUND: .*nope\.dll: no such file\n$/);
    expect(r.stdout).toBe('');
  });

  it('a file that is not a PE is a one-line PE_ error with exit 10', () => {
    const f = join(tmp, 'text.dll');
    writeFileSync(f, 'just some text, long enough to hold a DOS header ......................\n');
    const r = hotpatch('pe', f);
    expect(r.status).toBe(10);
    expect(r.stderr).toBe(`hotpatch: PE_BAD_DOS_MAGIC: ${f}: no MZ signature: not a PE file (at 0x0)\n`);
  });

  it.skipIf(dll === undefined)('a truncated PE is a PE_ error with exit 10, also as JSON', () => {
    const f = join(tmp, 'truncated.dll');
    // Cut right after the headers: the section table is whole, the section data is gone.
    const bytes = readFileSync(dll as string);
    const pe = parsePe(bytes);
    if (!pe.ok) throw new Error(pe.error.message);
    writeFileSync(f, bytes.subarray(0, pe.value.optionalHeader.sizeOfHeaders));
    const r = hotpatch('pe', f, '--json');
    expect(r.status).toBe(10);
    expect(r.stderr.split('\n')).toHaveLength(2); // one line + final newline
    expect(r.stderr).toMatch(/^hotpatch: PE_BAD_SECTION: .*extends past the end of the file/);
    const j = JSON.parse(r.stdout) as { error: { code: string; offset: number } };
    expect(j.error.code).toBe('PE_BAD_SECTION');
    expect(typeof j.error.offset).toBe('number');
  });

  it('a reader that has gone (EPIPE on stdout) ends the command quietly, with its own exit code', async () => {
    // The output goes out with fs.writeSync (cli/stdio.ts); process.stdout used to die here
    // with an unhandled 'error' event and a stack trace.
    const sample = join(import.meta.dirname, '../../samples/bin/logic-fix/v1.dll');
    const done = await runHotpatchReaderGone(['pe', '--json', sample]);
    expect(done).toEqual({ status: 0, stdout: '', stderr: '' });
    const failed = await runHotpatchReaderGone(['pe', '--json', join(tmp, 'nope.dll')]);
    expect(failed.status).toBe(3);
    expect(failed.stderr).toMatch(/^hotpatch: IO_NOT_FOUND: .*nope\.dll: no such file\n$/);
  });

  it('--help exits 0 and names the command', () => {
    const r = hotpatch('pe', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/hotpatch pe <file>/);
  });
});
