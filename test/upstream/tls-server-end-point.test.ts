import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { tlsServerEndPointHash } from '../../src/upstream/tls-server-end-point.ts';

// Self-signed test certificates made with `openssl req -x509`; the expected values are
// `openssl x509 -outform der | openssl dgst -<hash> -binary | base64`, computed outside pgkey.
const der = (lines: readonly string[]): Buffer => Buffer.from(lines.join(''), 'base64');

const ECDSA_SHA1 = der([
  'MIIBiDCCATCgAwIBAgIUaOgUtZ8AqVZ2ie76GmW0ICuvDzYwCQYHKoZIzj0EATAa',
  'MRgwFgYDVQQDDA9wZ2tleS10ZXN0LXNoYTEwIBcNMjYxMTI4MTMwMjA3WhgPMjEy',
  'NjExMDQxMzAyMDdaMBoxGDAWBgNVBAMMD3Bna2V5LXRlc3Qtc2hhMTBZMBMGByqG',
  'SM49AgEGCCqGSM49AwEHA0IABELIgUL5Eb5ZL/itXfOXb+Us9z5661U00NeVcCc3',
  '7RDX3wLb9OuTuGiA/vdSbXCz68RmOCxq1TrzuR2Hmlup+xGjUzBRMB0GA1UdDgQW',
  'BBQvUHpizL8yZxsPB0dK3Az9FZ/Q5DAfBgNVHSMEGDAWgBQvUHpizL8yZxsPB0dK',
  '3Az9FZ/Q5DAPBgNVHRMBAf8EBTADAQH/MAkGByqGSM49BAEDRwAwRAIgJgiktASe',
  'HylUCgt/g7qQViWd5Y8hSgF4CwHvt/Lu/GACIFmNMCXb3ru/730uqE6mTfq4hUsC',
  'gSNWI2hlKb3khCHp',
]);

const ECDSA_SHA384 = der([
  'MIIBkDCCATWgAwIBAgIUbdFoyZBqEaxbTxjgFECRy8EL2vEwCgYIKoZIzj0EAwMw',
  'HDEaMBgGA1UEAwwRcGdrZXktdGVzdC1zaGEzODQwIBcNMjYxMTI4MTMwMjA3WhgP',
  'MjEyNjExMDQxMzAyMDdaMBwxGjAYBgNVBAMMEXBna2V5LXRlc3Qtc2hhMzg0MFkw',
  'EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgathjCge4QI7DV2HQCJhFOwt2XNxrY3n',
  'Y66Fv21r1maGNck0vNwRixiIzdZLevnqd45w7vWMbBcydmqiKJcrtaNTMFEwHQYD',
  'VR0OBBYEFBpxc4AsFtXaCHQWRiHlUrVbNO2aMB8GA1UdIwQYMBaAFBpxc4AsFtXa',
  'CHQWRiHlUrVbNO2aMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwMDSQAwRgIh',
  'APFAT6hyUy8BjYvRZx28uPRf2Bb2/BkE50JARqCumqRcAiEAs87sdrhzTTsnO3P2',
  'uNZc2epCg6Oyc5wqGVzHmeu4+Zw=',
]);

const RSA_PSS_SHA512 = der([
  'MIICeDCCAa2gAwIBAgIUGuvPOizGwO0ESvmjzF295p8FttYwQQYJKoZIhvcNAQEK',
  'MDSgDzANBglghkgBZQMEAgMFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgMF',
  'AKIDAgEgMBkxFzAVBgNVBAMMDnBna2V5LXRlc3QtcHNzMCAXDTI2MTEyODEzMDIw',
  'N1oYDzIxMjYxMTA0MTMwMjA3WjAZMRcwFQYDVQQDDA5wZ2tleS10ZXN0LXBzczCB',
  'nzANBgkqhkiG9w0BAQEFAAOBjQAwgYkCgYEA8UTjgVpRMzxg3P2rCM7xV8o7YzoI',
  '7iTk/fffuR2f1U7a3JVjEKnbZ866gcRlAhWxgCCMB5qSIxQbt3UT5++xnYZiVyvw',
  '1FV30q929+9yGrlQU1u/aB+mvi9QloozJl1wX2hwEPwS8Xa7rmbE0u8hmyS7fQ3e',
  'DoZGn+bdIpG7khECAwEAAaNTMFEwHQYDVR0OBBYEFKSApanVuPxVybRqD3J30wQ1',
  'fKxUMB8GA1UdIwQYMBaAFKSApanVuPxVybRqD3J30wQ1fKxUMA8GA1UdEwEB/wQF',
  'MAMBAf8wQQYJKoZIhvcNAQEKMDSgDzANBglghkgBZQMEAgMFAKEcMBoGCSqGSIb3',
  'DQEBCDANBglghkgBZQMEAgMFAKIDAgEgA4GBALruudk4WtQaDFiQLJey8xrLpbrD',
  'rRkZ4E7iZcUz2VKrNyQhDGNgmbNc2pZ2VhYHbbxYG6xTFjnu2RB8ftHSEoZnFjJG',
  'gI/VSuYYVHanTMqOTSQ3FSomqP/O30WrdEJPb6W/8CYOP1p0BqHdErVDO6s1fYUW',
  'ZQdwsQLoRs+hC1SK',
]);

const ED25519 = der([
  'MIIBUTCCAQOgAwIBAgIURA59Ophqie7yF3K+OeGrLoTpbj4wBQYDK2VwMB0xGzAZ',
  'BgNVBAMMEnBna2V5LXRlc3QtZWQyNTUxOTAgFw0yNjExMjgxMzAyMDdaGA8yMTI2',
  'MTEwNDEzMDIwN1owHTEbMBkGA1UEAwwScGdrZXktdGVzdC1lZDI1NTE5MCowBQYD',
  'K2VwAyEAO1lga86UcC0xfqO4nS2NgrdsVel9tJ137X/IDm9HkLOjUzBRMB0GA1Ud',
  'DgQWBBTZJ92Koqi4FmpymvehtEEeN2UN0zAfBgNVHSMEGDAWgBTZJ92Koqi4Fmpy',
  'mvehtEEeN2UN0zAPBgNVHRMBAf8EBTADAQH/MAUGAytlcANBAGMHEzjFIhOKVF9I',
  'W8JmB5mECqAX8ZxxDD4XWLXe5ZI2t9MJbmlkJ4dqT3CfeqPOwrhMSvfd9hhNjd4M',
  'RpqruwY=',
]);

describe('tls-server-end-point (RFC 5929 §4.1)', () => {
  it('upgrades an ecdsa-with-SHA1 signature to SHA-256', () => {
    assert.equal(
      tlsServerEndPointHash(ECDSA_SHA1).toString('base64'),
      '2J2SSLFoQvjwmiHvnMzCrdtcqFx7O+0czBNhYsPPpYA=',
    );
  });

  it('uses SHA-384 for ecdsa-with-SHA384', () => {
    assert.equal(
      tlsServerEndPointHash(ECDSA_SHA384).toString('base64'),
      '7jKIE7EjnHv0UCmIfR5UpwKxXAiBVIZspchoAW5/0ZpTviHxn9sMeA+rTGTDvgA7',
    );
  });

  it('reads the hash of an RSASSA-PSS signature from its parameters (RFC 4055 §3.1)', () => {
    assert.equal(
      tlsServerEndPointHash(RSA_PSS_SHA512).toString('base64'),
      '6GaNl/+m0gukdX63dW8CT2mXJwpvhLMjVSMDukGoCEc0fJABZn9hRdyppOeCsHa1bF4Qh1Vr7shSgUwcNnDujg==',
    );
  });

  it('refuses Ed25519 rather than binding to nothing (pgjdbc CVE-2026-54291)', () => {
    assert.throws(
      () => tlsServerEndPointHash(ED25519),
      (error) =>
        isPgkeyError(error, 'ERR_UPSTREAM_TLS') &&
        error.reason === 'scram_channel_binding_algorithm',
    );
  });

  it('refuses bytes that are not a certificate', () => {
    assert.throws(
      () => tlsServerEndPointHash(Buffer.from('not a certificate')),
      (error) =>
        isPgkeyError(error, 'ERR_UPSTREAM_TLS') &&
        error.reason === 'scram_channel_binding_certificate',
    );
  });
});
