/**
 * The person-facing commands as a person runs them, in-process: `main(argv, io)` with its
 * own config directory (PGKEY_CONFIG_HOME in a temp dir) and streams a test can read while
 * the command is still running — `pgkey login` prints a URL and then waits for the browser.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { approveWithSoftKey } from '../../src/demo/oidc-login-driver.ts';
import { HeadlessBrowser } from '../../src/demo/headless-browser.ts';
import type { SoftAuthenticator } from '../../src/demo/soft-authenticator.ts';

/** A stream that keeps what was written and can wait for a pattern in it. */
export class LiveText extends Writable {
  text = '';
  #waiters: { pattern: RegExp; resolve(match: RegExpExecArray): void }[] = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    this.#waiters = this.#waiters.filter((waiter) => {
      const match = waiter.pattern.exec(this.text);
      if (match !== null) waiter.resolve(match);
      return match === null;
    });
    done();
  }

  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const match = pattern.exec(this.text);
    if (match !== null) return Promise.resolve(match);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${String(pattern)} in:\n${this.text}`)),
        timeoutMs,
      );
      this.#waiters.push({
        pattern,
        resolve(m) {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }
}

export interface Running {
  readonly stdout: LiveText;
  readonly stderr: LiveText;
  readonly done: Promise<CliResult>;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The loopback login URL `pgkey login` prints (the provider's authorization endpoint). */
export const LOGIN_URL = /^ {2}(http\S+\/auth\?\S+)$/m;

/** The device prompt `pgkey login --device` prints: the verification link, then the code. */
export const DEVICE_PROMPT = /^ {2}(http\S+)\nand check that it shows the code {2}(\S+)$/m;

export class ClientHome {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;

  private constructor(dir: string, env: NodeJS.ProcessEnv) {
    this.dir = dir;
    this.env = env;
  }

  static async create(extraEnv: NodeJS.ProcessEnv = {}): Promise<ClientHome> {
    const dir = await mkdtemp(join(tmpdir(), 'pgkey-client-'));
    return new ClientHome(dir, {
      PATH: process.env.PATH,
      HOME: dir,
      PGKEY_CONFIG_HOME: join(dir, 'config'),
      ...extraEnv,
    });
  }

  get configDir(): string {
    return join(this.dir, 'config');
  }

  /** Starts `pgkey …args`; read its output while it runs. */
  start(...args: string[]): Running {
    const stdout = new LiveText();
    const stderr = new LiveText();
    const done = main(args, { stdout, stderr, env: this.env, cwd: this.dir }).then((code) => ({
      code,
      stdout: stdout.text,
      stderr: stderr.text,
    }));
    return { stdout, stderr, done };
  }

  run(...args: string[]): Promise<CliResult> {
    return this.start(...args).done;
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The browser's part of a loopback login without a browser: the provider's sign-in page
 * with the soft authenticator, then the redirect delivered to the CLI's listener. Returns
 * the text of the page the listener answered.
 */
export async function approveLoopbackLogin(
  issuer: string,
  authorizationUrl: string,
  authenticator: SoftAuthenticator,
  browser = new HeadlessBrowser(issuer),
): Promise<{ status: number; page: string }> {
  const callback = await approveWithSoftKey(browser, authorizationUrl, authenticator);
  const response = await fetch(callback);
  return { status: response.status, page: await response.text() };
}
