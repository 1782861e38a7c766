// `berth release`: the vendor's side of a release feed. keygen makes the signing key pair,
// publish signs a release into a static feed folder, verify checks an index or a release
// offline, as berth would (for vendors, and for CI before a feed is uploaded).
import { readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { FeedError } from '../sources/errors.js';
import { parseFeedDocument, parseIndex } from '../sources/feed.js';
import { publishRelease } from '../sources/publish.js';
import { generateSigningKeys, keyIdOf, parsePrivateKey, parsePublicKey, verifyRelease } from '../sources/signing.js';
import { writeFileAtomic } from '../util/atomic.js';

export const RELEASE_HELP = {
  keygen: 'Make an ed25519 key pair to sign releases: DIR/release.key (secret, mode 0600) and DIR/release.pub.',
  publish: 'Sign a Release and add it to DIR/<channel>/index.json (and releases/<version>.yaml).',
  verify: "Check a channel's index.json or one release file against the public key, offline, as berth would.",
} as const;
type Sub = keyof typeof RELEASE_HELP;

type Values = Record<string, string | boolean | undefined>;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

async function keygen(values: Values): Promise<number> {
  const out = String(values['out']);
  const keyPath = join(out, 'release.key');
  const pubPath = join(out, 'release.pub');
  if (values['force'] !== true && (await exists(keyPath))) {
    process.stderr.write(
      `berth release keygen: ${keyPath} exists; refusing to replace a signing key (stacks that pin its public key would refuse every release signed by a new one). Use --force to replace it anyway.\n`,
    );
    return 1;
  }
  const { privatePem, publicPem } = generateSigningKeys();
  // The public half first: a crash in between leaves no private key without its public half.
  await writeFileAtomic(pubPath, publicPem, 0o644);
  await writeFileAtomic(keyPath, privatePem, 0o600);
  const keyId = keyIdOf(parsePrivateKey(privatePem, keyPath));
  process.stdout.write(
    [
      `Wrote ${keyPath} (the signing key: keep it secret, mode 0600) and ${pubPath}.`,
      `Key id: ${keyId}`,
      `Stacks that follow your feed pin the public key: set spec.channel.publicKey to the path of release.pub`,
      `(relative to the Stack manifest) or to its PEM text.`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function publish(releaseFile: string, values: Values): Promise<number> {
  const keyFile = String(values['key']);
  const feedDir = String(values['feed']);
  const channel = String(values['channel']);
  const report = values['report'];
  const result = await publishRelease({
    releaseFile,
    keyFile,
    feedDir,
    channel,
    ...(typeof report === 'string' ? { report } : {}),
    now: new Date(),
  });
  const r = result.release;
  const servedPath = relative(resolve(feedDir), resolve(result.indexPath)).split('\\').join('/');
  process.stdout.write(
    [
      result.unchanged
        ? `${r.metadata.name} ${r.spec.version} is already published on channel ${channel} with this content; nothing changed.`
        : `Published ${r.metadata.name} ${r.spec.version} on channel ${channel} (published ${r.spec.published ?? '?'}, key id ${r.signature.keyId}).`,
      `  index:   ${result.indexPath} (${result.count} release${result.count === 1 ? '' : 's'})`,
      `  release: ${result.releasePath}`,
      `Serve ${feedDir} at the feed URL stacks name in spec.channel.url; berth reads <url>/${servedPath}.`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function verifyFile(file: string, values: Values): Promise<number> {
  const keyPath = String(values['publicKey']);
  const wanted = values['channel'];
  const publicKey = await parsePublicKey(keyPath, process.cwd());
  const keyId = keyIdOf(publicKey);
  const text = await readFile(file, 'utf8');
  const doc = parseFeedDocument(text, file) as Record<string, unknown>;
  if (doc['kind'] === 'ReleaseIndex') {
    const declared = doc['channel'];
    const channel = typeof wanted === 'string' ? wanted : typeof declared === 'string' ? declared : '';
    const index = parseIndex(text, { url: file, channel, publicKey });
    const newest = index.releases[0]?.spec.version;
    process.stdout.write(
      `OK: ${file} is a valid index of channel ${index.channel}: ${index.releases.length} release${index.releases.length === 1 ? '' : 's'}` +
        `${newest !== undefined ? `, newest ${newest}` : ''}, all signed by key ${keyId}.\n`,
    );
    return 0;
  }
  const release = verifyRelease(doc, publicKey, file);
  if (typeof wanted === 'string' && release.spec.channel !== wanted) {
    throw new FeedError('ChannelMismatch', `${file}: release ${release.spec.version} was signed for channel ${JSON.stringify(release.spec.channel ?? null)}, not "${wanted}"`);
  }
  process.stdout.write(
    `OK: ${file} is release ${release.metadata.name} ${release.spec.version} of channel ${release.spec.channel ?? '(none)'}` +
      `, published ${release.spec.published ?? '(unknown)'}, signed by key ${keyId}.\n`,
  );
  return 0;
}

/**
 * `berth release keygen|publish|verify`, its options parsed by main.ts (commander, which
 * also refuses usage errors with exit 2); returns the exit code: 0 done, 1 failed.
 */
export async function releaseCommand(sub: Sub, file: string | undefined, values: Values): Promise<number> {
  try {
    switch (sub) {
      case 'keygen':
        return await keygen(values);
      case 'publish':
        return await publish(file as string, values);
      case 'verify':
        return await verifyFile(file as string, values);
    }
  } catch (err) {
    const reason = err instanceof FeedError ? `${err.reason}: ` : '';
    process.stderr.write(`berth release ${sub}: ${reason}${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
