// --log-file: a file berth cannot open is refused up front, naming the file and what to do.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/cli/log.js';

test('a log file that cannot be opened is an error naming it and the fix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-logfile-unit-'));
  try {
    // A regular file where the folder should be: no user, root included, can create a file under it.
    await writeFile(join(dir, 'not-a-folder'), '');
    assert.throws(() => createLogger('info', { file: join(dir, 'not-a-folder', 'berth.log') }), /cannot open the log file .*not-a-folder\/berth\.log for appending \((ENOTDIR|EEXIST)\): make it and its folder writable/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('lines are appended as JSON, credentials redacted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-logfile-unit-'));
  try {
    const file = join(dir, 'logs', 'berth.log');
    const log = createLogger('info', { file });
    log.info({ password: 'hunter2-long' }, 'GET https://u:pw@feed.example/x?token=abc');
    const [line] = (await readFile(file, 'utf8')).trim().split('\n');
    const rec = JSON.parse(line!) as { password: string; msg: string };
    assert.equal(rec.password, '***');
    assert.equal(rec.msg, 'GET https://***@feed.example/x?token=***');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
