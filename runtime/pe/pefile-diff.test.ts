/**
 * Differential test: the wasm parser against python3-pefile (pefile-dump.py) on every PE
 * file in samples/ and every file of the real corpus. Sections, exports, imports (normal
 * and delay-load, with IAT RVAs), relocation counts, every .pdata entry with its UNWIND_INFO
 * header and handler, CodeView, load config (cookie, Guard CF table), TLS callbacks and the
 * identity header fields must all be equal.
 */
import { describe, expect, it } from 'vitest';
import { missingTools } from '../../test/support/tools.ts';
import { compareAll } from './testing/pefile-reference.ts';
import { realCorpusFiles, samplePeFiles } from '../../test/support/test-files.ts';

const skipTools = missingTools(['pefile']);

describe.skipIf(skipTools !== undefined)('parsePe vs python3-pefile', () => {
  it('agrees on every PE file committed under samples/', () => {
    const files = samplePeFiles();
    if (files.length === 0) return; // the samples engineer's DLLs arrive in parallel
    compareAll(files);
  });

  const corpus = skipTools === undefined ? realCorpusFiles() : { files: [], missing: 'pefile missing' };
  it.skipIf(corpus.missing !== undefined)(`agrees on the real corpus (${corpus.files.length} files)`, () => {
    expect(corpus.files.length).toBeGreaterThanOrEqual(20);
    compareAll(corpus.files.map((f) => f.path));
  }, 300_000);
});
