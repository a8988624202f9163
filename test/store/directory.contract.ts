/**
 * The ONE directory contract (STYLE.md item 9, hono's common.case.test.ts): every Directory
 * implementation runs exactly these tests, so sqlite and PostgreSQL cannot drift apart.
 * Each test gets a fresh, empty directory from `open` and gives it back with `cleanup`;
 * `another` opens a second directory on the same storage (another process or node), which
 * the contract closes before `cleanup`.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe } from 'node:test';
import type { Directory } from '../../src/store/directory.ts';
import { ceremonyContract } from './contract-ceremonies.ts';
import { credentialContract } from './contract-credentials.ts';
import { lifecycleContract } from './contract-lifecycle.ts';
import { mintedTokenContract } from './contract-minted-tokens.ts';
import { providerContract } from './contract-provider.ts';
import type { AnotherDirectory, CurrentDirectory } from './contract-support.ts';
import { userContract } from './contract-users.ts';

export interface OpenedDirectory {
  readonly directory: Directory;
  /** A second directory on the same file or schema, as another process would open it. */
  another(): Promise<Directory>;
  cleanup(): Promise<void>;
}

export function directoryContract(name: string, open: () => Promise<OpenedDirectory>): void {
  describe(`${name} directory contract`, () => {
    let opened: OpenedDirectory | undefined;
    let others: Directory[] = [];
    beforeEach(async () => {
      opened = await open();
    });
    afterEach(async () => {
      await Promise.all(others.map((other) => other.close()));
      others = [];
      await opened?.cleanup();
      opened = undefined;
    });
    const current: CurrentDirectory = () => {
      assert.ok(opened !== undefined, 'no directory open');
      return opened.directory;
    };
    const another: AnotherDirectory = async () => {
      assert.ok(opened !== undefined, 'no directory open');
      const other = await opened.another();
      others.push(other);
      return other;
    };
    userContract(current);
    credentialContract(current);
    ceremonyContract(current);
    providerContract(current);
    lifecycleContract(current, another);
    mintedTokenContract(current, another);
  });
}
