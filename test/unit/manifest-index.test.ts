// ManifestIndex: which manifest file holds which stack name. The file that declared a name
// first keeps it, also against a newcomer whose file name sorts first and across a restart
// (the holder is read back from the stack's status); the newcomer is reported on its own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManifestIndex } from '../../src/controller/index.js';
import type { ManifestEntry } from '../../src/store/manifests.js';
import { stack } from './fixtures.js';

const entry = (file: string, name: string): ManifestEntry => {
  const s = stack();
  return { file, stack: { ...s, metadata: { ...s.metadata, name } }, declaredName: name };
};
const noneOnDisk = async () => undefined;

describe('ManifestIndex: a stack name belongs to the file that declared it first', () => {
  test('a new file whose name sorts first does not take over a stack another file holds', async () => {
    const index = new ManifestIndex();
    await index.update([entry('/m/shop.yaml', 'shop')], noneOnDisk);
    await index.update([entry('/m/a-copy.yaml', 'shop'), entry('/m/shop.yaml', 'shop')], noneOnDisk);
    assert.equal(index.fileOfStack('shop'), '/m/shop.yaml');
    const newcomer = index.unnamedEntry('a-copy.yaml');
    assert.ok(newcomer?.error, 'the newcomer is reported under its own file name');
    assert.match(newcomer.error.message, /a-copy\.yaml/);
    assert.match(newcomer.error.message, /shop\.yaml/);
  });

  test('after a restart the holder recorded in the status keeps the name', async () => {
    const index = new ManifestIndex();
    const onDisk = async (name: string) => (name === 'shop' ? '/m/shop.yaml' : undefined);
    await index.update([entry('/m/a-copy.yaml', 'shop'), entry('/m/shop.yaml', 'shop')], onDisk);
    assert.equal(index.fileOfStack('shop'), '/m/shop.yaml');
    assert.ok(index.unnamedEntry('a-copy.yaml')?.error);
  });

  test('with no holder known, the first file in name order gets the name, the same way each time', async () => {
    const index = new ManifestIndex();
    await index.update([entry('/m/a.yaml', 'shop'), entry('/m/b.yaml', 'shop')], noneOnDisk);
    assert.equal(index.fileOfStack('shop'), '/m/a.yaml');
  });

  test('once the holder is deleted, the other file takes the name over', async () => {
    const index = new ManifestIndex();
    await index.update([entry('/m/shop.yaml', 'shop')], noneOnDisk);
    await index.update([entry('/m/a-copy.yaml', 'shop'), entry('/m/shop.yaml', 'shop')], noneOnDisk);
    await index.update([entry('/m/a-copy.yaml', 'shop')], noneOnDisk);
    assert.equal(index.fileOfStack('shop'), '/m/a-copy.yaml');
  });

  test('files that are gone are forgotten, so the index does not grow with every file ever seen', async () => {
    const index = new ManifestIndex();
    for (let i = 0; i < 50; i++) await index.update([entry(`/m/s${i}.yaml`, `s${i}`)], noneOnDisk);
    assert.equal(index.filesRemembered(), 1);
    assert.deepEqual(index.stackNames(), ['s49']);
  });
});
