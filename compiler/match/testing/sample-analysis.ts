/** Test helper: a sample build's image analysis (parse, map, analyze), throwing on failure. */
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
