import type { Command } from '../command.ts';
import { auditEvents } from './audit-events.ts';
import { auditReport } from './audit-report.ts';
import { auditSearch } from './audit-search.ts';
import { auditVerify } from './audit-verify.ts';
import { configCheck } from './config-check.ts';
import { configDocs } from './config-docs.ts';
import { connstr } from './connstr.ts';
import { demo } from './demo.ts';
import { env } from './env.ts';
import { groupsAdd } from './groups-add.ts';
import { groupsRemove } from './groups-remove.ts';
import { idpRotateKeys } from './idp-rotate-keys.ts';
import { keysList } from './keys-list.ts';
import { keysRevoke } from './keys-revoke.ts';
import { login } from './login.ts';
import { logout } from './logout.ts';
import { policyExplain } from './policy-explain.ts';
import { psql } from './psql.ts';
import { serve } from './serve.ts';
import { status } from './status.ts';
import { token } from './token.ts';
import { tokenExchange } from './token-exchange.ts';
import { tokenList } from './token-list.ts';
import { tokenMint } from './token-mint.ts';
import { tokenRevoke } from './token-revoke.ts';
import { tunnel } from './tunnel.ts';
import { upstreamInit } from './upstream-init.ts';
import { upstreamRotateCa } from './upstream-rotate-ca.ts';
import { usersAdd } from './users-add.ts';
import { usersDisable } from './users-disable.ts';
import { usersEnable } from './users-enable.ts';
import { usersInvite } from './users-invite.ts';
import { usersList } from './users-list.ts';

/** Every command, in the order `pgkey help` lists them. */
export const commands: readonly Command[] = [
  login,
  psql,
  status,
  env,
  token,
  tokenMint,
  tokenList,
  tokenRevoke,
  tokenExchange,
  connstr,
  tunnel,
  logout,
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
  auditVerify,
  auditSearch,
  auditReport,
  auditEvents,
  upstreamInit,
  upstreamRotateCa,
];
