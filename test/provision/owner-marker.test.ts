import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ownerMarker, parseOwnerMarker, sameOwner } from '../../src/provision/owner-marker.ts';

describe('the owner marker in a role comment', () => {
  it('round-trips the issuer and subject, whatever characters they hold', () => {
    const owner = { issuer: 'https://idp.example.com/o\'x"', subject: 'sub "1"\\ é' };
    const comment = ownerMarker(owner);
    assert.ok(comment.startsWith('pgkey-provisioned {'));
    assert.deepEqual(parseOwnerMarker(comment), owner);
  });

  it('finds no owner in comments pgkey did not write', () => {
    for (const comment of [
      null,
      undefined,
      '',
      'created by the DBA',
      'pgkey-provisioned',
      'pgkey-provisioned not json',
      'pgkey-provisioned {"iss":"x"}',
      'pgkey-provisioned {"iss":1,"sub":"y"}',
      'pgkey-provisioned null',
      ' pgkey-provisioned {"iss":"x","sub":"y"}',
    ]) {
      assert.equal(parseOwnerMarker(comment), undefined, String(comment));
    }
  });

  it('compares issuer and subject exactly', () => {
    const a = { issuer: 'https://idp', subject: 'alice' };
    assert.ok(sameOwner(a, { ...a }));
    assert.ok(!sameOwner(a, { ...a, subject: 'Alice' }));
    assert.ok(!sameOwner(a, { ...a, issuer: 'https://idp/' }));
  });
});
