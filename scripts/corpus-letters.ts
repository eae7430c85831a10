// Issue #14's names for the corpus pairs the compile-time scripts default to: a letter, or
// any prefix of a samples/real/manifest.json label.
export const CORPUS_LETTERS: Readonly<Record<string, string>> = {
  A: 'sharp-0.34.4-0.34.5',
  B: 'sharp-0.34.3-0.34.4',
  C: 'lcss-1.29.1-1.29.2',
  D: 'watcher-2.5.0-2.5.1',
  E: 'esbuild-0.25.11-0.25.12',
};

/** The manifest label prefix a command-line word names. */
export function labelPrefix(word: string): string {
  return CORPUS_LETTERS[word] ?? word;
}
