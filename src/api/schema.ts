// The JSON Schemas of berth's resources: the single source of truth. Types are derived from
// them (types.ts), run-time validation compiles them (validate.ts), and the CRD generator
// emits them into crds/ (crd.ts). Written `as const` so json-schema-to-ts can read them.

export const API_GROUP = 'berth.dev';
export const API_VERSION_NAME = 'v1alpha1';
export const API_VERSION = `${API_GROUP}/${API_VERSION_NAME}`;

// A DNS-1123 label, as Kubernetes uses for names; it is also the default compose project
// name, and compose accepts exactly this alphabet for project names.
const dnsLabel = {
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
} as const;

// name@sha256:<64 hex>: berth only applies images pinned by content digest, so what runs
// can be verified byte for byte and cannot change under a moving tag.
const pinnedImage = {
  type: 'string',
  pattern: '^[^\\s@]+@sha256:[a-f0-9]{64}$',
  description: 'Image pinned by digest: name@sha256:<64 hex digits>.',
} as const;

const metadata = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { ...dnsLabel, description: 'Name of the stack; also the default compose project name.' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

export const UPDATE_MODES = ['auto', 'notify', 'disabled'] as const;

export const stackSchema = {
  $id: 'https://berth.dev/schemas/v1alpha1/stack.json',
  title: 'Stack',
  description: 'Desired state of one compose deployment. Owned by a person or git; berth never rewrites it on its own.',
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: API_VERSION },
    kind: { const: 'Stack' },
    metadata,
    spec: {
      type: 'object',
      required: ['compose', 'version'],
      additionalProperties: false,
      properties: {
        compose: {
          type: 'object',
          required: ['file'],
          additionalProperties: false,
          properties: {
            file: {
              type: 'string',
              minLength: 1,
              description: "The user's compose file, relative to this manifest's folder (or absolute).",
            },
            project: { ...dnsLabel, description: 'Compose project name; defaults to metadata.name.' },
          },
        },
        version: {
          type: 'string',
          minLength: 1,
          maxLength: 128,
          description: 'The target version: what the stack should run.',
        },
        images: {
          type: 'object',
          description: 'Service name -> image pinned by digest. Services not named keep the image of the compose file.',
          propertyNames: { pattern: '^[a-zA-Z0-9._-]+$' },
          additionalProperties: pinnedImage,
        },
        mode: {
          enum: UPDATE_MODES,
          default: 'auto',
          description:
            'auto: apply a new target. notify: report it and wait for approve == version. disabled: hands off, observe and report only.',
        },
        approve: {
          type: 'string',
          minLength: 1,
          description: 'The version a person approved (notify mode). Approves exactly that version and no other.',
        },
        resyncSeconds: {
          type: 'integer',
          minimum: 5,
          maximum: 86400,
          default: 30,
          description: 'How often berth re-checks the stack even when nothing signalled a change.',
        },
      },
    },
  },
} as const;

const conditionSchema = {
  type: 'object',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', pattern: '^[A-Z][A-Za-z]*$' },
    status: { enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string', pattern: '^[A-Z][A-Za-z]*$' },
    message: { type: 'string' },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    observedGeneration: { type: 'string' },
  },
} as const;

const serviceStatusSchema = {
  type: 'object',
  required: ['name', 'containers'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    desiredImage: { type: 'string', description: 'The image the applied revision asks for.' },
    containers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'state', 'health', 'imageId'],
        additionalProperties: false,
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          state: { type: 'string', description: 'Engine state: created, running, paused, restarting, removing, exited, dead.' },
          health: { enum: ['healthy', 'unhealthy', 'starting', 'none'] },
          imageId: { type: 'string' },
          imageDigests: { type: 'array', items: { type: 'string' }, description: 'Repo digests of the image the container runs.' },
          revision: { type: 'integer', description: 'The berth revision label on the container.' },
          configHash: { type: 'string', description: "Compose's config hash label." },
        },
      },
    },
  },
} as const;

export const stackStatusSchema = {
  $id: 'https://berth.dev/schemas/v1alpha1/stackstatus.json',
  title: 'StackStatus',
  description: 'Observed state of one stack. Written only by berth, atomically.',
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'status'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: API_VERSION },
    kind: { const: 'StackStatus' },
    metadata: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: { name: { type: 'string', minLength: 1 } },
    },
    status: {
      type: 'object',
      required: ['conditions', 'services'],
      additionalProperties: false,
      properties: {
        manifest: { type: 'string', description: 'The manifest file this status is about.' },
        project: { type: 'string' },
        mode: { enum: UPDATE_MODES },
        observedGeneration: { type: 'string', description: 'Hash of the spec berth last acted on.' },
        targetVersion: { type: 'string' },
        currentVersion: { type: 'string', description: 'Version of what runs now (of the applied revision, when it is what runs).' },
        revision: { type: 'integer', minimum: 1, description: 'The revision berth applied last.' },
        lastAppliedTime: { type: 'string', format: 'date-time' },
        lastReconcileTime: { type: 'string', format: 'date-time' },
        lastError: { type: 'string' },
        services: { type: 'array', items: serviceStatusSchema },
        conditions: { type: 'array', items: conditionSchema },
      },
    },
  },
} as const;
