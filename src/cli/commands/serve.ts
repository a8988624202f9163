import { resolve } from 'node:path';
import { configPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

/**
 * `pgkey serve`: runs the gateway (and the built-in identity provider, when `idp:` is set) until SIGTERM/SIGINT (graceful drain, then exit 0).
 * SIGHUP re-reads the config file and applies TLS certificates, issuers, policy and upstream
 * credentials to new connections without dropping live sessions; a bad file is logged and
 * the running config stays.
 */
export const serve: Command = {
  name: 'serve',
  summary: 'run the gateway',
  usage: 'pgkey serve [--config pgkey.yaml]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { config: { type: 'string', short: 'c' } });
    const [{ loadConfig }, { startPgkeyServer }, { createLogger }] = await Promise.all([
      import('../../config/load.ts'),
      import('../../server/pgkey-server.ts'),
      import('../../runtime/logger.ts'),
    ]);
    const file = resolve(io.cwd, configPath(values.config, io.env));
    const logger = createLogger();
    const gateway = await startPgkeyServer({ config: await loadConfig(file), logger });

    let reloading = Promise.resolve();
    const onHup = (): void => {
      reloading = reloading.then(async () => {
        try {
          await gateway.reload(await loadConfig(file));
        } catch (error) {
          logger.error({ err: error }, 'reload failed; keeping the running configuration');
        }
      });
    };
    process.on('SIGHUP', onHup);
    await new Promise<void>((done) => {
      const stop = (signal: string): void => {
        logger.info({ signal }, 'draining sessions');
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        // A second signal skips the drain.
        const hurry = (): void => void gateway.close().then(done);
        process.once('SIGTERM', hurry);
        process.once('SIGINT', hurry);
        void gateway.drain().then(done);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    process.off('SIGHUP', onHup);
    logger.info('pgkey stopped');
    return 0;
  },
};
