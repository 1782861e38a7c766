// TypeScript types derived from the schemas, so the two can never disagree.
import type { FromSchema } from 'json-schema-to-ts';
import type { NOTIFY_EVENTS, NOTIFY_FORMATS, releaseIndexSchema, releaseSchema, stackSchema, stackStatusSchema, UPDATE_MODES } from './schema.js';

export type Stack = FromSchema<typeof stackSchema>;
export type StackSpec = Stack['spec'];
export type UpdateMode = (typeof UPDATE_MODES)[number];

export type HealthSpec = NonNullable<StackSpec['health']>;
export type ProbeSpec = NonNullable<HealthSpec['probes']>[number];
export type RollbackSpec = NonNullable<StackSpec['rollback']>;

/** A Stack after defaults were applied: the fields with defaults are always present. */
export type ResolvedStack = Stack & {
  spec: StackSpec & {
    mode: UpdateMode;
    resyncSeconds: number;
    health: HealthSpec & {
      progressDeadlineSeconds: number;
      stableForSeconds: number;
      probes?: Array<ProbeSpec & { path: string; expectStatus: number; timeoutSeconds: number }>;
    };
    rollback: RollbackSpec & { auto: boolean; keep: number };
    channel?: ChannelSpec & { name: string; intervalSeconds: number; jitterSeconds: number; timeoutSeconds: number };
    policy: PolicySpec & { autoApply: SemverChange; minReleaseAgeSeconds: number };
  };
};

export type StackStatus = FromSchema<typeof stackStatusSchema>;
export type StackStatusBody = StackStatus['status'];
export type Condition = NonNullable<StackStatusBody['conditions']>[number];
export type ConditionStatus = Condition['status'];
export type ServiceStatus = NonNullable<StackStatusBody['services']>[number];
export type ContainerStatus = ServiceStatus['containers'][number];
export type Health = ContainerStatus['health'];
export type Operation = NonNullable<StackStatusBody['operation']>;
export type OperationKind = Operation['kind'];
export type OperationStep = Operation['step'];
export type Quarantine = NonNullable<StackStatusBody['quarantine']>;
export type Approval = NonNullable<StackStatusBody['approval']>;
export type HistoryEntry = NonNullable<StackStatusBody['history']>[number];
export type Outcome = HistoryEntry['outcome'];

export type ChannelSpec = NonNullable<StackSpec['channel']>;
export type PolicySpec = NonNullable<StackSpec['policy']>;
export type SemverChange = PolicySpec['autoApply'];
export type Available = NonNullable<StackStatusBody['available']>;

export type Release = FromSchema<typeof releaseSchema>;
export type ReleaseSpec = Release['spec'];
export type Signature = NonNullable<Release['signature']>;
/** A release as it appears in an index: signed. */
export type SignedRelease = Release & { signature: Signature };
export type ReleaseIndex = FromSchema<typeof releaseIndexSchema>;

export type NotifySpec = NonNullable<StackSpec['notify']>;
export type WebhookSpec = NotifySpec[number];
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];
