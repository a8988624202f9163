#!/usr/bin/env node
// The pgkey command. In a source checkout Node 24 runs the TypeScript directly (type
// stripping); an installed package runs the compiled dist/ (Node does not strip types
// under node_modules).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const entry = existsSync(source) ? source : new URL('../dist/cli/main.js', import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
