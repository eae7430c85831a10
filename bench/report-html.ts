/**
 * report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched when
 * viewed) with the headline, every section's text and tables, and its charts as inline SVG
 * bar charts.
 */
import type { Chart } from './section.ts';
import type { Report } from './report.ts';
import { headlineMarkdown, machineLine, orderedSections } from './report-md.ts';
import { formatMs, formatRatio } from './stats.ts';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Inline markdown: `code`, **bold**; links keep their text only (the page links nowhere). */
function inline(s: string): string {
  return escapeHtml(s)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1');
}

function cells(line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

/** The subset of markdown the sections write: headings, paragraphs, lists, tables, comments. */
export function markdownToHtml(md: string): string {
  const out: string[] = [];
  const lines = md.split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || /^<!--.*-->$/.test(line.trim())) {
      i++;
    } else if (/^#{1,6} /.test(line)) {
      const level = Math.min(6, (/^#+/.exec(line)?.[0].length ?? 1) + 0);
      out.push(`<h${level}>${inline(line.replace(/^#+ /, ''))}</h${level}>`);
      i++;
    } else if (line.trim().startsWith('|')) {
      const rows: string[] = [];
      while (i < lines.length && lines[i]!.trim().startsWith('|')) rows.push(lines[i++]!);
      const [head, , ...body] = rows;
      out.push('<table><thead><tr>' + cells(head ?? '').map((c) => `<th>${inline(c)}</th>`).join('') + '</tr></thead><tbody>');
      for (const r of body) out.push('<tr>' + cells(r).map((c) => `<td>${inline(c)}</td>`).join('') + '</tr>');
      out.push('</tbody></table>');
    } else if (/^- /.test(line)) {
      out.push('<ul>');
      while (i < lines.length && /^- /.test(lines[i]!)) out.push(`<li>${inline(lines[i++]!.slice(2))}</li>`);
      out.push('</ul>');
    } else {
      const para: string[] = [];
      while (i < lines.length && lines[i]!.trim() !== '' && !/^(#{1,6} |- |\|)/.test(lines[i]!)) para.push(lines[i++]!);
      out.push(`<p>${inline(para.join(' '))}</p>`);
    }
  }
  return out.join('\n');
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1'];

function fmt(chart: Chart, v: number): string {
  return chart.unit === 'ratio' ? `${formatRatio(v)}x` : formatMs(v);
}

/** One chart as an inline SVG: grouped horizontal bars, log or linear scale; ratio bars grow left or right from a par line at 1. */
export function chartSvg(chart: Chart): string {
  const labelW = 270;
  const plotW = 500;
  const valueW = 90;
  const barH = 9;
  const legendH = 18 * chart.series.length + 8;
  const groupH = chart.series.length * (barH + 2) + 10;
  const axisH = 28;
  const width = labelW + plotW + valueW;
  const height = legendH + chart.categories.length * groupH + axisH;
  const values = chart.series.flatMap((s) => s.values).filter((v): v is number => v !== null && v > 0);
  if (chart.unit === 'ratio') values.push(1);
  const maxV = values.length > 0 ? Math.max(...values) : 1;
  const minV = values.length > 0 ? Math.min(...values) : 1;
  let lo: number;
  let hi: number;
  if (chart.log) {
    lo = 10 ** Math.floor(Math.log10(minV));
    hi = 10 ** Math.ceil(Math.log10(maxV));
    if (hi <= lo) hi = lo * 10;
  } else {
    lo = 0;
    hi = maxV > 0 ? maxV * 1.05 : 1;
  }
  const x = (v: number): number => {
    const f = chart.log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
    return labelW + Math.max(0, Math.min(1, f)) * plotW;
  };
  const top = legendH;
  const bottom = legendH + chart.categories.length * groupH;
  const parts: string[] = [];
  parts.push(`<svg role="img" aria-labelledby="${chart.id}-title" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<title id="${chart.id}-title">${escapeHtml(chart.title)}</title>`);
  chart.series.forEach((s, k) => {
    const y = 4 + k * 18;
    parts.push(`<rect x="${labelW}" y="${y}" width="12" height="12" fill="${PALETTE[k % PALETTE.length]}"/><text x="${labelW + 18}" y="${y + 10}">${escapeHtml(s.name)}</text>`);
  });
  // Grid: powers of ten on a log axis, five steps on a linear one.
  const ticks: number[] = [];
  if (chart.log) for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  else for (let k = 0; k <= 5; k++) ticks.push(lo + ((hi - lo) * k) / 5);
  for (const t of ticks) {
    const tx = x(t).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${top}" x2="${tx}" y2="${bottom}" stroke="#ddd"/><text x="${tx}" y="${bottom + 14}" text-anchor="middle" fill="#555">${escapeHtml(fmt(chart, t))}</text>`);
  }
  chart.categories.forEach((c, gi) => {
    const gy = top + gi * groupH + 5;
    parts.push(`<text x="${labelW - 6}" y="${gy + (chart.series.length * (barH + 2)) / 2 + 3}" text-anchor="end">${escapeHtml(c)}</text>`);
    chart.series.forEach((s, k) => {
      const v = s.values[gi] ?? null;
      const y = gy + k * (barH + 2);
      if (v === null || !(v > 0)) {
        parts.push(`<text x="${labelW + 4}" y="${y + barH - 1}" fill="#999" font-size="9">n/a</text>`);
        return;
      }
      // Ratios grow from the par line (left: smaller than the baseline, right: larger); times from the axis.
      const from = chart.unit === 'ratio' ? x(1) : labelW;
      const a = Math.min(from, x(v));
      const w = Math.max(1, Math.abs(x(v) - from));
      parts.push(`<rect x="${a.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${PALETTE[k % PALETTE.length]}"><title>${escapeHtml(`${c}, ${s.name}: ${fmt(chart, v)}`)}</title></rect>`);
      parts.push(`<text x="${(Math.max(from, x(v)) + 4).toFixed(1)}" y="${y + barH - 1}" font-size="9">${escapeHtml(fmt(chart, v))}</text>`);
    });
  });
  if (chart.unit === 'ratio') {
    const px = x(1).toFixed(1);
    parts.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${bottom}" stroke="#c00" stroke-dasharray="4 3"/>`);
  }
  parts.push(`<text x="${labelW + plotW / 2}" y="${bottom + 26}" text-anchor="middle" fill="#555">${chart.log ? 'log scale' : 'linear scale'}${chart.unit === 'ratio' ? ', dashed line = 1 (same size)' : ', ms'}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** report.html (self-contained). */
export function renderHtml(r: Report): string {
  const body: string[] = [];
  body.push('<h1>hotpatch benchmark report</h1>');
  body.push(markdownToHtml(machineLine(r)));
  body.push('<h2>Headline</h2>');
  body.push(markdownToHtml(headlineMarkdown(r.headline, r)));
  for (const [id, s] of orderedSections(r.sections)) {
    body.push(`<section id="section-${escapeHtml(id)}"><h2>${escapeHtml(s.title)}</h2>`);
    for (const c of s.charts ?? []) body.push(`<figure id="${escapeHtml(c.id)}"><figcaption>${escapeHtml(c.title)}</figcaption>\n${chartSvg(c)}\n</figure>`);
    body.push(markdownToHtml(s.markdown));
    body.push('</section>');
  }
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><title>hotpatch benchmark report</title>',
    '<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;font-size:12px;margin:1em 0}th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}th{background:#f4f4f4}code{background:#f4f4f4;padding:0 2px}figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:4px}</style>',
    '</head><body>',
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}

/** External references a self-contained page must not have (URLs, CSS imports, url()). */
export function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (const re of [/https?:\/\/[^\s"'<>)]*/gi, /\b(?:src|href)\s*=\s*["']?[^"'\s>]+/gi, /@import\b[^;]*/gi, /url\([^)]*\)/gi, /<script\b/gi, /<link\b[^>]*>/gi]) {
    for (const m of html.matchAll(re)) found.push(m[0]);
  }
  return found;
}
