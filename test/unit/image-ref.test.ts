// Image references are compared as the engine stores them: a pin written in full
// (`docker.io/library/nginx@sha256:…`) names the same image as the engine's short form
// (`nginx@sha256:…`), so an image already present is never pulled again.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { missingRefs, normalizeRepo } from '../../src/plan/image-ref.js';

const D = `sha256:${'a'.repeat(64)}`;
const E = `sha256:${'b'.repeat(64)}`;

describe('normalizeRepo', () => {
  const rows: [string, string][] = [
    ['nginx', 'docker.io/library/nginx'],
    ['library/nginx', 'docker.io/library/nginx'],
    ['docker.io/nginx', 'docker.io/library/nginx'],
    ['docker.io/library/nginx', 'docker.io/library/nginx'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx'],
    ['registry-1.docker.io/bitnami/redis', 'docker.io/bitnami/redis'],
    ['bitnami/redis', 'docker.io/bitnami/redis'],
    ['ghcr.io/acme/shop', 'ghcr.io/acme/shop'],
    ['127.0.0.1:5000/berth-test/app', '127.0.0.1:5000/berth-test/app'],
    ['localhost/app', 'localhost/app'],
    ['localhost:5000/app', 'localhost:5000/app'],
    ['Registry.Example.com/acme/app', 'registry.example.com/acme/app'],
  ];
  for (const [input, want] of rows) {
    it(`${input} is ${want}`, () => assert.equal(normalizeRepo(input), want));
  }
});

describe('missingRefs', () => {
  it('a full docker.io pin is present when the engine holds the short form', () => {
    assert.deepEqual(missingRefs([`nginx@${D}`], [`docker.io/library/nginx@${D}`]), []);
  });
  it('a short pin is present when the engine holds the full form', () => {
    assert.deepEqual(missingRefs([`docker.io/bitnami/redis@${D}`], [`bitnami/redis@${D}`]), []);
  });
  it('the same digest under another repository is still missing', () => {
    assert.deepEqual(missingRefs([`ghcr.io/acme/nginx@${D}`], [`nginx@${D}`]), [`nginx@${D}`]);
  });
  it('another digest of the same repository is missing', () => {
    assert.deepEqual(missingRefs([`nginx@${D}`], [`nginx@${E}`]), [`nginx@${E}`]);
  });
  it('a ref asked twice is reported once, as it was written', () => {
    assert.deepEqual(missingRefs([], [`docker.io/library/nginx@${E}`, `docker.io/library/nginx@${E}`]), [`docker.io/library/nginx@${E}`]);
  });
});
