import { randomBytes, randomInt } from 'node:crypto';

/** Randomness is injected like time, so tests can make key material and ids repeatable. */
export interface Random {
  bytes(length: number): Buffer;
  /** An integer in [min, max). */
  int(min: number, max: number): number;
}

export const cryptoRandom: Random = {
  bytes: (length) => randomBytes(length),
  int: (min, max) => randomInt(min, max),
};
