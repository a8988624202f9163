import type { Command } from '../command.ts';
import { configCheck } from './config-check.ts';
import { configDocs } from './config-docs.ts';
import { demo } from './demo.ts';
import { groupsAdd } from './groups-add.ts';
import { groupsRemove } from './groups-remove.ts';
import { idpRotateKeys } from './idp-rotate-keys.ts';
import { keysList } from './keys-list.ts';
import { keysRevoke } from './keys-revoke.ts';
import { policyExplain } from './policy-explain.ts';
import { serve } from './serve.ts';
import { upstreamInit } from './upstream-init.ts';
import { upstreamRotateCa } from './upstream-rotate-ca.ts';
import { usersAdd } from './users-add.ts';
import { usersDisable } from './users-disable.ts';
import { usersEnable } from './users-enable.ts';
import { usersInvite } from './users-invite.ts';
import { usersList } from './users-list.ts';

/** Every command, in the order `pgkey help` lists them. */
export const commands: readonly Command[] = [
  serve,
  demo,
  configCheck,
  configDocs,
  policyExplain,
  usersAdd,
  usersList,
  usersInvite,
  usersDisable,
  usersEnable,
  groupsAdd,
  groupsRemove,
  keysList,
  keysRevoke,
  idpRotateKeys,
  upstreamInit,
  upstreamRotateCa,
];
