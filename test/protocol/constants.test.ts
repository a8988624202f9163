import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUTH,
  BACKEND,
  CANCEL_REQUEST_CODE,
  FRONTEND,
  GSSENC_REQUEST_CODE,
  MAX_CANCEL_KEY_LENGTH,
  MAX_STARTUP_PACKET_LENGTH,
  MIN_CANCEL_KEY_LENGTH,
  PROTOCOL_3_0,
  PROTOCOL_3_2,
  SSL_REQUEST_CODE,
  TRANSACTION_STATUS,
} from '../../src/protocol/constants.ts';
import { protocolViolation } from '../../src/protocol/protocol-error.ts';

// The decimal values printed in protocol-message-formats and pqcomm.h (protocol.md §1.1).
describe('protocol constants', () => {
  it('match the documented request codes and versions', () => {
    assert.equal(SSL_REQUEST_CODE, 80877103);
    assert.equal(GSSENC_REQUEST_CODE, 80877104);
    assert.equal(CANCEL_REQUEST_CODE, 80877102);
    assert.equal(PROTOCOL_3_0, 196608);
    assert.equal(PROTOCOL_3_2, 196610);
    assert.equal(MAX_STARTUP_PACKET_LENGTH, 10000);
    assert.deepEqual([MIN_CANCEL_KEY_LENGTH, MAX_CANCEL_KEY_LENGTH], [4, 256]);
  });

  it('name each message type by its letter', () => {
    const letters = (o: Record<string, number>) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, String.fromCharCode(v)]));
    assert.deepEqual(letters(BACKEND), {
      Authentication: 'R',
      BackendKeyData: 'K',
      ErrorResponse: 'E',
      NoticeResponse: 'N',
      ParameterStatus: 'S',
      ReadyForQuery: 'Z',
      NegotiateProtocolVersion: 'v',
      ParseComplete: '1',
      BindComplete: '2',
      CloseComplete: '3',
      CommandComplete: 'C',
      DataRow: 'D',
      EmptyQueryResponse: 'I',
      PortalSuspended: 's',
      NoData: 'n',
      RowDescription: 'T',
      CopyInResponse: 'G',
      CopyOutResponse: 'H',
      CopyBothResponse: 'W',
      CopyData: 'd',
    });
    assert.deepEqual(letters(FRONTEND), {
      Password: 'p',
      Terminate: 'X',
      Query: 'Q',
      Sync: 'S',
      FunctionCall: 'F',
      Parse: 'P',
      Bind: 'B',
      Execute: 'E',
      Close: 'C',
      Describe: 'D',
      CopyData: 'd',
    });
    assert.deepEqual(letters(TRANSACTION_STATUS), { Idle: 'I', InTransaction: 'T', Failed: 'E' });
    assert.deepEqual(
      [
        AUTH.Ok,
        AUTH.CleartextPassword,
        AUTH.MD5Password,
        AUTH.SASL,
        AUTH.SASLContinue,
        AUTH.SASLFinal,
      ],
      [0, 3, 5, 10, 11, 12],
    );
  });

  it('raise protocol violations as ERR_PROTOCOL_VIOLATION / 08P01 with the reason kept', () => {
    const error = protocolViolation('invalid_length', 'invalid message length 3');
    assert.equal(error.code, 'ERR_PROTOCOL_VIOLATION');
    assert.equal(error.sqlstate, '08P01');
    assert.equal(error.reason, 'invalid_length');
    assert.equal(error.message, 'invalid message length 3');
  });
});
