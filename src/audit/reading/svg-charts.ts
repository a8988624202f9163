import { count, markup, type Html } from './html.ts';

/**
 * Charts as inline SVG, drawn here: no script, no external asset, and they print. Every
 * label goes through the `markup` tag; bars carry a `<title>` so a browser shows the numbers
 * on hover, and the numbers are also in the tables beside them.
 */

/** Okabe–Ito: told apart with every common colour-vision deficiency, and in grey print. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00'];
export const OTHER_COLOR = '#9AA0A6';

const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Series {
  readonly name: string;
  readonly color: string;
}

export interface StackedDays {
  readonly firstDay: number;
  readonly days: number;
  readonly series: readonly Series[];
  /** Value of series `s` on day `d` (0-based from `firstDay`). */
  value(day: number, series: number): number;
  readonly unit: string;
}

/** Bars per day, stacked by series; weekends shaded, so weekend access stands out. */
export function stackedDayChart(chart: StackedDays, width = 1040, height = 240): Html {
  const left = 44;
  const bottom = 26;
  const top = 8;
  const plotW = width - left - 8;
  const plotH = height - top - bottom;
  const totals = Array.from({ length: chart.days }, (_, d) =>
    chart.series.reduce((sum, _s, s) => sum + chart.value(d, s), 0),
  );
  const ticks = niceTicks(Math.max(1, ...totals));
  const max = ticks.at(-1) ?? 1;
  const step = plotW / chart.days;
  const barW = Math.max(1, step * 0.78);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts: Html[] = [];
  for (let d = 0; d < chart.days; d++) {
    const weekday = new Date(chart.firstDay + d * DAY_MS).getUTCDay();
    if (weekday === 0 || weekday === 6) {
      parts.push(
        markup`<rect
          x="${fix(left + d * step)}"
          y="${top}"
          width="${fix(step)}"
          height="${plotH}"
          fill="#f1f3f4"
        />`,
      );
    }
  }
  for (const tick of ticks) {
    parts.push(
      markup`<line
        x1="${left}"
        x2="${width - 8}"
        y1="${fix(y(tick))}"
        y2="${fix(y(tick))}"
        stroke="${tick === 0 ? '#5f6368' : '#dadce0'}"
        stroke-width="1"
      />`,
      markup`<text x="${left - 6}" y="${fix(y(tick) + 4)}" text-anchor="end" class="axis"
        >${count(tick)}</text
      >`,
    );
  }
  for (let d = 0; d < chart.days; d++) {
    let base = 0;
    const date = dayLabel(chart.firstDay + d * DAY_MS, true);
    chart.series.forEach((series, s) => {
      const v = chart.value(d, s);
      if (v <= 0) return;
      parts.push(
        markup`<rect
          x="${fix(left + d * step + (step - barW) / 2)}"
          y="${fix(y(base + v))}"
          width="${fix(barW)}"
          height="${fix(y(base) - y(base + v))}"
          fill="${series.color}"
          ><title>${date} · ${series.name}: ${count(v)} ${v === 1 ? chart.unit.replace(/s$/, '') : chart.unit}</title></rect
        >`,
      );
      base += v;
    });
  }
  const every = Math.max(1, Math.ceil(chart.days / 12));
  for (let d = 0; d < chart.days; d += every) {
    parts.push(
      markup`<text
        x="${fix(left + d * step + step / 2)}"
        y="${height - 8}"
        text-anchor="middle"
        class="axis"
        >${dayLabel(chart.firstDay + d * DAY_MS)}</text
      >`,
    );
  }
  return markup`<svg
    class="chart"
    viewBox="0 0 ${width} ${height}"
    width="100%"
    role="img"
    aria-label="${chart.unit} per day"
  >
    ${parts}
  </svg>`;
}

/**
 * One person's days as a strip of bars across the card: the same period and the same scale
 * (`max`) on every card, so the cards compare at a glance (small multiples). Weekends are
 * shaded as in the main chart.
 */
export function sparkline(
  values: ReadonlyMap<number, number>,
  days: number,
  max: number,
  firstDay: number,
  height = 30,
): Html {
  const step = 10;
  const width = days * step;
  const parts: Html[] = [];
  for (let day = 0; day < days; day++) {
    const weekday = new Date(firstDay + day * DAY_MS).getUTCDay();
    if (weekday === 0 || weekday === 6) {
      parts.push(
        markup`<rect x="${day * step}" y="0" width="${step}" height="${height}" fill="#f1f3f4"/>`,
      );
    }
  }
  for (const [day, v] of values) {
    if (day < 0 || day >= days || v <= 0) continue;
    const h = Math.max(2, (v / Math.max(1, max)) * (height - 2));
    parts.push(
      markup`<rect x="${day * step + 1.5}" y="${fix(height - 1 - h)}" width="${step - 3}" height="${fix(h)}" fill="${PALETTE[0]}"><title>${dayLabel(firstDay + day * DAY_MS, true)}: ${count(v)} session${v === 1 ? '' : 's'}</title></rect>`,
    );
  }
  return markup`<svg class="spark" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" width="100%" height="${height}" role="img" aria-label="sessions per day"><line x1="0" x2="${width}" y1="${height - 0.5}" y2="${height - 0.5}" stroke="#bdc1c6" vector-effect="non-scaling-stroke"/>${parts}</svg>`;
}

/** Labelled horizontal bars, largest first (already sorted by the caller). */
export function barList(items: readonly (readonly [string, number])[], width = 520): Html {
  const row = 22;
  const labelW = 190;
  const height = items.length * row + 4;
  const max = Math.max(1, ...items.map(([, v]) => v));
  const barSpace = width - labelW - 60;
  const rows = items.map(([label, v], i) => {
    const w = Math.max(2, (v / max) * barSpace);
    const y0 = i * row + 2;
    return markup`<text x="${labelW - 8}" y="${y0 + 15}" text-anchor="end" class="label"
        >${clip(label, 28)}<title>${label}</title></text
      ><rect
        x="${labelW}"
        y="${y0 + 4}"
        width="${fix(w)}"
        height="${row - 8}"
        fill="${PALETTE[5]}"
      /><text x="${fix(labelW + w + 6)}" y="${y0 + 15}" class="value">${count(v)}</text>`;
  });
  return markup`<svg
    class="bars"
    viewBox="0 0 ${width} ${height}"
    width="${width}"
    height="${height}"
    role="img"
    aria-label="counts"
  >
    ${rows}
  </svg>`;
}

/** `Nov 3`; with the year when `full`. */
export function dayLabel(ms: number, full = false): string {
  const date = new Date(ms);
  const label = `${MONTHS[date.getUTCMonth()] ?? ''} ${date.getUTCDate()}`;
  return full ? `${label}, ${date.getUTCFullYear()}` : label;
}

/** 0 and up to four round steps covering `max` (1, 2, 5 × 10^n). */
export function niceTicks(max: number): number[] {
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw);
  const ticks = [0];
  while ((ticks.at(-1) ?? 0) < max) ticks.push((ticks.at(-1) ?? 0) + step);
  return ticks;
}

function fix(n: number): number {
  return Math.round(n * 10) / 10;
}

function clip(text: string, chars: number): string {
  const points = [...text];
  return points.length <= chars ? text : `${points.slice(0, chars - 1).join('')}…`;
}
