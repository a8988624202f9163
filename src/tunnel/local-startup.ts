import type { Duplex } from 'node:stream';
import { PgkeyError, asPgkeyError } from '../errors/pgkey-error.ts';
import { FrameSource } from '../gateway/frame-source.ts';
import { FRONTEND, LATEST_MINOR, MAX_AUTH_MESSAGE_LENGTH } from '../protocol/constants.ts';
import { MessageReader, startupBodyCap } from '../protocol/message-reader.ts';
import { decodeStartupPacket, type StartupPacket } from '../protocol/startup-packet.ts';

export type StartupMessage = Extract<StartupPacket, { kind: 'startup' }>;

/** How a local connection opens: a session to relay, or a cancel for a running one. */
export type LocalStartup =
  | { readonly kind: 'startup'; readonly message: StartupMessage; readonly frames: FrameSource }
  | { readonly kind: 'cancel'; readonly processId: number; readonly secretKey: Buffer }
  /**
   * A malformed packet. `answer`: the client speaks protocol 3, so a FATAL may tell it why;
   * otherwise PostgreSQL closes without a word, and so does the tunnel.
   */
  | { readonly kind: 'invalid'; readonly error: PgkeyError; readonly answer: boolean };

/** All a local client may have buffered before the tunnel logged it in. */
const BUFFER_LIMIT = MAX_AUTH_MESSAGE_LENGTH + 16 * 1024;

/**
 * The startup phase of a local client, read with the gateway's codec (backend_startup.c
 * ProcessStartupPacket): SSLRequest and GSSENCRequest are answered 'N' — the bytes stay on
 * this machine, and TLS starts in the tunnel's own connection to the gateway — then either a
 * CancelRequest or the StartupMessage. Resolves undefined when the client leaves first.
 */
export async function readLocalStartup(socket: Duplex): Promise<LocalStartup | undefined> {
  const reader = new MessageReader({
    typed: false,
    // Once typed (a local password), only the PasswordMessage may be large.
    maxBodyLength: (type) =>
      type === -1 ? startupBodyCap() : type === FRONTEND.Password ? MAX_AUTH_MESSAGE_LENGTH : 1024,
  });
  const frames = new FrameSource(socket, reader, BUFFER_LIMIT);
  let sslDone = false;
  let gssDone = false;
  let answer = false;
  try {
    for (;;) {
      const frame = await frames.next();
      if (frame === undefined) {
        frames.detach();
        return undefined;
      }
      // backend_startup.c knows the protocol before it reads a StartupMessage's parameters.
      answer = frame.body.length >= 4 && frame.body.readUInt32BE(0) >>> 16 === 3;
      const packet = decodeStartupPacket(frame.body);
      switch (packet.kind) {
        case 'ssl-request':
        case 'gssenc-request': {
          // One of each per connection, as PostgreSQL allows; a repeat is answered FATAL.
          const repeated = packet.kind === 'ssl-request' ? sslDone : gssDone;
          answer = repeated;
          if (repeated) throw repeatedNegotiation(packet.kind);
          if (packet.kind === 'ssl-request') sslDone = true;
          else gssDone = true;
          socket.write(Buffer.from('N'));
          continue;
        }
        case 'cancel-request':
          frames.detach();
          return { kind: 'cancel', processId: packet.processId, secretKey: packet.secretKey };
        case 'startup':
          return { kind: 'startup', message: packet, frames };
        default:
          throw new TypeError(`unhandled packet ${JSON.stringify(packet satisfies never)}`);
      }
    }
  } catch (error) {
    frames.detach();
    return { kind: 'invalid', error: asPgkeyError(error), answer };
  }
}

function repeatedNegotiation(kind: 'ssl-request' | 'gssenc-request'): PgkeyError {
  const code = kind === 'ssl-request' ? '1234.5679' : '1234.5680';
  return new PgkeyError('ERR_UNSUPPORTED_PROTOCOL', {
    reason: 'repeated_negotiation',
    message: `unsupported frontend protocol ${code}: server supports 3.0 to 3.${LATEST_MINOR}`,
  });
}
