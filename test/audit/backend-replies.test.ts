import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandResult, errorSqlstate } from '../../src/audit/backend-replies.ts';
import { bytes } from '../support/bytes.ts';

describe('CommandComplete tags', () => {
  const cases: Array<[string, { command: string; rows?: number }]> = [
    ['SELECT 5', { command: 'SELECT', rows: 5 }],
    ['INSERT 0 1', { command: 'INSERT', rows: 1 }],
    ['UPDATE 0', { command: 'UPDATE', rows: 0 }],
    ['DELETE 12', { command: 'DELETE', rows: 12 }],
    ['MERGE 3', { command: 'MERGE', rows: 3 }],
    ['COPY 5000', { command: 'COPY', rows: 5000 }],
    ['FETCH 2', { command: 'FETCH', rows: 2 }],
    ['CREATE TABLE', { command: 'CREATE TABLE' }],
    ['BEGIN', { command: 'BEGIN' }],
  ];
  for (const [tag, expected] of cases) {
    it(`reads ${JSON.stringify(tag)}`, () => {
      assert.deepEqual(commandResult(bytes().cstring(tag).build()), expected);
    });
  }

  it('reads a tag cut by the capture limit (no NUL), and no tag at all', () => {
    assert.deepEqual(commandResult(Buffer.from('SELECT 12')), { command: 'SELECT', rows: 12 });
    assert.deepEqual(commandResult(undefined), { command: '' });
  });
});

describe('ErrorResponse SQLSTATE', () => {
  const error = (fields: Array<[string, string]>): Buffer => {
    const b = bytes();
    for (const [code, value] of fields) b.byte(code).cstring(value);
    return b.byte(0).build();
  };

  it('takes the C field, never the message', () => {
    const body = error([
      ['S', 'ERROR'],
      ['V', 'ERROR'],
      ['C', '42P01'],
      ['M', 'relation "secret_table" does not exist'],
    ]);
    assert.equal(errorSqlstate(body), '42P01');
  });

  it('gives nothing for a missing, malformed or cut-off code', () => {
    assert.equal(errorSqlstate(error([['S', 'ERROR']])), undefined);
    assert.equal(errorSqlstate(error([['C', '42p01']])), undefined);
    assert.equal(errorSqlstate(error([['C', "x'); DROP"]])), undefined);
    assert.equal(errorSqlstate(Buffer.from('SERROR\0C42P')), undefined);
    assert.equal(errorSqlstate(undefined), undefined);
  });
});
