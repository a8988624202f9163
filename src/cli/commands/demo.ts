import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

/**
 * `pgkey demo`: a throwaway PostgreSQL, the gateway and the built-in FIDO2 provider on
 * localhost, an administrator and their enrollment link, until Ctrl+C. `--selftest` runs the
 * whole path headlessly with a software authenticator — enroll, log in, psql, revoke, session
 * ended — and exits 0 only when every step passed.
 */
export const demo: Command = {
  name: 'demo',
  summary: 'run PostgreSQL, the gateway and the FIDO2 provider on this machine',
  usage:
    'pgkey demo [--dir pgkey-demo] [--fresh] [--email admin@demo.local] [--verbose]\n' +
    '       pgkey demo --selftest [--verbose]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      dir: { type: 'string' },
      fresh: { type: 'boolean' },
      email: { type: 'string' },
      selftest: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
    });
    const [{ createLogger }, { DEFAULT_DEMO_DIR, DEFAULT_DEMO_EMAIL }] = await Promise.all([
      import('../../runtime/logger.ts'),
      import('../../demo/demo.ts'),
    ]);
    // pgkey's own JSON logs go to stderr; only errors unless asked, so the steps stay readable.
    const logger = createLogger(values.verbose === true ? 'info' : 'error');
    const email = (values.email ?? DEFAULT_DEMO_EMAIL).trim().toLowerCase();

    const controller = new AbortController();
    const stop = (): void => {
      if (controller.signal.aborted) process.exit(130); // a second Ctrl+C: exit hooks stop PostgreSQL
      controller.abort();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      if (values.selftest === true) {
        const { runSelftest } = await import('../../demo/selftest.ts');
        // Ctrl+C during the selftest: exit at once; PostgreSQL is stopped by the exit hook.
        controller.signal.addEventListener('abort', () => process.exit(130), { once: true });
        return await runSelftest({ stdout: io.stdout, logger, env: io.env, email });
      }
      const { runDemo } = await import('../../demo/demo.ts');
      return await runDemo({
        dir: values.dir ?? DEFAULT_DEMO_DIR,
        cwd: io.cwd,
        fresh: values.fresh === true,
        email,
        stdout: io.stdout,
        logger,
        env: io.env,
        stop: controller.signal,
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
