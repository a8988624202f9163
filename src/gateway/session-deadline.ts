import type { Clock } from '../runtime/clock.ts';

export interface DeadlineOptions {
  readonly clock: Clock;
  /** When the session's time is up (milliseconds since the epoch). */
  readonly at: number;
  /** How long past `at` a busy session may run before it is ended anyway; 0: at `at`. */
  readonly graceMs: number;
  /** Whether ending the session now would cut nothing (Relay.idle). */
  readonly isIdle: () => boolean;
  /** Ends the session; called at most once. */
  readonly end: () => void;
}

export interface Deadline {
  /** The relay saw the session become idle (RelayOptions.onIdle). */
  readonly idle: () => void;
  readonly cancel: () => void;
}

/**
 * The end of a session whose time is up — its token expired, or it reached the rule's
 * `max_session` or `session.max_duration` — without "a confusing error mid-query": at `at`
 * an idle session ends at once; a busy one (a statement running, a transaction open) ends
 * the moment it next becomes idle, and at `at + graceMs` whatever it is doing. A client
 * that reconnects then does so between two statements, with a fresh token (`pgkey tunnel`
 * does it for GUI tools). Revocation, shutdown and an administrator's terminate never wait:
 * they call LiveSession.terminate directly.
 */
export function armDeadline(options: DeadlineOptions): Deadline {
  const { clock } = options;
  let due = false;
  let done = false;
  const end = (): void => {
    if (done) return;
    done = true;
    cancel();
    options.end();
  };
  // One timer at a time (a live session holds one): `at`, then the cap at `at + graceMs`.
  let cancel = clock.setTimer(options.at - clock.now(), () => {
    due = true;
    const cap = options.at + options.graceMs - clock.now();
    if (options.isIdle() || cap <= 0) end();
    else cancel = clock.setTimer(cap, end);
  });
  return {
    idle: () => {
      if (due) end();
    },
    cancel: () => cancel(),
  };
}
