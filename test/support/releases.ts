// Releases and signing keys for tests of the feed: what a vendor would write and sign.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { stringify } from 'yaml';
import type { Release } from '../../src/api/types.js';
import { generateSigningKeys } from '../../src/sources/signing.js';

export interface TestKeys {
  privatePem: string;
  publicPem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function testKeys(): TestKeys {
  const { privatePem, publicPem } = generateSigningKeys();
  return { privatePem, publicPem, privateKey: createPrivateKey(privatePem), publicKey: createPublicKey(publicPem) };
}

/** A digest that differs per `seed`, so two releases' images differ. */
export function digest(seed: string): string {
  return `sha256:${Buffer.from(seed.padEnd(32, '.')).toString('hex').slice(0, 64)}`;
}

/** A complete Release of `version` as publishing leaves it (channel and published set), unsigned. */
export function releaseOf(version: string, fields: { channel?: string; name?: string; notes?: string; compose?: string } = {}): Release {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Release',
    metadata: { name: fields.name ?? 'shop' },
    spec: {
      version,
      images: { web: `registry.local/shop/web@${digest(`web-${version}`)}`, db: `registry.local/shop/db@${digest('db')}` },
      notes: fields.notes ?? `What changed in ${version}.`,
      compose: fields.compose ?? 'services:\n  web:\n    image: placeholder\n  db:\n    image: placeholder\n',
      channel: fields.channel ?? 'stable',
      published: '2025-03-01T12:00:00Z',
    },
  };
}

/** What an author writes before publishing: no channel, no publish time, no signature. */
export function authoredYaml(version: string, fields: { notes?: string; channel?: string } = {}): string {
  const r = releaseOf(version, fields);
  const { channel, published: _p, ...spec } = r.spec;
  return stringify({ ...r, spec: { ...spec, ...(fields.channel !== undefined ? { channel } : {}) } });
}
