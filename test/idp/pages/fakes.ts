/**
 * Stand-ins the account page tests inject: a clock they can move forward (to make a sign-in
 * stale) and the gateway's live-session registry.
 */
import type { LiveSession, LiveSessions } from '../../../src/idp/pages/admin-hooks.ts';
import { systemClock, type Clock } from '../../../src/runtime/clock.ts';

/** The system clock plus an offset the test moves forward. */
export class ShiftedClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  setTimer(ms: number, fn: () => void): () => void {
    return systemClock.setTimer(ms, fn);
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}

export class FakeLiveSessions implements LiveSessions {
  sessions: LiveSession[] = [];
  readonly terminated: { id: string; reason: string }[] = [];
  list(): readonly LiveSession[] {
    return [...this.sessions];
  }
  terminate(id: string, reason: string): boolean {
    const before = this.sessions.length;
    this.sessions = this.sessions.filter((s) => s.id !== id);
    if (this.sessions.length === before) return false;
    this.terminated.push({ id, reason });
    return true;
  }
}
