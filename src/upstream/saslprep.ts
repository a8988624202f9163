/**
 * SASLprep (RFC 4013) of a SCRAM password, the way PostgreSQL does it (src/common/saslprep.c,
 * used by libpq and by the server when it builds a verifier). Both sides must prepare the
 * password identically or the proof never matches, so this mirrors PostgreSQL's choices:
 *
 * - a pure-ASCII password is used as is (no control-character check);
 * - a password that is not a valid SASLprep string is not an error: the raw UTF-8 bytes are
 *   used instead (RFC 5802 §5.1 allows this; libpq's pg_fe_scram_build_secret does it);
 * - the prohibited and bidi checks run over the mapped characters (step 1's output), as
 *   PostgreSQL's loop does.
 *
 * Known approximation: RFC 3454 tables A.1 (unassigned in Unicode 3.2) and D.2 (bidi "L") are
 * long; they are approximated with Unicode properties of the running engine. A password whose
 * preparation differs only through those edge cases may need to be ASCII or plain NFKC.
 */

// Tables are flat lists of inclusive (first, last) code point pairs, as printed in RFC 3454.

/** RFC 3454 C.1.2, non-ASCII space: mapped to U+0020 (RFC 4013 §2.1). */
const NON_ASCII_SPACE: readonly number[] = [
  0x00a0, 0x00a0, 0x1680, 0x1680, 0x2000, 0x200b, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000,
];

/** RFC 3454 B.1, "commonly mapped to nothing" (RFC 4013 §2.1). */
const MAPPED_TO_NOTHING: readonly number[] = [
  0x00ad, 0x00ad, 0x034f, 0x034f, 0x1806, 0x1806, 0x180b, 0x180d, 0x200b, 0x200d, 0x2060, 0x2060,
  0xfe00, 0xfe0f, 0xfeff, 0xfeff,
];

/**
 * RFC 4013 §2.3 prohibited output: RFC 3454 C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7,
 * C.8 and C.9, with adjacent ranges merged.
 */
const PROHIBITED: readonly number[] = [
  0x0000, 0x001f, 0x007f, 0x00a0, 0x0340, 0x0341, 0x06dd, 0x06dd, 0x070f, 0x070f, 0x1680, 0x1680,
  0x180e, 0x180e, 0x2000, 0x200f, 0x2028, 0x202f, 0x205f, 0x2063, 0x206a, 0x206f, 0x2ff0, 0x2ffb,
  0x3000, 0x3000, 0xd800, 0xf8ff, 0xfdd0, 0xfdef, 0xfeff, 0xfeff, 0xfff9, 0xffff, 0x1d173, 0x1d17a,
  0xe0001, 0xe0001, 0xe0020, 0xe007f, 0xf0000, 0x10ffff,
];

/** RFC 3454 D.1: bidi category R or AL (RFC 4013 §2.4 applies RFC 3454 §6). */
const RAND_AL_CAT: readonly number[] = [
  0x05be, 0x05be, 0x05c0, 0x05c0, 0x05c3, 0x05c3, 0x05d0, 0x05ea, 0x05f0, 0x05f4, 0x061b, 0x061b,
  0x061f, 0x061f, 0x0621, 0x063a, 0x0640, 0x064a, 0x066d, 0x066f, 0x0671, 0x06d5, 0x06dd, 0x06dd,
  0x06e5, 0x06e6, 0x06fa, 0x06fe, 0x0700, 0x070d, 0x0710, 0x0710, 0x0712, 0x072c, 0x0780, 0x07a5,
  0x07b1, 0x07b1, 0x200f, 0x200f, 0xfb1d, 0xfb1d, 0xfb1f, 0xfb28, 0xfb2a, 0xfb36, 0xfb38, 0xfb3c,
  0xfb3e, 0xfb3e, 0xfb40, 0xfb41, 0xfb43, 0xfb44, 0xfb46, 0xfbb1, 0xfbd3, 0xfd3d, 0xfd50, 0xfd8f,
  0xfd92, 0xfdc7, 0xfdf0, 0xfdfc, 0xfe70, 0xfe74, 0xfe76, 0xfefc,
];

/** RFC 3454 C.4: the last two code points of every plane are non-characters. */
const isPlaneNonCharacter = (cp: number): boolean => (cp & 0xfffe) === 0xfffe;
/** Approximates A.1 (unassigned in Unicode 3.2) with "unassigned today". */
const UNASSIGNED = /^\p{Cn}$/u;
/** Approximates D.2 (bidi L): letters and spacing marks that are not R/AL. */
const LEFT_TO_RIGHT = /^[\p{L}\p{Mc}]$/u;

function inTable(cp: number, table: readonly number[]): boolean {
  for (let i = 0; i + 1 < table.length; i += 2) {
    if (cp >= (table[i] ?? 0) && cp <= (table[i + 1] ?? -1)) return true;
  }
  return false;
}

/** RFC 4013 §2: map, normalize (NFKC), prohibit, check bidi. Returns undefined if invalid. */
export function saslprep(input: string): string | undefined {
  const mapped: number[] = [];
  for (const char of input) {
    const cp = char.codePointAt(0) ?? 0;
    // A lone surrogate is not valid UTF-8 input (RFC 3454 C.5).
    if (cp >= 0xd800 && cp <= 0xdfff) return undefined;
    if (inTable(cp, NON_ASCII_SPACE)) mapped.push(0x20);
    else if (!inTable(cp, MAPPED_TO_NOTHING)) mapped.push(cp);
  }
  // PostgreSQL refuses a password that maps to nothing.
  if (mapped.length === 0) return undefined;

  for (const cp of mapped) {
    if (inTable(cp, PROHIBITED) || isPlaneNonCharacter(cp)) return undefined;
    if (UNASSIGNED.test(String.fromCodePoint(cp))) return undefined;
  }
  // RFC 3454 §6: a string with any R/AL character has no L character and starts and ends
  // with R/AL.
  if (mapped.some((cp) => inTable(cp, RAND_AL_CAT))) {
    const first = mapped[0] ?? 0;
    const last = mapped[mapped.length - 1] ?? 0;
    if (!inTable(first, RAND_AL_CAT) || !inTable(last, RAND_AL_CAT)) return undefined;
    const ltr = mapped.some(
      (cp) => !inTable(cp, RAND_AL_CAT) && LEFT_TO_RIGHT.test(String.fromCodePoint(cp)),
    );
    if (ltr) return undefined;
  }
  return String.fromCodePoint(...mapped).normalize('NFKC');
}

/**
 * The bytes that enter PBKDF2 (RFC 5802 §3 Hi(Normalize(password), …)): the prepared password
 * when SASLprep accepts it, else the raw UTF-8 bytes, as libpq does.
 */
export function scramPasswordBytes(password: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(password)) return Buffer.from(password, 'utf8');
  return Buffer.from(saslprep(password) ?? password, 'utf8');
}
