// modeWhileInvalid(): the mode berth acts under while a stack's manifest cannot be used.
// `disabled` anywhere berth can read it wins; nothing readable means hands off.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { modeWhileInvalid, type ModeEvidence } from '../../src/plan/mode.js';
import type { UpdateMode } from '../../src/api/types.js';
import { parseManifest } from '../../src/store/manifests.js';
import { decide } from '../../src/plan/decide.js';
import { buildStatus } from '../../src/plan/status.js';
import type { Desired } from '../../src/plan/types.js';
import { NOW, invalid, observed, record, recorded, runningOf, target } from './fixtures.js';

describe('modeWhileInvalid', () => {
  const rows: Array<{ name: string; evidence: ModeEvidence; mode: UpdateMode | undefined; handsOff: boolean; because: RegExp }> = [
    { name: 'the broken manifest says disabled', evidence: { manifest: 'disabled' }, mode: 'disabled', handsOff: true, because: /manifest still says mode: disabled/ },
    {
      name: 'the manifest says disabled, its compose file is missing, the last valid manifest said auto',
      evidence: { manifest: 'disabled', lastValid: 'auto', status: 'auto' },
      mode: 'disabled',
      handsOff: true,
      because: /manifest still says mode: disabled/,
    },
    { name: 'after a restart: only the status says disabled', evidence: { status: 'disabled' }, mode: 'disabled', handsOff: true, because: /last acted under mode disabled/ },
    { name: 'this process last read a valid disabled manifest', evidence: { lastValid: 'disabled' }, mode: 'disabled', handsOff: true, because: /last acted under mode disabled/ },
    {
      name: 'the broken manifest asks for auto but berth last acted under disabled',
      evidence: { manifest: 'auto', status: 'disabled' },
      mode: 'disabled',
      handsOff: true,
      because: /asks for auto, but berth cannot use it/,
    },
    { name: 'nothing can be read (restart, unreadable mode, no status)', evidence: {}, mode: undefined, handsOff: true, because: /neither the manifest nor the status/ },
    { name: 'the manifest says auto', evidence: { manifest: 'auto' }, mode: 'auto', handsOff: false, because: /keeps the revision it applied running/ },
    { name: 'after a restart: the status says notify', evidence: { status: 'notify' }, mode: 'notify', handsOff: false, because: /mode notify/ },
    { name: 'the manifest says notify, berth last acted under auto: the manifest counts', evidence: { manifest: 'notify', status: 'auto' }, mode: 'notify', handsOff: false, because: /mode notify/ },
    { name: 'the last valid manifest said auto', evidence: { lastValid: 'auto' }, mode: 'auto', handsOff: false, because: /mode auto/ },
  ];
  for (const row of rows) {
    test(`${row.name} -> ${row.mode ?? 'unknown'}${row.handsOff ? ', hands off' : ''}`, () => {
      const d = modeWhileInvalid(row.evidence);
      assert.equal(d.mode, row.mode);
      assert.equal(d.handsOff, row.handsOff);
      assert.match(d.because, row.because);
    });
  }
});

describe('the mode an invalid manifest still declares (parseManifest)', () => {
  const head = 'apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\n';
  const rows: Array<{ name: string; text: string; mode: UpdateMode | undefined }> = [
    { name: 'an invalid field beside mode: disabled', text: `${head}spec:\n  mode: disabled\n  images: {web: "not-pinned"}\n`, mode: 'disabled' },
    { name: 'an invalid field and no mode (the default)', text: `${head}spec:\n  images: {web: "not-pinned"}\n`, mode: 'auto' },
    { name: 'a mode that is not one', text: `${head}spec:\n  mode: disabld\n`, mode: undefined },
    { name: 'a spec that is not a mapping', text: `${head}spec: [a, b]\n`, mode: undefined },
    { name: 'no spec', text: head, mode: undefined },
  ];
  for (const row of rows) {
    test(`${row.name} -> ${row.mode ?? 'unreadable'}`, () => {
      const entry = parseManifest('/srv/stacks/shop.yaml', row.text);
      assert.equal(entry.stack, undefined, 'the manifest is invalid');
      assert.equal(entry.declaredMode, row.mode);
    });
  }
});

describe('status.mode while the manifest is broken', () => {
  const rev1 = record(target(), 1);
  const status = (desired: Desired) => {
    const obs = observed(runningOf(rev1));
    const plan = decide({ desired, recorded: recorded(rev1), observed: obs, now: NOW });
    return buildStatus({ name: 'shop', desired, recorded: recorded(rev1), observed: obs, plan, progress: plan.progress, now: NOW }).status;
  };
  test('records the mode berth acts under, so a restart knows it', () => {
    assert.equal(status(invalid('auto', { manifestMode: 'disabled' })).mode, 'disabled');
    assert.equal(status(invalid(undefined, { statusMode: 'disabled' })).mode, 'disabled');
    assert.equal(status(invalid(undefined, { statusMode: 'notify' })).mode, 'notify');
  });
  test('records no mode when none can be read, and Ready says berth keeps its hands off', () => {
    const s = status(invalid());
    assert.equal(s.mode, undefined);
    assert.match(s.conditions.find((c) => c.type === 'Ready')!.message, /neither the manifest nor the status/);
  });
});
