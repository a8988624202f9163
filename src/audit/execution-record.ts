import type { CommandResult } from './backend-replies.ts';
import type { QueryExecution, QueryOutcome, QueryProtocol } from './events.ts';
import type { PreparedNames } from './prepared-names.ts';
import type {
  ExecuteMessage,
  FunctionCallMessage,
  QueryMessage,
  StatementText,
} from './query-messages.ts';
import { parameterRecord, type ParameterMode } from './query-parameters.ts';

export interface CopyState {
  readonly direction: 'in' | 'out';
  rows?: number;
  /** CopyData payload bytes so far. */
  bytes: number;
}

/** A Query, Execute or FunctionCall and what the server has said about it so far. */
export interface Execution {
  readonly protocol: QueryProtocol;
  readonly startedAt: number;
  /** Undefined when the message could not be read. */
  readonly message: QueryMessage | ExecuteMessage | FunctionCallMessage | undefined;
  readonly commands: CommandResult[];
  dataRows: number;
  sqlstate: string | undefined;
  copy: CopyState | undefined;
}

export function newExecution(
  protocol: QueryProtocol,
  message: Execution['message'],
  now: number,
): Execution {
  return {
    protocol,
    startedAt: now,
    message,
    commands: [],
    dataRows: 0,
    sqlstate: undefined,
    copy: undefined,
  };
}

/**
 * The audit record of a finished execution. An Execute is described by its portal as
 * `names` knows it when the answer comes: statement text and the Bind's parameters, shown
 * as the rule's parameter `mode` allows (none at all from a malformed Bind).
 */
export function executionRecord(
  e: Execution,
  outcome: QueryOutcome,
  names: PreparedNames,
  mode: ParameterMode,
  now: number,
): QueryExecution {
  // Row counts come from the command tags; a suspended portal has only its DataRows.
  const tagged = e.commands.reduce<number | undefined>(
    (sum, c) => (c.rows === undefined ? sum : (sum ?? 0) + c.rows),
    undefined,
  );
  const rows = tagged ?? (e.dataRows > 0 ? e.dataRows : undefined);
  return {
    protocol: e.protocol,
    ...target(e, names, mode),
    commands: e.commands,
    ...(rows !== undefined && { rows }),
    outcome,
    ...(e.sqlstate !== undefined && { sqlstate: e.sqlstate }),
    ...(e.copy !== undefined && { copy: { ...e.copy } }),
    duration_ms: Math.max(0, now - e.startedAt),
  };
}

/** What ran: the Query's text, the portal's statement and parameters, or the function. */
function target(e: Execution, names: PreparedNames, mode: ParameterMode): Partial<QueryExecution> {
  const m = e.message;
  if (m === undefined) return {};
  if ('statement' in m) return statementFields(m.statement);
  if ('oid' in m) {
    const parameters =
      m.parameters === undefined ? undefined : parameterRecord(mode, m.parameters, []);
    return { function_oid: m.oid, ...(parameters !== undefined && { parameters }) };
  }
  const portal = names.portal(m.portal);
  if (portal === undefined) return { portal: m.portal };
  const bound = portal.bind.parameters;
  const parameters =
    bound === undefined ? undefined : parameterRecord(mode, bound, portal.prepared?.types ?? []);
  return {
    ...statementFields(portal.prepared?.statement),
    statement_name: portal.statementName,
    portal: m.portal,
    ...(parameters !== undefined && { parameters }),
  };
}

function statementFields(statement: StatementText | undefined): Partial<QueryExecution> {
  if (statement === undefined) return {};
  return {
    statement: statement.text,
    statement_sha256: statement.sha256,
    statement_bytes: statement.bytes,
    statement_truncated: statement.truncated,
  };
}
