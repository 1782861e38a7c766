// What an idle `berth run` holds in memory (issue 10 item 6, `npm run bench` idle): it loads
// only what a running operator uses. The HTTP client for release feeds (undici) comes with
// the first check-in, the log pretty-printer only for a terminal, no dockerode (berth speaks
// the engine API itself, engine-http.ts); and berth sets V8 to favour
// memory over peak speed before anything else is loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { berthV8Flags, DEFAULT_V8_FLAGS } from '../../src/cli/v8-footprint.js';

const exec = promisify(execFile);
/** dist/test/unit → dist/src */
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/**
 * The npm packages a fresh node process has loaded after importing what `berth run` imports
 * and making its logger, with stderr a pipe (as under a supervisor), plus `extra` code.
 */
async function packagesLoaded(extra = ''): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module';
    const { pathToFileURL } = await import('node:url');
    const src = ${JSON.stringify(SRC)};
    await import(pathToFileURL(src + '/cli/commands.js').href);
    const { createLogger } = await import(pathToFileURL(src + '/cli/log.js').href);
    createLogger('info');
    ${extra}
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    const names = loaded.flatMap((f) => { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(f); return m ? [m[1]] : []; });
    process.stdout.write(JSON.stringify([...new Set(names)].sort()));
  `;
  const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: SRC });
  return JSON.parse(stdout) as string[];
}

test('berth run does not load the release-feed HTTP client (undici) until a stack checks in', async () => {
  const before = await packagesLoaded();
  assert.ok(before.includes('yaml') && before.includes('pino'), `the probe sees what berth loads: ${before.join(', ')}`);
  assert.ok(!before.includes('undici'), `undici is loaded at start-up: ${before.join(', ')}`);
  // A check-in (here to a port nobody listens on) loads it.
  const after = await packagesLoaded(`
    const { fetchIndex } = await import(pathToFileURL(src + '/sources/feed-client.js').href);
    await fetchIndex({ url: 'http://127.0.0.1:9/feed', channel: 'stable', identity: { instance: 'i', stack: 's' }, timeoutMs: 2000 }).catch(() => undefined);
  `);
  assert.ok(after.includes('undici'), `a check-in loads undici: ${after.join(', ')}`);
});

test('berth speaks to the engine without dockerode and its SSH, gRPC and protobuf clients', async () => {
  const loaded = await packagesLoaded();
  for (const heavy of ['dockerode', 'docker-modem', 'ssh2', '@grpc/grpc-js', 'protobufjs']) {
    assert.ok(!loaded.includes(heavy), `${heavy} is loaded: ${loaded.join(', ')}`);
  }
});

test('berth logging JSON (stderr not a terminal) does not load the pretty-printer', async () => {
  const loaded = await packagesLoaded();
  assert.ok(!loaded.includes('pino-pretty'), `pino-pretty is loaded: ${loaded.join(', ')}`);
});

test('berth favours memory over peak speed in V8 unless BERTH_V8_FLAGS says otherwise', () => {
  assert.deepEqual(berthV8Flags({}), [DEFAULT_V8_FLAGS]);
  assert.deepEqual(berthV8Flags({ BERTH_V8_FLAGS: '' }), [], 'an empty value turns it off');
  assert.deepEqual(berthV8Flags({ BERTH_V8_FLAGS: ' --a  --b=1 ' }), ['--a', '--b=1']);
});

test('a word in BERTH_V8_FLAGS that is not a flag is left out and named, with what a flag looks like', () => {
  const warnings: string[] = [];
  assert.deepEqual(berthV8Flags({ BERTH_V8_FLAGS: 'optimize-for-size --b' }, (m) => warnings.push(m)), ['--b']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /BERTH_V8_FLAGS: "optimize-for-size" is not a V8 flag \(flags start with --/);
  assert.deepEqual(berthV8Flags({ BERTH_V8_FLAGS: '--a' }, (m) => warnings.push(m)), ['--a']);
  assert.equal(warnings.length, 1, 'nothing to say about real flags');
});

test('the berth command sets its V8 flags before it loads any other module', async () => {
  // ES modules run in import order: the flag module must be the first import of main.js.
  const main = await readFile(join(SRC, 'cli', 'main.js'), 'utf8');
  const first = /^import\s+(?:[^'"]*from\s+)?['"]([^'"]+)['"]/m.exec(main);
  assert.equal(first?.[1], './v8-footprint.js');
});
