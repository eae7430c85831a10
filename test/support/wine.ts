/**
 * The Wine helper lives in samples/wine.ts, where the samples' build (recording expected
 * outputs) may import it too: library and build code import no test helper. Tests keep
 * importing it from here.
 */
export * from '../../samples/wine.ts';
