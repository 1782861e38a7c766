// Which mode berth acts under while a stack's manifest is invalid. Pure.
//
// `disabled` promises a person that berth undoes nothing they do by hand, and that promise
// must outlive a typo in the manifest and a restart of berth. So every place the mode can
// still be read counts, and `disabled` in any of them wins: a manifest that asks for auto
// but cannot be used is not yet a reason to start repairing over a person's work. When no
// place can tell, berth cannot know whether it may act, and keeps its hands off.
import type { UpdateMode } from '../api/types.js';
import type { Desired } from './types.js';

/** Where the mode of a stack can still be read while its manifest is invalid. */
export interface ModeEvidence {
  /** spec.mode as the manifest's raw YAML says it ('auto' when spec has no mode), when readable. */
  manifest?: UpdateMode;
  /** The mode of the last valid manifest this berth process read. */
  lastValid?: UpdateMode;
  /** status.mode: the mode berth last acted under, as the status file kept it across restarts. */
  status?: UpdateMode;
}

export interface ModeDecision {
  /** The mode berth acts under now (and records in status.mode); absent when nothing tells. */
  mode?: UpdateMode;
  /** berth applies and repairs nothing. */
  handsOff: boolean;
  /** Why, in words for the status. */
  because: string;
}

export function modeWhileInvalid(e: ModeEvidence): ModeDecision {
  if (e.manifest === 'disabled') {
    return { mode: 'disabled', handsOff: true, because: 'the manifest still says mode: disabled, so berth applies and repairs nothing' };
  }
  if (e.lastValid === 'disabled' || e.status === 'disabled') {
    const asks = e.manifest !== undefined ? ` (the manifest asks for ${e.manifest}, but berth cannot use it)` : '';
    return {
      mode: 'disabled',
      handsOff: true,
      because: `berth last acted under mode disabled${asks}, so it applies and repairs nothing until the manifest is valid`,
    };
  }
  const mode = e.manifest ?? e.lastValid ?? e.status;
  if (mode === undefined) {
    return {
      handsOff: true,
      because: 'neither the manifest nor the status says which mode the stack is in, so berth applies and repairs nothing until the manifest is valid',
    };
  }
  return { mode, handsOff: false, because: `mode ${mode}: berth keeps the revision it applied running and applies nothing new` };
}

/** The mode decision for a stack whose manifest cannot be used. */
export function modeOfInvalid(desired: Extract<Desired, { valid: false }>): ModeDecision {
  return modeWhileInvalid({
    ...(desired.manifestMode !== undefined ? { manifest: desired.manifestMode } : {}),
    ...(desired.lastValidMode !== undefined ? { lastValid: desired.lastValidMode } : {}),
    ...(desired.statusMode !== undefined ? { status: desired.statusMode } : {}),
  });
}
