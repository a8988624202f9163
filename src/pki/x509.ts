/**
 * The one door to @peculiar/x509 (STYLE.md 13). The library wires its internals with
 * tsyringe, which needs the Reflect metadata API while loading ("Reflect Polyfill Required"
 * in its README), so the polyfill is imported first: ESM evaluates imports in order.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export { x509 };
export type { Extension, Name, X509Certificate } from '@peculiar/x509';
