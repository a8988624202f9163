import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { EVENT_DOCS } from '../../src/audit/event-catalogue.ts';
import { AUDIT_DURABILITY } from '../../src/audit/events.ts';
import { renderEventsDoc } from '../../src/audit/events-doc.ts';

describe('docs/events.md', () => {
  it('describes every event type in the catalogue', () => {
    const missing = Object.keys(AUDIT_DURABILITY).filter((type) => !(type in EVENT_DOCS));
    assert.deepEqual(missing, [], 'add them to src/audit/event-catalogue.ts');
  });

  it('is exactly what the catalogue generates (run `pgkey audit events --out docs/events.md`)', async () => {
    const committed = await readFile(new URL('../../docs/events.md', import.meta.url), 'utf8');
    assert.equal(committed, renderEventsDoc());
  });
});
