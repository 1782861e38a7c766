// `berth release`: the vendor's side of a release feed. keygen makes the signing key pair,
// publish signs a release into a static feed folder, verify checks an index or a release
// offline, as berth would (for vendors, and for CI before a feed is uploaded).
import { readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FeedError } from '../sources/errors.js';
import { parseFeedDocument, parseIndex } from '../sources/feed.js';
import { publishRelease } from '../sources/publish.js';
import { generateSigningKeys, keyIdOf, parsePrivateKey, parsePublicKey, verifyRelease } from '../sources/signing.js';
import { writeFileAtomic } from '../util/atomic.js';

const USAGES = {
  keygen: 'berth release keygen --out DIR [--force]',
  publish: 'berth release publish RELEASE.yaml --key KEYFILE --feed DIR [--channel stable] [--report URL]',
  verify: 'berth release verify INDEX_OR_RELEASE_FILE --public-key PEM_FILE [--channel NAME]',
} as const;
type Sub = keyof typeof USAGES;

export const RELEASE_USAGE = `  ${USAGES.keygen}
      Make an ed25519 key pair to sign releases: DIR/release.key (secret) and DIR/release.pub.
  ${USAGES.publish}
      Sign a Release and add it to DIR/<channel>/index.json (and releases/<version>.yaml).
  ${USAGES.verify}
      Check a channel's index.json or one release file against the public key, offline.
`;

class UsageError extends Error {}

function parse(sub: Sub, args: string[], options: ParseArgsConfig['options']): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (err) {
    // parseArgs explains itself over several sentences; the first is the one that matters.
    const first = ((err as Error).message.split('. ')[0] ?? '').replace(/\.$/, '');
    throw new UsageError(`${first}; usage: ${USAGES[sub]}`);
  }
}

function required(sub: Sub, values: Record<string, string | boolean | undefined>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required; usage: ${USAGES[sub]}`);
  return v;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

async function keygen(args: string[]): Promise<number> {
  const { values, positionals } = parse('keygen', args, { out: { type: 'string' }, force: { type: 'boolean', default: false } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"; usage: ${USAGES.keygen}`);
  const out = required('keygen', values, 'out');
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

async function publish(args: string[]): Promise<number> {
  const { values, positionals } = parse('publish', args, {
    key: { type: 'string' },
    feed: { type: 'string' },
    channel: { type: 'string', default: 'stable' },
    report: { type: 'string' },
  });
  const [releaseFile, extra] = positionals;
  if (releaseFile === undefined) throw new UsageError(`name the release file; usage: ${USAGES.publish}`);
  if (extra !== undefined) throw new UsageError(`publish takes one release file, not also "${extra}"; usage: ${USAGES.publish}`);
  const keyFile = required('publish', values, 'key');
  const feedDir = required('publish', values, 'feed');
  const channel = required('publish', values, 'channel');
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

async function verifyFile(args: string[]): Promise<number> {
  const { values, positionals } = parse('verify', args, { 'public-key': { type: 'string' }, channel: { type: 'string' } });
  const [file, extra] = positionals;
  if (file === undefined) throw new UsageError(`name the index or release file; usage: ${USAGES.verify}`);
  if (extra !== undefined) throw new UsageError(`verify takes one file, not also "${extra}"; usage: ${USAGES.verify}`);
  const keyPath = required('verify', values, 'public-key');
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

/** `berth release SUBCOMMAND ...`; returns the exit code: 0 done, 1 failed, 2 usage error. */
export async function releaseCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    process.stdout.write(`Usage:\n${RELEASE_USAGE}`);
    return sub === undefined ? 2 : 0;
  }
  if ((sub === 'keygen' || sub === 'publish' || sub === 'verify') && rest.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`Usage:\n  ${USAGES[sub]}\n`);
    return 0;
  }
  try {
    switch (sub) {
      case 'keygen':
        return await keygen(rest);
      case 'publish':
        return await publish(rest);
      case 'verify':
        return await verifyFile(rest);
      default:
        throw new UsageError(`unknown subcommand "${sub}"; use keygen, publish or verify`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`berth release${sub === 'keygen' || sub === 'publish' || sub === 'verify' ? ` ${sub}` : ''}: ${err.message}\n`);
      return 2;
    }
    const reason = err instanceof FeedError ? `${err.reason}: ` : '';
    process.stderr.write(`berth release ${sub}: ${reason}${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
