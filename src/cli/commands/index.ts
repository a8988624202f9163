import type { Command } from '../command.ts';
import { configCheck } from './config-check.ts';
import { configDocs } from './config-docs.ts';
import { policyExplain } from './policy-explain.ts';
import { serve } from './serve.ts';
import { upstreamInit } from './upstream-init.ts';
import { upstreamRotateCa } from './upstream-rotate-ca.ts';

/** Every command, in the order `pgkey help` lists them. */
export const commands: readonly Command[] = [
  serve,
  configCheck,
  configDocs,
  policyExplain,
  upstreamInit,
  upstreamRotateCa,
];
