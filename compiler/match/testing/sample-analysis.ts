/** Test helpers: a sample build's image analysis (parse, map, analyze), throwing on failure; a real corpus file's, or why there is none. */
import { existsSync, readFileSync } from 'node:fs';
import { parsePe } from '../../../runtime/pe/parse-pe.ts';
import { mapImage } from '../../image/map-image.ts';
import { sampleBytes } from '../../../runtime/apply/testing/fixtures.ts';
import { analyzeImage, type ImageAnalysis } from '../analyze-image.ts';

/** The analysis of samples/bin/<scenario>/<file>. */
export function sampleAnalysis(scenario: string, file: string): ImageAnalysis {
  const bytes = sampleBytes(scenario, file);
  const pe = parsePe(bytes);
  if (!pe.ok) throw new Error(pe.error.message);
  const img = mapImage(bytes, pe.value);
  if (!img.ok) throw new Error(img.error.message);
  const a = analyzeImage(img.value);
  if (!a.ok) throw new Error(a.error.message);
  return a.value;
}

/** The analysis of the corpus file at `path` (samples/real/cache), or why there is none (not fetched, or not readable). */
export function cachedAnalysis(path: string): ImageAnalysis | string {
  if (!existsSync(path)) return `${path} not fetched (npm run samples:fetch)`;
  const bytes = new Uint8Array(readFileSync(path));
  const pe = parsePe(bytes);
  if (!pe.ok) return pe.error.message;
  const img = mapImage(bytes, pe.value);
  if (!img.ok) return img.error.message;
  const a = analyzeImage(img.value);
  return a.ok ? a.value : a.error.message;
}
