import type { Writable } from 'node:stream';
import type { Config } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Random } from '../runtime/random.ts';
import { AuditLog, type AbandonedSession, type AuditWriteObservation } from './audit-log.ts';
import { FileSink, type OpenAuditFile } from './file-sink.ts';
import type { AuditSink } from './sink.ts';
import { openSigningKey, type AuditSigner } from './signing-key.ts';

export interface OpenAuditOptions {
  /** `serve`, `gateway` (chains that hold sessions), `cli`. */
  readonly writer: string;
  readonly clock: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  /**
   * Gateways: close the sessions a crashed predecessor left open (`session.abandoned`)
   * before returning, keep open sessions in checkpoints, rotate the file, apply
   * `on_failure`. Other writers (CLI commands) refuse on failure and never rotate.
   */
  readonly gateway?: boolean;
  /** The `stdout` sink's stream (process.stdout); CLI commands, whose stdout is their output, pass none. */
  readonly stdout?: Writable;
  /** A seam for fault tests: how the file sink opens its file. */
  readonly openFile?: OpenAuditFile;
  readonly onWrite?: (observation: AuditWriteObservation) => void;
}

/** Where the signing key and its public half live for this config. */
export function auditKeyFiles(audit: Config['audit']): { keyFile: string; publicFile: string } {
  return {
    keyFile: audit.signing_key ?? `${audit.file}.key.jwk`,
    publicFile: `${audit.file}.pub.jwk`,
  };
}

/**
 * `audit:` in the config → a started AuditLog: the signing key (created on first use), the
 * sinks, and for a gateway the recovery of sessions a crash left open, all before the first
 * connection is accepted. Every process that writes the trail opens it through here, so all
 * of them chain, sign and reach the same sinks.
 */
export async function openAuditLog(
  audit: Config['audit'],
  options: OpenAuditOptions,
): Promise<AuditLog> {
  const signer: AuditSigner = await openSigningKey(auditKeyFiles(audit));
  const sinks: AuditSink[] = [];
  try {
    for (const kind of audit.sinks) {
      if (kind === 'file') {
        sinks.push(
          await FileSink.open({
            file: audit.file,
            clock: options.clock,
            ...(options.openFile === undefined ? {} : { openFile: options.openFile }),
          }),
        );
      } else if (kind === 'stdout') {
        if (options.stdout !== undefined) {
          const { StdoutSink } = await import('./stdout-sink.ts');
          sinks.push(new StdoutSink(options.stdout));
        }
      } else {
        sinks.push(await openPostgresSink(audit));
      }
    }
    const gateway = options.gateway === true;
    // Before our own chain starts: otherwise its start would be the last chain in the file.
    const abandoned: AbandonedSession[] =
      gateway && audit.sinks.includes('file')
        ? await (await import('./recovery.ts')).findAbandonedSessions(audit.file)
        : [];
    const log = new AuditLog({
      sinks,
      clock: options.clock,
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.onWrite === undefined ? {} : { onWrite: options.onWrite }),
      writer: options.writer,
      signer,
      checkpointRecords: audit.checkpoint_records,
      checkpointIntervalMs: audit.checkpoint_interval,
      trackSessions: gateway,
      onFailure: gateway ? audit.on_failure : 'refuse',
      bufferEvents: audit.buffer,
      rotateBytes: gateway ? audit.rotate_bytes : 0,
    });
    if (gateway) {
      await log.start(abandoned);
      if (abandoned.length > 0) {
        options.logger?.warn(
          { sessions: abandoned.length },
          'the previous pgkey process ended without closing its sessions: recorded them as session.abandoned',
        );
      }
    }
    return log;
  } catch (error) {
    await Promise.allSettled(sinks.map((sink) => sink.close()));
    throw error;
  }
}

async function openPostgresSink(audit: Config['audit']): Promise<AuditSink> {
  const settings = audit.postgres;
  if (settings === undefined) {
    // config rules reject this; a hand-built config might not.
    throw new PgkeyError('ERR_CONFIG', {
      message: 'audit.sinks lists postgres but audit.postgres is not set',
      reason: 'audit_postgres',
    });
  }
  const [{ readUrlFile }, { PostgresSink }] = await Promise.all([
    import('../store/open-directory.ts'),
    import('./postgres-sink.ts'),
  ]);
  const connectionString = await readUrlFile(settings.url_file, 'audit.postgres.url_file');
  return PostgresSink.open({ connectionString, table: settings.table });
}
