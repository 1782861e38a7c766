// TypeScript types derived from the schemas, so the two can never disagree.
import type { FromSchema } from 'json-schema-to-ts';
import type { stackSchema, stackStatusSchema, UPDATE_MODES } from './schema.js';

export type Stack = FromSchema<typeof stackSchema>;
export type StackSpec = Stack['spec'];
export type UpdateMode = (typeof UPDATE_MODES)[number];

/** A Stack after defaults were applied: the fields with defaults are always present. */
export type ResolvedStack = Stack & {
  spec: StackSpec & { mode: UpdateMode; resyncSeconds: number };
};

export type StackStatus = FromSchema<typeof stackStatusSchema>;
export type StackStatusBody = StackStatus['status'];
export type Condition = NonNullable<StackStatusBody['conditions']>[number];
export type ConditionStatus = Condition['status'];
export type ServiceStatus = NonNullable<StackStatusBody['services']>[number];
export type ContainerStatus = ServiceStatus['containers'][number];
export type Health = ContainerStatus['health'];
