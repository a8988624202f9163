import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commands } from '../../src/cli/commands/index.ts';
import { shortIdLength } from '../../src/cli/key-ids.ts';
import { formatTime, printable, renderTable } from '../../src/cli/table.ts';

describe('human output', () => {
  it('aligns columns by characters, marks empty cells and leaves no trailing blanks', () => {
    assert.equal(
      renderTable(
        ['name', 'groups', 'keys'],
        [
          ['Zoë', '', '1'],
          ['Bartholomew', 'dba,ops', '12'],
        ],
      ),
      'NAME         GROUPS   KEYS\nZoë          -        1\nBartholomew  dba,ops  12\n',
    );
  });

  it('never lets a stored value drive the terminal', () => {
    assert.equal(printable('evil\u001b[2J\u0007name\r\n\u009b'), 'evil?[2J?name???');
    assert.equal(renderTable(['name'], [['a\u001b]0;owned\u0007']]), 'NAME\na?]0;owned?\n');
  });

  it('writes times as ISO 8601 UTC to the minute', () => {
    assert.equal(formatTime(Date.UTC(2026, 0, 2, 9, 30, 59, 999)), '2026-01-02T09:30Z');
    assert.equal(formatTime(undefined), '-');
  });

  it('shortens key ids to 12 characters, longer only where that is ambiguous', () => {
    assert.equal(shortIdLength([]), 12);
    assert.equal(shortIdLength(['abcdefghijklmnop', 'zbcdefghijklmnop']), 12);
    assert.equal(shortIdLength(['abcdefghijklmnop', 'abcdefghijklmnoq']), 16);
    assert.equal(shortIdLength(['short', 'shorter']), 12);
  });
});

describe('directory commands', () => {
  it('all take --config and --json', () => {
    const names = ['users', 'groups', 'keys', 'idp'];
    const directoryCommands = commands.filter((c) => names.includes(c.name.split(' ')[0] ?? ''));
    assert.deepEqual(
      directoryCommands.map((c) => c.name),
      [
        'users add',
        'users list',
        'users invite',
        'users disable',
        'users enable',
        'groups add',
        'groups remove',
        'keys list',
        'keys revoke',
        'idp rotate-keys',
      ],
    );
    for (const command of directoryCommands) {
      assert.match(command.usage, /\[--config FILE\] \[--json\]$/, command.name);
    }
  });
});
