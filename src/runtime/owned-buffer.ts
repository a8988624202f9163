/**
 * Buffers a session keeps for its whole life, with memory of their own. Node (24) hands out
 * small Buffers — `Buffer.from`, `allocUnsafe`, `concat`, `copyBytesFrom`, and the ALPN list
 * `tls` builds from a string array — as slices of a shared 64 KiB pool (`Buffer.poolSize`),
 * and one long-lived slice keeps its whole slab alive: a few per session pin megabytes per
 * thousand idle sessions. Transient Buffers may come from the pool; kept ones come from here.
 */

/** A copy of `bytes` that owns exactly its own memory. */
export function ownedCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  copy.set(bytes);
  return copy;
}

/**
 * An ALPN protocol list for `tls` (RFC 7301 wire format: length-prefixed names). Given a
 * DataView, `tls` copies it into an ArrayBuffer of its exact size; given a string array or a
 * Buffer it would take the copy from the pool, and every TLS socket keeps that copy
 * (`_tlsOptions`).
 */
export function alpnProtocols(...names: readonly string[]): DataView {
  const wire = Buffer.concat(
    names.map((name) => Buffer.concat([Buffer.of(name.length), Buffer.from(name)])),
  );
  return new DataView(ownedCopy(wire).buffer);
}
