/**
 * `npm test`: runs every test file under test/ with Node's own runner and prints the spec
 * report. Fails when a test fails, and also when no test ran at all (an empty run is a
 * broken run, not a green one). Extra arguments narrow the files: `npm test -- test/protocol`.
 */
import { globSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const filters = process.argv.slice(2);
const files = globSync('test/**/*.test.ts')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();

if (files.length === 0) {
  process.stderr.write(`no test files match ${filters.join(' ') || 'test/**/*.test.ts'}\n`);
  process.exit(1);
}

let passed = 0;
let failed = 0;
const stream = run({
  files,
  concurrency: Math.max(2, availableParallelism()),
  timeout: 180_000,
});
stream.on('test:pass', (event) => {
  if (event.details.type !== 'suite') passed++;
});
stream.on('test:fail', (event) => {
  if (event.details.type !== 'suite') failed++;
});
stream.compose(spec).pipe(process.stdout);
stream.once('end', () => {
  process.stdout.write(`\n${files.length} files, ${passed} passed, ${failed} failed\n`);
  if (passed === 0) process.stderr.write('no test ran: treating the run as failed\n');
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});
