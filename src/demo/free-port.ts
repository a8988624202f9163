/**
 * A TCP port on 127.0.0.1 that is free right now: `preferred` when it can be bound (so a
 * demo keeps its addresses between runs), else one the kernel picks. Someone may take it
 * before the caller binds it; callers retry with another (`isAddressInUse`).
 */
import { createServer } from 'node:net';
import { PgkeyError } from '../errors/pgkey-error.ts';

export async function freePort(preferred?: number): Promise<number> {
  if (preferred !== undefined && preferred > 0) {
    const port = await tryBind(preferred);
    if (port !== undefined) return port;
  }
  const port = await tryBind(0);
  if (port === undefined) {
    throw new PgkeyError('ERR_INTERNAL', { message: 'no free TCP port on 127.0.0.1' });
  }
  return port;
}

/** EADDRINUSE anywhere in the error's cause chain: the port was taken in the meantime. */
export function isAddressInUse(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') return true;
  }
  return false;
}

function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}
