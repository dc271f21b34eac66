// charts: small self-contained SVG line charts for the run report (no library, no scripts, no
// external fonts), so the report renders offline in any browser and can be inlined in HTML.
//
// Axis ticks are "nice" numbers (1, 2, 5 × 10^k) enclosing the data range, so both ends of each
// axis are labelled; the y axis is labelled with what is plotted. A series with few points
// (the collapse watch is logged every few steps) also gets a dot per point. Non-finite values are
// dropped (a NaN loss is a gap, not a zero). Deliberately not here: interactivity, legends outside
// the plot, log scales.

export interface Series {
  name: string;
  /** [x, y] pairs, x ascending. */
  points: readonly (readonly [number, number])[];
  color: string;
}

export interface ChartOptions {
  title: string;
  series: readonly Series[];
  xLabel?: string;
  /** Written up the left side (what the y values are, with their unit). */
  yLabel?: string;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * About `count` nice tick values enclosing [lo, hi]: the first at or below lo, the last at or
 * above hi, so both ends of the axis carry a label (the plot is stretched to them).
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  // integer multiples of step, cleaned of binary noise (0.6000000000000001 → 0.6)
  for (let i = Math.floor(lo / step + 1e-9);; i++) {
    ticks.push(i === 0 ? 0 : Number((i * step).toPrecision(12)));
    if (i * step >= hi - step * 1e-9) break;
  }
  return ticks;
}

/** A short label for a tick value: plain for moderate magnitudes, exponent form otherwise ("4e-4", "2.5e-4"). */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return Number(v.toPrecision(3)).toExponential().replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** One line chart as an <svg> element string. */
export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 360, H = o.height ?? 210;
  const m = { l: o.yLabel ? 68 : 58, r: 12, t: 28, b: 36 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const pts = o.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.l}" y="18" font-family="sans-serif" font-size="13" font-weight="600" fill="#222">${esc(o.title)}</text>`,
  ];
  if (pts.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-family="sans-serif" font-size="12" fill="#888">no data</text></svg>`);
    return parts.join('');
  }
  let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
  const xt = niceTicks(x0, x1, 5), yt = niceTicks(y0, y1, 4);
  x0 = Math.min(x0, xt[0]!);
  x1 = Math.max(x1, xt.at(-1)!);
  y0 = Math.min(y0, yt[0]!);
  y1 = Math.max(y1, yt.at(-1)!);
  if (x1 === x0) {
    x0 -= 1;
    x1 += 1;
  }
  if (y1 === y0) {
    y0 -= 1;
    y1 += 1;
  }
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const f = (v: number) => v.toFixed(1);
  for (const v of yt) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${f(sy(v))}" y2="${f(sy(v))}" stroke="#e6e6e6"/>`);
    parts.push(
      `<text x="${m.l - 6}" y="${f(sy(v) + 4)}" text-anchor="end" font-family="sans-serif" font-size="10" fill="#555">${formatTick(v)}</text>`,
    );
  }
  for (const v of xt) {
    parts.push(`<line x1="${f(sx(v))}" x2="${f(sx(v))}" y1="${m.t + ph}" y2="${m.t + ph + 4}" stroke="#888"/>`);
    parts.push(
      `<text x="${f(sx(v))}" y="${m.t + ph + 16}" text-anchor="middle" font-family="sans-serif" font-size="10" fill="#555">${formatTick(v)}</text>`,
    );
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  if (o.yLabel) {
    parts.push(
      `<text transform="translate(12 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-family="sans-serif" font-size="11" fill="#444">${
        esc(o.yLabel)
      }</text>`,
    );
  }
  if (o.xLabel) {
    parts.push(
      `<text x="${m.l + pw / 2}" y="${H - 6}" text-anchor="middle" font-family="sans-serif" font-size="11" fill="#444">${esc(o.xLabel)}</text>`,
    );
  }
  o.series.forEach((s, i) => {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (p.length === 0) return;
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="1.6" stroke-linejoin="round" points="${
        p.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(' ')
      }"/>`,
    );
    if (p.length <= 60) { for (const [x, y] of p) parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="2.2" fill="${s.color}"/>`); }
    if (o.series.length > 1) {
      parts.push(
        `<text x="${m.l + pw - 4}" y="${m.t + 14 + 13 * i}" text-anchor="end" font-family="sans-serif" font-size="11" fill="${s.color}">${
          esc(s.name)
        }</text>`,
      );
    }
  });
  parts.push('</svg>');
  return parts.join('');
}
