import { X509Certificate } from 'node:crypto';
import { rename, stat, unlink } from 'node:fs/promises';
import { extname } from 'node:path';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import {
  generateUpstreamCa,
  loadUpstreamCa,
  type GenerateCaOptions,
  type UpstreamCaFiles,
} from './upstream-ca.ts';
import { exists, readPemFile, writePemFile } from './pem-files.ts';

/**
 * Zero-downtime rotation of the upstream CA. PostgreSQL must trust a CA before pgkey signs
 * with it, and keep trusting the old one until no gateway uses it any more:
 *
 *   idle ──prepare──▶ prepared ──activate──▶ activated ──finish──▶ idle
 *   (trust: old)      (old + next; old signs) (new + previous; new signs) (new)
 *
 * The state is nothing but which files exist next to the CA files, so every process and
 * every `pgkey` invocation sees the same step. ssl_* settings reload on SIGHUP (PostgreSQL
 * ≥ 10), so installing a bundle needs `SELECT pg_reload_conf()`, not a restart.
 */
export type RotationStep = 'idle' | 'prepared' | 'activating' | 'activated';

export interface RotationFiles {
  /** Pending CA, written by prepare: `<cert stem>.next<ext>`, `<key stem>.next<ext>`. */
  readonly nextCert: string;
  readonly nextKey: string;
  /** The old CA certificate after activate (its key is not kept): `<cert stem>.previous<ext>`. */
  readonly previousCert: string;
  /** What PostgreSQL's ssl_ca_file must hold: `<cert stem>-bundle.pem`. */
  readonly bundle: string;
}

export interface CaSummary {
  readonly subject: string;
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface RotationStatus {
  readonly step: RotationStep;
  readonly files: RotationFiles;
  readonly active: CaSummary;
  readonly next?: CaSummary;
  readonly previous?: CaSummary;
}

export interface RotationResult {
  readonly step: RotationStep;
  readonly bundlePem: string;
  readonly bundlePath: string;
}

export function rotationFiles(files: UpstreamCaFiles): RotationFiles {
  const stem = (path: string): [string, string] => {
    const ext = extname(path);
    return ext === '' ? [path, '.pem'] : [path.slice(0, -ext.length), ext];
  };
  const [cert, certExt] = stem(files.cert);
  const [key, keyExt] = stem(files.key);
  return {
    nextCert: `${cert}.next${certExt}`,
    nextKey: `${key}.next${keyExt}`,
    previousCert: `${cert}.previous${certExt}`,
    bundle: `${cert}-bundle.pem`,
  };
}

export async function rotationStatus(files: UpstreamCaFiles): Promise<RotationStatus> {
  const paths = rotationFiles(files);
  const [nextCert, nextKey, previous] = await Promise.all(
    [paths.nextCert, paths.nextKey, paths.previousCert].map(exists),
  );
  let step: RotationStep;
  if (previous === true) step = nextCert === true || nextKey === true ? 'activating' : 'activated';
  else if (nextCert === true && nextKey === true) step = 'prepared';
  else if (nextCert === true || nextKey === true) {
    const [present, missing] =
      nextCert === true ? [paths.nextCert, paths.nextKey] : [paths.nextKey, paths.nextCert];
    throw new PgkeyError('ERR_FILE', {
      message: `incomplete pending CA: '${present}' exists but '${missing}' does not`,
      hint: `A prepare step was interrupted. Remove '${present}' and prepare again.`,
      reason: 'rotation_incomplete',
    });
  } else step = 'idle';
  const summary = async (path: string): Promise<CaSummary> =>
    summarize(await readCertificate(path));
  return {
    step,
    files: paths,
    active: await summary(files.cert),
    ...(nextCert === true && { next: await summary(paths.nextCert) }),
    ...(previous === true && { previous: await summary(paths.previousCert) }),
  };
}

/** Step 1: create the pending CA and the bundle PostgreSQL must trust before step 2. */
export async function prepareRotation(
  files: UpstreamCaFiles,
  options: GenerateCaOptions = {},
): Promise<RotationResult> {
  await expectStep(files, ['idle'], 'prepare');
  await loadUpstreamCa(files, options); // the active CA must be sound before we add one
  const paths = rotationFiles(files);
  const next = await generateUpstreamCa(options);
  await writePemFile(paths.nextKey, next.keyPem, { mode: 0o600 });
  await writePemFile(paths.nextCert, next.certPem, { mode: 0o644 });
  return writeBundle(files, 'prepared', await trustBundlePem(files));
}

/**
 * Step 2: the pending CA becomes the signer; the old certificate stays trusted as
 * "previous". Run it only after PostgreSQL has reloaded the bundle from step 1, then send
 * SIGHUP to every gateway. Resumes an activation that was interrupted half way.
 */
export async function activateRotation(
  files: UpstreamCaFiles,
  options: { readonly clock?: Clock } = {},
): Promise<RotationResult> {
  const step = await expectStep(files, ['prepared', 'activating'], 'activate');
  const paths = rotationFiles(files);
  if (step === 'prepared') {
    await loadUpstreamCa({ cert: paths.nextCert, key: paths.nextKey }, options);
    // Written first: from here on the step reads "activating" until both renames are done.
    await writePemFile(paths.previousCert, await readPemFile(files.cert), { mode: 0o644 });
  }
  // rename(2) replaces atomically; the old key is overwritten, not kept.
  if (await exists(paths.nextKey)) await renameOrThrow(paths.nextKey, files.key);
  if (await exists(paths.nextCert)) await renameOrThrow(paths.nextCert, files.cert);
  await loadUpstreamCa(files, options);
  return writeBundle(files, 'activated', await trustBundlePem(files));
}

/**
 * Step 3: stop trusting the previous CA. With `minAgeMs` (use `upstream.cert_ttl`), refuses
 * until that long after activation, when no certificate from the old CA can be cached.
 */
export async function finishRotation(
  files: UpstreamCaFiles,
  options: { readonly clock?: Clock; readonly minAgeMs?: number } = {},
): Promise<RotationResult> {
  await expectStep(files, ['activated'], 'finish');
  const paths = rotationFiles(files);
  await loadUpstreamCa(files, options);
  const activatedAt = (await stat(paths.previousCert)).mtimeMs;
  const wait = activatedAt + (options.minAgeMs ?? 0) - (options.clock ?? systemClock).now();
  if (wait > 0) {
    throw new PgkeyError('ERR_USAGE', {
      message: `the previous CA was retired ${new Date(activatedAt).toISOString()}; certificates it signed may still be in use for ${Math.ceil(wait / 1000)} s`,
      hint: 'Make sure every gateway has reloaded (SIGHUP), then finish after that time.',
      reason: 'rotation_too_early',
    });
  }
  // Bundle first, then the state file: a crash in between leaves "activated", re-runnable.
  const result = await writeBundle(files, 'idle', await renderBundle([[files.cert, 'active']]));
  await unlink(paths.previousCert);
  return result;
}

/** The PEM bundle PostgreSQL's ssl_ca_file needs in the current step (active first). */
export async function trustBundlePem(files: UpstreamCaFiles): Promise<string> {
  const paths = rotationFiles(files);
  const sources: [string, string][] = [[files.cert, 'active']];
  if (await exists(paths.nextCert)) sources.push([paths.nextCert, 'next']);
  if (await exists(paths.previousCert)) sources.push([paths.previousCert, 'previous']);
  return renderBundle(sources);
}

async function renderBundle(sources: [path: string, label: string][]): Promise<string> {
  const blocks: string[] = [];
  for (const [path, label] of sources) {
    const cert = await readCertificate(path);
    // OpenSSL skips text outside BEGIN/END lines, so each block can say what it is.
    blocks.push(
      `# pgkey upstream CA (${label}): ${cert.subject}\n# sha256 ${cert.fingerprint256}\n${cert.toString()}`,
    );
  }
  return blocks.join('');
}

async function writeBundle(
  files: UpstreamCaFiles,
  step: RotationStep,
  bundlePem: string,
): Promise<RotationResult> {
  const bundlePath = rotationFiles(files).bundle;
  await writePemFile(bundlePath, bundlePem, { mode: 0o644, force: true });
  return { step, bundlePem, bundlePath };
}

const NEXT_STEP: Record<RotationStep, string> = {
  idle: 'no rotation is in progress; the first step is prepare',
  prepared: 'a rotation is prepared; install the bundle in PostgreSQL, reload it, then activate',
  activating: 'an activation was interrupted; run activate again to complete it',
  activated: 'the new CA is active; after every gateway has reloaded, finish',
};

async function expectStep(
  files: UpstreamCaFiles,
  allowed: RotationStep[],
  action: string,
): Promise<RotationStep> {
  const { step } = await rotationStatus(files);
  if (!allowed.includes(step)) {
    throw new PgkeyError('ERR_USAGE', {
      message: `cannot ${action} the upstream CA rotation now: ${NEXT_STEP[step]}`,
      reason: 'rotation_out_of_order',
    });
  }
  return step;
}

async function renameOrThrow(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (cause) {
    throw new PgkeyError('ERR_FILE', {
      message: `cannot move '${from}' to '${to}'`,
      reason: 'file_io',
      cause,
    });
  }
}

async function readCertificate(path: string): Promise<X509Certificate> {
  const pem = await readPemFile(path);
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `${path}: not a PEM X.509 certificate`,
      reason: 'upstream_ca_invalid',
      cause,
    });
  }
}

function summarize(cert: X509Certificate): CaSummary {
  return {
    subject: cert.subject,
    fingerprint: cert.fingerprint256,
    notBefore: cert.validFromDate.toISOString(),
    notAfter: cert.validToDate.toISOString(),
  };
}
