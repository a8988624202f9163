/**
 * /assets/account.css: the account pages' additions to pgkey.css (which every provider page
 * loads first): a header bar, full-width pages with tables, small inline forms, tags and
 * notices. System fonts, the one accent colour of pgkey.css, light and dark schemes; no
 * external fonts or images.
 */
export const ACCOUNT_STYLES = `body.wide { display: block; }
main.wide { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
main.card .button, main.wide .button { display: inline-block; padding: 0.6rem 1rem; border-radius: 0.5rem;
  background: var(--accent); color: #fff; font-weight: 600; text-decoration: none; }
.top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem 1.5rem;
  padding: 0.75rem 1rem; border-bottom: 1px solid color-mix(in srgb, CanvasText 15%, transparent); width: 100%; }
.top .brand { font-weight: 700; font-size: 1.125rem; color: var(--accent); text-decoration: none; }
.top nav { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; }
.top nav a { color: inherit; }
.top .who { opacity: 0.75; font-size: 0.875rem; }
.top form.inline { margin: 0; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
h2 { margin: 2rem 0 0.75rem; font-size: 1.25rem; }
h3 { margin: 1.5rem 0 0.5rem; font-size: 1rem; }
.sections { display: flex; gap: 1rem; margin-bottom: 1rem; }
.table { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 0.9375rem; }
caption { text-align: left; }
th, td { padding: 0.5rem 0.625rem; text-align: left; vertical-align: top;
  border-bottom: 1px solid color-mix(in srgb, CanvasText 12%, transparent); }
thead th { font-size: 0.8125rem; text-transform: uppercase; letter-spacing: 0.04em; opacity: 0.75; }
tbody th { font-weight: 600; }
td.actions, time { white-space: nowrap; }
form.inline { display: inline-flex; align-items: center; gap: 0.375rem; margin: 0 0.5rem 0.25rem 0; }
form.stacked { display: grid; gap: 0.75rem; max-width: 24rem; }
form.stacked label span { display: block; font-size: 0.875rem; margin-bottom: 0.25rem; }
form.chip-form { display: inline; }
main.wide button, .top button, form.inline button, form.stacked button { display: inline-block; width: auto;
  margin: 0; padding: 0.375rem 0.75rem; font-size: 0.875rem; border-radius: 0.375rem; }
form.stacked button { justify-self: start; padding: 0.5rem 1rem; }
button.danger { background: #c62828; }
button.link { background: none; color: inherit; padding: 0; text-decoration: underline; font-weight: 400;
  font-size: inherit; }
input[type=text], input[type=email] { width: auto; min-width: 8rem; padding: 0.375rem 0.5rem; font: inherit;
  font-size: 0.875rem; text-align: left; text-transform: none; letter-spacing: normal;
  border: 1px solid color-mix(in srgb, CanvasText 35%, transparent); border-radius: 0.375rem;
  background: Canvas; color: CanvasText; }
form.stacked input, main.card input[type=text], .add-key input { width: 100%; font-size: 1rem; padding: 0.5rem 0.625rem; }
main.card label span, .add-key label span { display: block; font-size: 0.875rem; margin: 1rem 0 0.25rem; }
.add-key { max-width: 24rem; }
main.wide .add-key button { margin-top: 0.75rem; padding: 0.6rem 1rem; font-size: 1rem; }
.link-box { width: 100% !important; font-family: ui-monospace, SFMono-Regular, Menlo, monospace !important; }
.tag { display: inline-block; padding: 0 0.5rem; border-radius: 999px; font-size: 0.75rem; font-weight: 600;
  line-height: 1.5rem; background: color-mix(in srgb, CanvasText 10%, transparent); }
.tag.ok { background: color-mix(in srgb, #2e7d32 18%, transparent); }
.tag.bad { background: color-mix(in srgb, #c62828 22%, transparent); }
.tag.off { background: color-mix(in srgb, CanvasText 8%, transparent); opacity: 0.8; }
.chip { display: inline-flex; align-items: center; white-space: nowrap; gap: 0.25rem; margin: 0 0.25rem 0.25rem 0; padding: 0 0 0 0.5rem;
  border-radius: 999px; font-size: 0.8125rem; background: color-mix(in srgb, var(--accent) 14%, transparent); }
main.wide button.chip-remove { background: none; color: inherit; padding: 0 0.5rem; font-size: 1rem; line-height: 1.5rem; }
.muted { opacity: 0.7; font-size: 0.875rem; font-weight: 400; }
.notice { padding: 0.625rem 0.875rem; border-left: 4px solid #2e7d32;
  background: color-mix(in srgb, #2e7d32 10%, transparent); }
p.error[role=alert] { padding: 0.625rem 0.875rem; border-left: 4px solid #c62828;
  background: color-mix(in srgb, #c62828 10%, transparent); }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
`;
