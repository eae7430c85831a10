/**
 * Test support: the PeOverview a PeFile implies (its big tables replaced by their counts),
 * so tests can check `parsePeOverview` against `parsePe` field for field.
 */
import type { Result } from '../../../common/errors.ts';
import type { PeFile, PeOverview } from '../types.ts';

export function overviewOf(pe: PeFile): PeOverview {
  const lc = pe.loadConfig;
  return {
    ...pe,
    relocations: { blocks: pe.relocations.blocks, entries: pe.relocations.entries.length },
    exceptions: pe.exceptions.length,
    loadConfig: lc === null ? null : { ...lc, guardCfFunctions: lc.guardCfFunctions.length },
    symbols: pe.symbols.length,
  };
}

/** `parsePe`'s result as the `parsePeOverview` result it implies (errors unchanged). */
export function expectedOverview(r: Result<PeFile>): Result<PeOverview> {
  return r.ok ? { ok: true, value: overviewOf(r.value) } : r;
}
