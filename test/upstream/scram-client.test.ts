import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import type { Random } from '../../src/runtime/random.ts';
import { ScramClient, SCRAM_LIMITS } from '../../src/upstream/scram-client.ts';
import { clearScramKeyCache, scramKeyCacheSize } from '../../src/upstream/scram-keys.ts';

// RFC 7677 §3: the SCRAM-SHA-256 exchange for user "user", password "pencil".
const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst:
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,' +
    'p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

/** The Random seam hands out the RFC's client nonce (15 bytes whose base64 is the nonce). */
const rfcRandom: Random = {
  bytes: () => Buffer.from(RFC.clientNonce, 'base64'),
  int: (min) => min,
};

// An ecdsa-with-SHA1 test certificate; its tls-server-end-point hash (SHA-256, upgraded from
// SHA-1) was computed with openssl, outside pgkey.
const CERTIFICATE = Buffer.from(
  'MIIBiDCCATCgAwIBAgIUaOgUtZ8AqVZ2ie76GmW0ICuvDzYwCQYHKoZIzj0EATAaMRgwFgYDVQQDDA9wZ2tleS10ZXN0' +
    'LXNoYTEwIBcNMjYxMTI4MTMwMjA3WhgPMjEyNjExMDQxMzAyMDdaMBoxGDAWBgNVBAMMD3Bna2V5LXRlc3Qtc2hhMTBZ' +
    'MBMGByqGSM49AgEGCCqGSM49AwEHA0IABELIgUL5Eb5ZL/itXfOXb+Us9z5661U00NeVcCc37RDX3wLb9OuTuGiA/vdS' +
    'bXCz68RmOCxq1TrzuR2Hmlup+xGjUzBRMB0GA1UdDgQWBBQvUHpizL8yZxsPB0dK3Az9FZ/Q5DAfBgNVHSMEGDAWgBQv' +
    'UHpizL8yZxsPB0dK3Az9FZ/Q5DAPBgNVHRMBAf8EBTADAQH/MAkGByqGSM49BAEDRwAwRAIgJgiktASeHylUCgt/g7qQ' +
    'ViWd5Y8hSgF4CwHvt/Lu/GACIFmNMCXb3ru/730uqE6mTfq4hUsCgSNWI2hlKb3khCHp',
  'base64',
);
const CERTIFICATE_HASH = '2J2SSLFoQvjwmiHvnMzCrdtcqFx7O+0czBNhYsPPpYA=';

const BOTH = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] as const;

function rfcClient(): ScramClient {
  return new ScramClient({
    password: 'pencil',
    username: 'user',
    mechanisms: ['SCRAM-SHA-256'],
    random: rfcRandom,
  });
}

function rejects(code: string, reason: string) {
  return (error: unknown): boolean => {
    assert.ok(isPgkeyError(error), `expected a PgkeyError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.reason, reason);
    return true;
  };
}

/** A client that has sent client-first; `serverFirst` builds a reply extending its nonce. */
function started(): {
  client: ScramClient;
  serverFirst: (rest: string, suffix?: string) => Buffer;
} {
  const client = rfcClient();
  client.initialResponse();
  return {
    client,
    serverFirst: (rest, suffix = 'server-part') =>
      Buffer.from(`r=${RFC.clientNonce}${suffix},${rest}`, 'latin1'),
  };
}

describe('ScramClient: RFC 7677 §3 test vector', () => {
  it('produces the exact client-first and client-final and accepts the server signature', async () => {
    const client = rfcClient();
    assert.equal(client.mechanism, 'SCRAM-SHA-256');
    assert.equal(client.initialResponse().toString(), RFC.clientFirst);
    const final = await client.continue(Buffer.from(RFC.serverFirst));
    assert.equal(final.toString(), RFC.clientFinal);
    assert.equal(client.completed, false);
    client.final(Buffer.from(RFC.serverFinal));
    assert.equal(client.completed, true);
  });

  it('sends an empty user name and an 18-byte nonce by default, like libpq', () => {
    const client = new ScramClient({ password: 'x', mechanisms: ['SCRAM-SHA-256'] });
    const match = /^n,,n=,r=([A-Za-z0-9+/]{24})$/.exec(client.initialResponse().toString());
    assert.ok(match);
    assert.equal(Buffer.from(match[1] ?? '', 'base64').length, SCRAM_LIMITS.clientNonceBytes);
  });

  it('caches derived keys by (password, salt, iterations)', async () => {
    clearScramKeyCache();
    for (const salt of ['W22ZaJ0SNY7soEsUEjb6gQ==', 'W22ZaJ0SNY7soEsUEjb6gQ==', 'AAAAAAAA']) {
      const { client, serverFirst } = started();
      await client.continue(serverFirst(`s=${salt},i=4096`));
    }
    assert.equal(scramKeyCacheSize(), 2);
  });
});

describe('ScramClient: mechanism and channel binding (RFC 5802 §6, RFC 5929)', () => {
  it('chooses -PLUS with tls-server-end-point when offered over TLS', async () => {
    const client = new ScramClient({
      password: 'pencil',
      mechanisms: BOTH,
      serverCertificateDer: CERTIFICATE,
      random: rfcRandom,
    });
    assert.equal(client.mechanism, 'SCRAM-SHA-256-PLUS');
    assert.ok(client.initialResponse().toString().startsWith('p=tls-server-end-point,,n=,r='));
    const final = await client.continue(Buffer.from(RFC.serverFirst));
    const expected = Buffer.concat([
      Buffer.from('p=tls-server-end-point,,'),
      Buffer.from(CERTIFICATE_HASH, 'base64'),
    ]).toString('base64');
    assert.ok(final.toString().startsWith(`c=${expected},r=`));
  });

  it('sends y,, over TLS when the server does not offer -PLUS', async () => {
    const client = new ScramClient({
      password: 'pencil',
      mechanisms: ['SCRAM-SHA-256'],
      serverCertificateDer: CERTIFICATE,
      random: rfcRandom,
    });
    assert.equal(client.mechanism, 'SCRAM-SHA-256');
    assert.ok(client.initialResponse().toString().startsWith('y,,n=,r='));
    const final = await client.continue(Buffer.from(RFC.serverFirst));
    assert.ok(final.toString().startsWith('c=eSws,r=')); // base64("y,,")
  });

  it('sends n,, without TLS, even if a (hostile) server offers -PLUS', () => {
    const client = new ScramClient({ password: 'x', mechanisms: BOTH });
    assert.equal(client.mechanism, 'SCRAM-SHA-256');
    assert.ok(client.initialResponse().toString().startsWith('n,,'));
  });

  it('refuses a server that offers no SCRAM-SHA-256', () => {
    assert.throws(
      () => new ScramClient({ password: 'x', mechanisms: ['OAUTHBEARER'] }),
      rejects('ERR_UPSTREAM_AUTH', 'scram_mechanism'),
    );
  });
});

describe('ScramClient: hostile server-first (CVE-2026-6665, CVE-2026-6669)', () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    [
      'a nonce that does not extend ours',
      'r=someone-elses-nonce,s=AAAA,i=4096',
      'scram_nonce_mismatch',
    ],
    ['a nonce equal to ours', `r=${RFC.clientNonce},s=AAAA,i=4096`, 'scram_nonce_mismatch'],
    [
      'a nonce over 1024 bytes',
      `r=${RFC.clientNonce}${'x'.repeat(1100)},s=AAAA,i=4096`,
      'scram_nonce_length',
    ],
    [
      'a 100 kB message',
      `r=${RFC.clientNonce}${'x'.repeat(100_000)},s=AAAA,i=4096`,
      'scram_message_length',
    ],
    ['iterations 0', `r=${RFC.clientNonce}x,s=AAAA,i=0`, 'scram_iterations'],
    ['iterations 1e9', `r=${RFC.clientNonce}x,s=AAAA,i=1000000000`, 'scram_iterations'],
    ['iterations written 1e9', `r=${RFC.clientNonce}x,s=AAAA,i=1e9`, 'scram_iterations'],
    ['iterations above the cap', `r=${RFC.clientNonce}x,s=AAAA,i=100001`, 'scram_iterations'],
    ['non-integer iterations', `r=${RFC.clientNonce}x,s=AAAA,i=4096.5`, 'scram_iterations'],
    ['negative iterations', `r=${RFC.clientNonce}x,s=AAAA,i=-1`, 'scram_iterations'],
    ['a salt that is not base64', `r=${RFC.clientNonce}x,s=not*base64,i=4096`, 'scram_salt'],
    ['a salt with bad padding', `r=${RFC.clientNonce}x,s=AAA,i=4096`, 'scram_salt'],
    ['an empty salt', `r=${RFC.clientNonce}x,s=,i=4096`, 'scram_salt'],
    [
      'a salt over 1024 characters',
      `r=${RFC.clientNonce}x,s=${'A'.repeat(1028)},i=4096`,
      'scram_salt',
    ],
    ['a mandatory extension', `m=ext,r=${RFC.clientNonce}x,s=AAAA,i=4096`, 'scram_extension'],
    ['a trailing attribute', `r=${RFC.clientNonce}x,s=AAAA,i=4096,x=1`, 'scram_malformed'],
    ['attributes out of order', `s=AAAA,r=${RFC.clientNonce}x,i=4096`, 'scram_malformed'],
    ['a control byte', `r=${RFC.clientNonce}x\u0001,s=AAAA,i=4096`, 'scram_malformed'],
    ['an empty message', '', 'scram_message_length'],
  ];
  for (const [name, message, reason] of cases) {
    it(`rejects ${name}`, async () => {
      const client = rfcClient();
      client.initialResponse();
      await assert.rejects(
        client.continue(Buffer.from(message, 'latin1')),
        rejects('ERR_UPSTREAM_PROTOCOL', reason),
      );
      // A failed exchange stays failed.
      assert.throws(
        () => client.final(Buffer.from(RFC.serverFinal)),
        rejects('ERR_UPSTREAM_PROTOCOL', 'scram_out_of_order'),
      );
    });
  }

  it('accepts the iteration cap itself', async () => {
    const { client, serverFirst } = started();
    await client.continue(serverFirst(`s=AAAA,i=${SCRAM_LIMITS.maxIterations}`));
  });

  it('never puts server text in the message, only in cause', async () => {
    const { client } = started();
    const error: unknown = await client
      .continue(Buffer.from('r=EVIL-SERVER-TEXT,s=AAAA,i=4096'))
      .catch((caught: unknown) => caught);
    assert.ok(isPgkeyError(error));
    assert.doesNotMatch(error.message, /EVIL/);
    assert.match(JSON.stringify(error.cause), /EVIL-SERVER-TEXT/);
  });
});

describe('ScramClient: hostile server-final', () => {
  async function atFinal(): Promise<ScramClient> {
    const client = rfcClient();
    client.initialResponse();
    await client.continue(Buffer.from(RFC.serverFirst));
    return client;
  }

  it('turns e= into ERR_UPSTREAM_AUTH without echoing the server', async () => {
    const client = await atFinal();
    assert.throws(
      () => client.final(Buffer.from('e=invalid-proof')),
      (error) => {
        rejects('ERR_UPSTREAM_AUTH', 'scram_server_error')(error);
        assert.doesNotMatch((error as Error).message, /invalid-proof/);
        return true;
      },
    );
    assert.equal(client.completed, false);
  });

  const signatures: ReadonlyArray<readonly [string, string]> = [
    ['a wrong v=', `v=${createHash('sha256').update('wrong').digest('base64')}`],
    ['a tampered v=', RFC.serverFinal.replace('6rri', '6rrj')],
    ['a truncated v=', 'v=6rriTRBi23WpRR/wtup+mA=='],
  ];
  for (const [name, message] of signatures) {
    it(`rejects ${name}`, async () => {
      const client = await atFinal();
      assert.throws(
        () => client.final(Buffer.from(message)),
        rejects('ERR_UPSTREAM_AUTH', 'scram_server_signature'),
      );
      assert.equal(client.completed, false);
    });
  }

  it('rejects a v= with trailing data or no base64', async () => {
    for (const message of [`${RFC.serverFinal},x=1`, 'v=***', 'nonsense']) {
      const client = await atFinal();
      assert.throws(
        () => client.final(Buffer.from(message)),
        rejects('ERR_UPSTREAM_PROTOCOL', 'scram_malformed'),
      );
    }
  });
});

describe('ScramClient: message order', () => {
  it('refuses SASLFinal before SASLContinue and a second SASLContinue', async () => {
    const early = rfcClient();
    early.initialResponse();
    assert.throws(
      () => early.final(Buffer.from(RFC.serverFinal)),
      rejects('ERR_UPSTREAM_PROTOCOL', 'scram_out_of_order'),
    );

    const twice = rfcClient();
    twice.initialResponse();
    const first = twice.continue(Buffer.from(RFC.serverFirst));
    await assert.rejects(
      twice.continue(Buffer.from(RFC.serverFirst)),
      rejects('ERR_UPSTREAM_PROTOCOL', 'scram_out_of_order'),
    );
    // The first call, still deriving keys, must not carry on with a failed exchange.
    await assert.rejects(first, rejects('ERR_UPSTREAM_PROTOCOL', 'scram_out_of_order'));
    assert.equal(twice.completed, false);
  });

  it('refuses a second initial response', () => {
    const client = rfcClient();
    client.initialResponse();
    assert.throws(
      () => client.initialResponse(),
      rejects('ERR_UPSTREAM_PROTOCOL', 'scram_out_of_order'),
    );
  });
});
