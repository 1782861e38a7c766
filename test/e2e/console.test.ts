// The web console in a real browser against a real `berth run`: a stack follows a local
// release channel in notify mode; a person opens the console, signs in with the token,
// checks for updates, reads the new release's notes, clicks Apply update and watches the
// stack converge on the same page (server-sent events, no reload), then rolls back from the
// page. The same POST without the token, or with a wrong CSRF token, is refused and leaves
// the manifest as it was.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { publishRelease } from '../../src/sources/publish.js';
import { generateSigningKeys } from '../../src/sources/signing.js';
import { StateStore } from '../../src/store/state.js';
import { BerthProcess, berthDirs, killAllBerthProcesses } from '../support/berth-process.js';
import { launchChromium, type Browser } from '../support/chromium.js';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { FeedServer } from '../support/feed-server.js';
import { composeFile, condition, stackManifest } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

/**
 * Where the screenshot goes. The README shows docs/console.png; a test run must not change
 * the checkout, so it is rewritten only when asked: BERTH_SCREENSHOT=docs/console.png.
 */
const SCREENSHOT = process.env['BERTH_SCREENSHOT'] ?? join(tmpdir(), `berth-console-${process.pid}.png`);
const NOTES = `## Checkout, faster

- **Payments** settle in one step instead of three.
- Search finds products by SKU.

Upgrade note: the \`web\` service now listens on port 8080. See [the changelog](https://example.com/shop/1.1.0).

Raw markup stays text: <script>alert("notes")</script>`;

let dir: string;
let feed: FeedServer;
let berth: BerthProcess | undefined;
let browser: Browser | undefined;
const projects: string[] = [];
const images: TestImage[] = [];
let v1: TestImage;
let v11: TestImage;

before(async () => {
  await requireEngine();
  const imageName = uniqueName('console');
  v1 = await buildTestImage({ name: imageName, variant: 'v1', health: 'healthy' });
  images.push(v1);
  v11 = await buildTestImage({ name: imageName, variant: 'v11', health: 'healthy' });
  images.push(v11);
  dir = await mkdtemp(join(tmpdir(), 'berth-console-e2e-'));
  await mkdir(join(dir, 'feed'));
  feed = await new FeedServer(join(dir, 'feed')).start();
});

after(async () => {
  await browser?.close();
  await killAllBerthProcesses();
  for (const p of projects) await removeProject(p);
  await feed.stop();
  await removeTestImages(images);
  await rm(dir, { recursive: true, force: true });
});

async function publish(version: string, image: string, keyFile: string, notes: string): Promise<void> {
  const file = join(dir, `release-${version}.yaml`);
  await writeFile(file, stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Release', metadata: { name: `shop-${version.replace(/[^a-z0-9]/g, "-")}` }, spec: { version, images: { web: image }, notes } }));
  await publishRelease({ releaseFile: file, keyFile, feedDir: join(dir, 'feed'), channel: 'stable', now: new Date() });
}

async function waitForStatus(state: StateStore, name: string, what: string, ok: (s: StackStatus) => boolean, timeoutMs = 90_000): Promise<StackStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: StackStatus | undefined;
  for (;;) {
    last = (await state.readStatus({ stack: name }).catch(() => undefined)) ?? last;
    if (last !== undefined && ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status:\n${JSON.stringify(last?.status, null, 2)}\nberth log:\n${await berth?.logTail()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('a person signs in, reads the waiting release, applies it and watches it converge; forged requests change nothing', async () => {
  const name = uniqueName('shop');
  projects.push(name);

  const keys = generateSigningKeys();
  const keyFile = join(dir, 'release.key');
  const pubFile = join(dir, 'release.pub');
  await writeFile(keyFile, keys.privatePem, { mode: 0o600 });
  await writeFile(pubFile, keys.publicPem);
  await publish('1.0.0', v1.pinned, keyFile, 'First release.');

  const dirs = await berthDirs(dir, 'berth');
  await mkdir(join(dirs.manifests, name));
  await writeFile(join(dirs.manifests, name, 'compose.yaml'), composeFile({ web: 'placeholder' }));
  const manifestFile = join(dirs.manifests, `${name}.yaml`);
  // Check-ins an hour apart: the new release is found only because the person asks.
  await writeFile(
    manifestFile,
    `# The shop, kept by berth; approvals go in spec.approve.\n${stackManifest({ name, mode: 'notify', approve: '1.0.0', channel: { url: feed.url, publicKey: pubFile, intervalSeconds: 3600 } })}`,
  );
  berth = BerthProcess.start({ ...dirs });
  await berth.started();
  const url = JSON.parse(await berth.waitForLog(/"msg":"web console listening"/)).url as string;
  const token = (await readFile(join(dirs.state, 'http-token'), 'utf8')).trim();
  assert.match(await berth.log(), new RegExp(`sign in with the token in ${join(dirs.state, 'http-token').replace(/[/.]/g, '\\$&')}`));
  assert.ok(!(await berth.log()).includes(token), 'the token itself is never logged');
  const state = new StateStore(dirs.state);
  await waitForStatus(state, name, 'installed 1.0.0', (s) => s.status.currentVersion === '1.0.0' && condition(s, 'Ready')?.status === 'True');

  await publish('1.1.0', v11.pinned, keyFile, NOTES);

  browser = await launchChromium();
  const page = await browser.context.newPage();
  const stackUrl = `${url}/stacks/${name}`;
  await page.goto(stackUrl);
  // Read-only until signed in: no forms, a way to sign in instead.
  assert.equal(await page.locator('form[action$="/approve"]').count(), 0);
  await page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url + '/');
  await page.getByRole('link', { name }).click();
  await page.waitForURL(stackUrl);

  await page.getByRole('button', { name: 'Check for updates now' }).click();
  await page.getByText('Checking for updates now').waitFor();
  // The release arrives on the open page by itself (server-sent events).
  await page.locator('#available-version', { hasText: '1.1.0' }).waitFor({ timeout: 60_000 });
  await page.getByText('Waits for your approval.', { exact: true }).waitFor();
  assert.equal(await page.locator('#release-notes strong').first().textContent(), 'Payments');
  assert.equal(await page.locator('#release-notes h2').textContent(), 'Checkout, faster');
  assert.match((await page.locator('#release-notes').textContent()) ?? '', /<script>alert\("notes"\)<\/script>/, 'raw markup in notes shows as text');
  assert.equal(await page.locator('#release-notes script').count(), 0);
  await waitForStatus(state, name, '1.1.0 downloaded', (s) => s.status.available?.downloaded === true);
  await page.locator('#available .pill', { hasText: 'downloaded' }).waitFor();
  // What applying the waiting release would change: its image, as berth diff works it out.
  const next = page.locator('#next-pass');
  await next.getByText('berth would write revision 2.').waitFor();
  await next.getByText(/what applying 1\.1\.0 would change; it waits for now/).waitFor();
  assert.match((await next.locator('td.add code').getAttribute('title')) ?? '', new RegExp(v11.digest));
  await mkdir(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // The same POST the button sends, forged: no session; a session with a wrong CSRF token.
  const before = await readFile(manifestFile, 'utf8');
  const form = { version: '1.1.0', csrf: (await page.locator('form[action$="/approve"] input[name="csrf"]').getAttribute('value')) ?? '' };
  const approveUrl = `${stackUrl}/approve`;
  const noSession = await fetch(approveUrl, { method: 'POST', redirect: 'manual', body: new URLSearchParams(form) });
  assert.equal(noSession.status, 401);
  const cookie = (await browser.context.cookies(url)).map((c) => `${c.name}=${c.value}`).join('; ');
  const wrongCsrf = await fetch(approveUrl, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ ...form, csrf: 'x'.repeat(43) }), headers: { cookie } });
  assert.equal(wrongCsrf.status, 403);
  assert.equal(await readFile(manifestFile, 'utf8'), before, 'a refused request leaves the manifest as it was');
  assert.equal((await state.readStatus({ stack: name }))?.status.currentVersion, '1.0.0');

  await page.getByRole('button', { name: 'Apply update to 1.1.0' }).click();
  await page.getByText('Approved 1.1.0').waitFor();
  // From here the page is never loaded again: whatever changes arrives over the stream.
  await page.evaluate(() => ((globalThis as unknown as { berthTestMark: boolean }).berthTestMark = true));
  await page.getByText('Runs 1.1.0, healthy and up to date.').waitFor({ timeout: 120_000 });
  assert.equal(await page.evaluate(() => (globalThis as unknown as { berthTestMark?: boolean }).berthTestMark), true, 'converged on the open page, without a reload');
  assert.equal(await page.locator('#history .timeline li').first().locator('.version').textContent(), '1.1.0');

  const after = await readFile(manifestFile, 'utf8');
  assert.match(after, /^# The shop, kept by berth; approvals go in spec\.approve\.$/m, 'the edit keeps comments');
  assert.match(after, /approve: 1\.1\.0/);
  const s = await waitForStatus(state, name, 'Ready 1.1.0', (x) => x.status.currentVersion === '1.1.0' && condition(x, 'Ready')?.status === 'True');
  assert.equal(s.status.history?.[0]?.outcome, 'Healthy');

  // Roll back from the page: the manifest is set to revision 1's version and images, and
  // berth converges to it like to any other edit.
  page.once('dialog', (d) => void d.accept());
  await page.getByLabel('Roll back to').selectOption({ label: 'revision 1 · 1.0.0' });
  await page.getByRole('button', { name: 'Roll back' }).click();
  await page.getByText('Rolling back to revision 1').waitFor();
  await page.locator('.summary p', { hasText: /^Runs 1\.0\.0\./ }).waitFor({ timeout: 120_000 });
  await page.locator('#history .timeline li').first().getByText('Rollback').waitFor();
  await page.getByText(/Pinned to version 1\.0\.0: while the manifest sets spec\.version, the stack does not follow channel stable/).waitFor();
  const rolled = await readFile(manifestFile, 'utf8');
  assert.match(rolled, /version: 1\.0\.0/);
  assert.match(rolled, new RegExp(`web: ${v1.pinned.replace(/[.]/g, '\\.')}`));
  await waitForStatus(state, name, 'Ready 1.0.0 again', (x) => x.status.currentVersion === '1.0.0' && condition(x, 'Ready')?.status === 'True');

  // Sign out ends the session itself: a copy of its cookie, which wrote a moment ago, writes nothing after.
  const kept = (await browser.context.cookies(url)).map((c) => `${c.name}=${c.value}`).join('; ');
  const csrf = (await page.locator('form[action$="/check"] input[name="csrf"]').getAttribute('value')) ?? '';
  const checkNow = () => fetch(`${stackUrl}/check`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ csrf }), headers: { cookie: kept } });
  assert.equal((await checkNow()).status, 303, 'the session writes before it is signed out');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in', exact: true }).waitFor();
  assert.equal((await checkNow()).status, 401, 'a copy of the signed-out cookie is refused');
  await berth.stop();
});

test('a pinned stack in notify mode: the page shows what applying the new version would recreate, and Apply update applies it', async () => {
  const name = uniqueName('pinned');
  projects.push(name);
  const dirs = await berthDirs(dir, 'pinned');
  await mkdir(join(dirs.manifests, name));
  await writeFile(join(dirs.manifests, name, 'compose.yaml'), composeFile({ web: 'placeholder' }));
  const manifestFile = join(dirs.manifests, `${name}.yaml`);
  await writeFile(manifestFile, stackManifest({ name, mode: 'notify', version: '1.0.0', approve: '1.0.0', images: { web: v1.pinned } }));
  const token = 'a-token-the-admin-chose-for-this-test';
  const proc = BerthProcess.start({ ...dirs, env: { BERTH_HTTP_TOKEN: token } });
  await proc.started();
  const url = JSON.parse(await proc.waitForLog(/"msg":"web console listening"/)).url as string;
  assert.match(await proc.log(), /sign in with the token in \$BERTH_HTTP_TOKEN/);
  const state = new StateStore(dirs.state);
  await waitForStatus(state, name, 'installed 1.0.0', (s) => s.status.currentVersion === '1.0.0' && condition(s, 'Ready')?.status === 'True');

  // A person (or their git sync) moves the manifest to 1.1.0; notify mode makes it wait.
  await writeFile(manifestFile, stackManifest({ name, mode: 'notify', version: '1.1.0', approve: '1.0.0', images: { web: v11.pinned } }));
  await waitForStatus(state, name, '1.1.0 waiting', (s) => condition(s, 'AwaitingApproval')?.status === 'True');

  browser ??= await launchChromium();
  const page = await browser.context.newPage();
  await page.goto(`${url}/login?next=/stacks/${name}`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/stacks/${name}`);
  await page.getByText('Runs 1.0.0. Version 1.1.0 is available and waits for your approval.').waitFor();
  // What the next pass would change, as compose judges it: web is recreated on the new image.
  const next = page.locator('#next-pass');
  await next.getByText('berth would write revision 2.').waitFor();
  assert.match((await next.locator('td.add code').getAttribute('title')) ?? '', new RegExp(v11.digest));
  assert.equal(await next.locator('.pill', { hasText: 'recreate' }).count(), 1);
  // And the compose file berth would run, against the one that runs: the image line changes.
  const composeDiff = next.locator('#compose-diff');
  await composeDiff.locator('.dl.del', { hasText: `image: ${v1.pinned}` }).waitFor();
  await composeDiff.locator('.dl.add', { hasText: `image: ${v11.pinned}` }).waitFor();
  await next.getByText('shown as ***').waitFor();

  await page.getByRole('button', { name: 'Apply update to 1.1.0' }).click();
  await page.getByText('Runs 1.1.0, healthy and up to date.').waitFor({ timeout: 120_000 });
  assert.match(await readFile(manifestFile, 'utf8'), /approve: 1\.1\.0/);
  await page.getByText('Nothing: what runs is what the manifest asks for.').waitFor();
  await page.close();
  await proc.stop();
});

test('berth run refuses to serve the console off loopback without a chosen token, and says what to do', async () => {
  const dirs = await berthDirs(dir, 'exposed');
  const proc = BerthProcess.start({ ...dirs, args: ['--http', '0.0.0.0:0'] });
  const exit = await proc.exited;
  assert.equal(exit.code, 1);
  const log = await proc.log();
  assert.match(log, /refusing to serve the web console on 0\.0\.0\.0:0, an address other machines can reach, without a token chosen for it: set BERTH_HTTP_TOKEN/);
  assert.doesNotMatch(log, /berth operator started/, 'refused before the operator starts');
});
