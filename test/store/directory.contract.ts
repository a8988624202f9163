/**
 * The ONE directory contract (STYLE.md item 9, hono's common.case.test.ts): every Directory
 * implementation runs exactly these tests, so sqlite and PostgreSQL cannot drift apart.
 * Each test gets a fresh, empty directory from `open` and gives it back with `cleanup`.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe } from 'node:test';
import type { Directory } from '../../src/store/directory.ts';
import { ceremonyContract } from './contract-ceremonies.ts';
import { credentialContract } from './contract-credentials.ts';
import { lifecycleContract } from './contract-lifecycle.ts';
import { providerContract } from './contract-provider.ts';
import type { CurrentDirectory } from './contract-support.ts';
import { userContract } from './contract-users.ts';

export interface OpenedDirectory {
  readonly directory: Directory;
  cleanup(): Promise<void>;
}

export function directoryContract(name: string, open: () => Promise<OpenedDirectory>): void {
  describe(`${name} directory contract`, () => {
    let opened: OpenedDirectory | undefined;
    beforeEach(async () => {
      opened = await open();
    });
    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });
    const current: CurrentDirectory = () => {
      assert.ok(opened !== undefined, 'no directory open');
      return opened.directory;
    };
    userContract(current);
    credentialContract(current);
    ceremonyContract(current);
    providerContract(current);
    lifecycleContract(current);
  });
}
