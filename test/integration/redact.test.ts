// A feed URL with credentials in it (`user:password@`, `?token=`) that fails: berth says what
// failed and where, but the credentials appear in none of channel.yaml, status.yaml or the
// logs. A real `berth run --once` process against a feed server that answers 500.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { stackManifest } from '../support/harness.js';
import { testKeys } from '../support/releases.js';

const BERTH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

const PASSWORD = 'hunter2pw';
const TOKEN = 't0psecretTok';

let dir: string;
let server: Server;
let asked = 0;
const name = uniqueName('redact');

before(async () => {
  await requireEngine();
  server = createServer((_req, res) => {
    asked++;
    res.writeHead(500).end('down');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  dir = await mkdtemp(join(tmpdir(), 'berth-redact-'));
  await mkdir(join(dir, 'manifests', name), { recursive: true });
  await writeFile(join(dir, 'manifests', name, 'compose.yaml'), stringify({ services: { web: { image: 'placeholder' } } }));
});

after(async () => {
  server?.close();
  await removeProject(name);
  await rm(dir, { recursive: true, force: true });
});

test('a failing feed URL with a password and a token: channel.yaml, status.yaml and the logs name the URL without them', async () => {
  const port = (server.address() as AddressInfo).port;
  const url = `http://alice:${PASSWORD}@127.0.0.1:${port}/feed?token=${TOKEN}`;
  await writeFile(join(dir, 'manifests', `${name}.yaml`), stackManifest({ name, channel: { url, publicKey: testKeys().publicPem } }));

  const run = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [BERTH, 'run', '--once', '--manifests', 'manifests', '--state', 'state', '--log-level', 'debug'], { cwd: dir }, (_err, stdout, stderr) =>
      resolve({ stdout, stderr }),
    );
  });
  assert.ok(asked > 0, `berth never asked the feed:\n${run.stderr}`);
  const channel = await readFile(join(dir, 'state', name, 'channel.yaml'), 'utf8');
  const status = await readFile(join(dir, 'state', name, 'status.yaml'), 'utf8');
  const logs = `${run.stdout}${run.stderr}`;

  // Still useful: the refusal names the feed and what went wrong.
  assert.match(channel, /answered HTTP 500/);
  assert.match(status, /answered HTTP 500/);
  assert.match(logs, /check-in refused/);
  assert.match(logs, new RegExp(`127\\.0\\.0\\.1:${port}/feed`));
  for (const [where, text] of [['channel.yaml', channel], ['status.yaml', status], ['the logs', logs]] as const) {
    assert.ok(!text.includes(PASSWORD), `${where} holds the password:\n${text}`);
    assert.ok(!text.includes(TOKEN), `${where} holds the token:\n${text}`);
  }
});
