import { raw, type Html } from './html.ts';

/**
 * The report's stylesheet, inline: system fonts, one accent, tables that read like a ledger,
 * and print rules (landscape A4, colours kept, no card split across pages), because an
 * access review ends up as a PDF in an auditor's evidence folder.
 */
export const REPORT_STYLE: Html = raw(`
:root { --ink: #202124; --muted: #5f6368; --line: #dadce0; --soft: #f8f9fa; --accent: #0072B2;
  --bad: #b3261e; --ok: #137333; --warn: #b06000; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 40px 0 6px; padding-bottom: 6px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 0; overflow-wrap: anywhere; }
p { margin: 6px 0 12px; }
.lede { color: var(--muted); margin: 0 0 12px; }
.muted { color: var(--muted); }
code, .mono { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 13px; }
.badge.ok { background: #e6f4ea; color: var(--ok); }
.badge.bad { background: #fce8e6; color: var(--bad); }
.badge.none { background: #fef7e0; color: var(--warn); }
.summary { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin: 18px 0 8px; }
.stat { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.stat b { display: block; font-size: 28px; line-height: 1.1; font-variant-numeric: tabular-nums; }
.stat span { color: var(--muted); font-size: 13px; }
.stat.alert b { color: var(--bad); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 4px 0 0 44px; font-size: 13px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
svg text { font-family: inherit; }
svg .axis { font-size: 11px; fill: var(--muted); }
svg .label { font-size: 12px; fill: var(--ink); }
svg .value { font-size: 12px; fill: var(--muted); font-variant-numeric: tabular-nums; }
.people { display: grid; grid-template-columns: repeat(auto-fill, minmax(500px, 1fr)); gap: 14px; margin-top: 12px; }
.person { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; break-inside: avoid; }
.person header { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; margin-bottom: 6px; }
.person .who-note { color: var(--muted); font-size: 13px; margin: -2px 0 6px; }
.person svg.spark { display: block; margin: 2px 0 6px; }
.person dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0 0; font-size: 13px; }
.person dt { color: var(--muted); }
.person dd { margin: 0; overflow-wrap: anywhere; }
.revoked { color: var(--bad); font-weight: 600; font-size: 12px; margin-left: 4px; white-space: nowrap; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); font-weight: 600; }
td { overflow-wrap: anywhere; }
td.n, th.n { text-align: right; padding-left: 10px; }
td.n:not(:last-child), th.n:not(:last-child) { padding-right: 18px; }
td:last-child, th:last-child { padding-right: 0; }
table.grid { width: auto; margin: 4px 0; }
table.grid th, table.grid td { padding: 3px 12px 3px 0; font-size: 13px; }
table.grid tbody th { text-transform: none; letter-spacing: 0; color: var(--ink); font-weight: 500; }
table.grid td.n { text-align: right; min-width: 3.5em; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 28px; }
.empty { color: var(--muted); font-style: italic; }
.more { color: var(--muted); font-size: 13px; }
.note { border-left: 3px solid var(--warn); background: #fffbf0; padding: 8px 12px; margin: 10px 0; }
.note.bad { border-color: var(--bad); background: #fdf3f2; }
footer { margin-top: 48px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 10px; }
@media (max-width: 760px) { .cols { grid-template-columns: 1fr; } .people { grid-template-columns: 1fr; } }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  .person, .stat, table, svg { break-inside: avoid; }
  .people { grid-template-columns: 1fr 1fr; }
}
`);
