// The RFC 8252 loopback listener and the browser launcher, without a provider.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listenForCallback } from '../../src/client/loopback-server.ts';
import { browserCommand } from '../../src/client/open-browser.ts';

describe('loopback redirect listener', () => {
  it('listens on 127.0.0.1, ignores other paths and states, answers the right callback', async () => {
    const listener = await listenForCallback('the-state');
    try {
      assert.match(listener.redirectUri, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      const base = listener.redirectUri;
      assert.equal((await fetch(base.replace('/callback', '/'))).status, 404);
      const wrong = await fetch(`${base}?code=c&state=other`);
      assert.equal(wrong.status, 400);
      assert.match(await wrong.text(), /not opened by the pgkey login/);

      const arrived = listener.next(AbortSignal.timeout(5_000));
      const answer = fetch(`${base}?code=abc&state=the-state&iss=x`);
      const url = await arrived;
      assert.equal(url.searchParams.get('code'), 'abc');
      listener.finish({ ok: true, title: 'Signed in', text: 'You may close this tab.' });
      const response = await answer;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.match(await response.text(), /You may close this tab/);

      // One login, one callback: a replay is turned away.
      const replay = await fetch(`${base}?code=abc&state=the-state`);
      assert.equal(replay.status, 400);
    } finally {
      await listener.close();
    }
  });

  it('a callback that came before anyone waited is kept; waiting can be aborted', async () => {
    const listener = await listenForCallback('s');
    try {
      const answer = fetch(`${listener.redirectUri}?code=early&state=s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const url = await listener.next(AbortSignal.timeout(5_000));
      assert.equal(url.searchParams.get('code'), 'early');
      listener.finish({ ok: false, title: 'Sign-in failed', text: 'no' });
      assert.equal((await answer).status, 400);
    } finally {
      await listener.close();
    }
    const idle = await listenForCallback('t');
    try {
      await assert.rejects(idle.next(AbortSignal.timeout(50)), { name: 'TimeoutError' });
    } finally {
      await idle.close();
    }
  });
});

describe('a fixed callback port (providers that compare it)', () => {
  it('listens where told; a taken port is a clear error', async () => {
    const first = await listenForCallback('s');
    const port = Number(new URL(first.redirectUri).port);
    await first.close();
    const fixed = await listenForCallback('s', port);
    try {
      assert.equal(fixed.redirectUri, `http://127.0.0.1:${port}/callback`);
      await assert.rejects(
        listenForCallback('t', port),
        /callback port 127\.0\.0\.1:\d+ is in use/,
      );
    } finally {
      await fixed.close();
    }
  });
});

describe('opening the browser', () => {
  const url = 'https://idp.example/auth?a=1&b=2';
  it('per platform, never through a shell', () => {
    assert.deepEqual(browserCommand(url, {}, 'linux'), { command: 'xdg-open', args: [url] });
    assert.deepEqual(browserCommand(url, {}, 'darwin'), { command: 'open', args: [url] });
    assert.deepEqual(browserCommand(url, {}, 'win32'), {
      command: 'rundll32',
      args: ['url.dll,FileProtocolHandler', url],
    });
  });

  it('$BROWSER: the first entry, %s replaced or the URL appended', () => {
    assert.deepEqual(browserCommand(url, { BROWSER: 'firefox --new-tab:w3m' }, 'linux'), {
      command: 'firefox',
      args: ['--new-tab', url],
    });
    assert.deepEqual(browserCommand(url, { BROWSER: 'lynx -dump %s' }, 'linux'), {
      command: 'lynx',
      args: ['-dump', url],
    });
  });
});
