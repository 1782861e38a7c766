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
    name: { ...dnsLabel, description: 'Name of the stack.' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

// A DNS-1123 subdomain, as most Kubernetes kinds use for names: a Release is naturally named
// after its version (shop-1.5.0), and it names no compose project, so dots are fine.
const dnsSubdomain = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
} as const;

const releaseMetadata = {
  ...metadata,
  properties: { ...metadata.properties, name: { ...dnsSubdomain, description: 'Name of the release, e.g. shop-1.5.0.' } },
} as const;

/** Defaults of spec.health and spec.rollback, also applied to revisions written before they existed. */
export const HEALTH_DEFAULTS = { progressDeadlineSeconds: 120, stableForSeconds: 10 } as const;
export const ROLLBACK_DEFAULTS = { auto: true, keep: 10 } as const;

// The health gate a new revision must pass before it counts as good. The defaults are what
// a person would pick for a small web stack: ten seconds of continuous health, two minutes
// at most to get there.
const probeSchema = {
  type: 'object',
  required: ['service', 'port'],
  additionalProperties: false,
  properties: {
    service: { type: 'string', minLength: 1, description: 'The service whose containers are probed (each of them).' },
    port: { type: 'integer', minimum: 1, maximum: 65535, description: "The container's port (not a published host port)." },
    path: { type: 'string', pattern: '^/', default: '/', description: 'The HTTP path to GET.' },
    expectStatus: { type: 'integer', minimum: 100, maximum: 599, default: 200, description: 'The status code that counts as healthy.' },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 60, default: 2, description: 'Bound of one probe request.' },
  },
} as const;

const healthSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'The health gate: what a new revision must show before berth counts it as good.',
  properties: {
    progressDeadlineSeconds: {
      type: 'integer',
      minimum: 5,
      maximum: 86400,
      default: HEALTH_DEFAULTS.progressDeadlineSeconds,
      description: 'A revision not proven healthy this long after compose up finished has failed (ProgressDeadlineExceeded).',
    },
    stableForSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 3600,
      default: HEALTH_DEFAULTS.stableForSeconds,
      description: 'How long every container must stay running and healthy (and every probe pass) without a break.',
    },
    probes: {
      type: 'array',
      maxItems: 32,
      items: probeSchema,
      description: "HTTP probes, sent to each container of the service at its address on the project's network.",
    },
  },
} as const;

const rollbackSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    auto: {
      type: 'boolean',
      default: ROLLBACK_DEFAULTS.auto,
      description: 'When a revision fails the health gate, converge back to the last revision that passed it.',
    },
    keep: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      default: ROLLBACK_DEFAULTS.keep,
      description: 'Entries of revision history kept in the status (and revision folders kept on disk).',
    },
  },
} as const;

export const UPDATE_MODES = ['auto', 'notify', 'disabled'] as const;

/** Semantic versions (semver.org 2.0.0), as release versions must be. */
export const SEMVER_PATTERN =
  '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$';

export const CHANNEL_DEFAULTS = { name: 'stable', intervalSeconds: 300, jitterSeconds: 30, timeoutSeconds: 10 } as const;
export const POLICY_DEFAULTS = { autoApply: 'minor', minReleaseAgeSeconds: 0 } as const;
export const SEMVER_CHANGES = ['patch', 'minor', 'major'] as const;

// Where a vendor publishes releases, and the key that must have signed them. berth trusts
// no field of a release before its signature checks out against this key.
const channelSchema = {
  type: 'object',
  required: ['url', 'publicKey'],
  additionalProperties: false,
  description: 'The release feed this stack checks in with.',
  properties: {
    url: {
      type: 'string',
      pattern: '^https?://[^\\s]+$',
      description: 'Base URL of the feed; berth reads <url>/<name>/index.json.',
    },
    name: { ...dnsLabel, default: CHANNEL_DEFAULTS.name, description: 'The channel: stable, beta, or any name the vendor publishes.' },
    publicKey: {
      type: 'string',
      minLength: 1,
      description: "The vendor's ed25519 public key: a PEM file's path (relative to this manifest) or the PEM text itself.",
    },
    intervalSeconds: {
      type: 'integer',
      minimum: 2,
      maximum: 86400,
      default: CHANNEL_DEFAULTS.intervalSeconds,
      description: 'How often berth checks in.',
    },
    jitterSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 3600,
      default: CHANNEL_DEFAULTS.jitterSeconds,
      description: 'Up to this much is added at random to each interval, so a fleet does not check in all at once.',
    },
    timeoutSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 300,
      default: CHANNEL_DEFAULTS.timeoutSeconds,
      description: 'A check-in that has not received the whole index by then fails (FeedTimeout).',
    },
    reportUrl: {
      type: 'string',
      pattern: '^https?://[^\\s]+$',
      description:
        "Where berth POSTs how each update from this channel went. Without it, berth uses the index's report URL only when it is on the feed's own origin over https.",
    },
  },
} as const;

const policySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Which releases from the channel berth applies without a person.',
  properties: {
    autoApply: {
      enum: SEMVER_CHANGES,
      default: POLICY_DEFAULTS.autoApply,
      description:
        'The largest semver change applied without approval in auto mode; a larger one waits for spec.approve, as in notify mode.',
    },
    minReleaseAgeSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 31536000,
      default: POLICY_DEFAULTS.minReleaseAgeSeconds,
      description: 'Cooldown: a release younger than this (by its signed publish time) is not applied automatically.',
    },
  },
} as const;

export const NOTIFY_EVENTS = ['updateAvailable', 'awaitingApproval', 'applied', 'failed', 'rolledBack'] as const;
export const NOTIFY_FORMATS = ['json', 'slack', 'discord', 'ntfy'] as const;

// An outgoing webhook. The secret may sit in the manifest, but need not: a file beside it
// (0600, kept out of git) or a variable in berth's environment keep it out of the manifest.
export const webhookSchema = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  // One place for the secret at most, so nobody wonders which of two wins.
  not: { anyOf: [{ required: ['secret', 'secretFile'] }, { required: ['secret', 'secretEnv'] }, { required: ['secretFile', 'secretEnv'] }] },
  properties: {
    url: { type: 'string', pattern: '^https?://[^\\s]+$', description: 'Where berth POSTs the notification.' },
    format: {
      enum: NOTIFY_FORMATS,
      default: 'json',
      description:
        "json: berth's event document, signed (X-Berth-Signature) when a secret is set. slack / discord: an incoming webhook's {text} / {content}. ntfy: a text message with Title and Tags headers (the secret, if any, is sent as a Bearer token).",
    },
    secret: { type: 'string', minLength: 1, description: 'The HMAC-SHA256 key (json) or access token (ntfy), inline. Prefer secretFile or secretEnv.' },
    secretFile: { type: 'string', minLength: 1, description: "A file holding the secret, relative to this manifest's folder (or absolute); read when sending." },
    secretEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: "The name of a variable in berth's environment holding the secret." },
    events: {
      type: 'array',
      minItems: 1,
      items: { enum: NOTIFY_EVENTS },
      description: 'What this webhook hears (default: every event).',
    },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 120, default: 10, description: 'An attempt not answered by then failed; berth tries again with backoff.' },
  },
} as const;

export const notifySchema = {
  type: 'array',
  maxItems: 16,
  items: webhookSchema,
  description: "Webhooks told about this stack's updates. Absent: berth's own default (--notify-config); [] for none.",
} as const;

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
      required: ['compose'],
      additionalProperties: false,
      // A stack either names its version or follows a channel for it.
      if: { not: { required: ['version'] } },
      then: { required: ['channel'] },
      properties: {
        compose: {
          type: 'object',
          description:
            'What `docker compose` in the project folder reads: berth asks compose for the resolved model of these inputs, and every one of them is part of a revision.',
          additionalProperties: false,
          // One file (as before) or a list; neither means compose's own discovery in `directory`.
          not: { required: ['file', 'files'] },
          properties: {
            file: {
              type: 'string',
              minLength: 1,
              description:
                "The user's compose file, relative to this manifest's folder (or absolute). A file named as compose discovers it (compose.yaml, docker-compose.yml, ...) is read with its override file, as `docker compose` in its folder would.",
            },
            files: {
              type: 'array',
              minItems: 1,
              items: { type: 'string', minLength: 1 },
              description: 'Compose files in order (`-f a -f b`), relative to this manifest\'s folder (or absolute). Default: compose\'s own discovery, override file included.',
            },
            directory: {
              type: 'string',
              minLength: 1,
              description: "Project directory (relative to this manifest's folder, or absolute). Default: the folder of the (first) compose file, else this manifest's folder.",
            },
            profiles: {
              type: 'array',
              items: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$' },
              description: 'Compose profiles to enable (`--profile`); only their services (and those without a profile) are expected to run.',
            },
            envFiles: {
              type: 'array',
              items: { type: 'string', minLength: 1 },
              description: "Env files for interpolation (`--env-file`), relative to the project directory (or absolute). Default: the project directory's `.env`.",
            },
            project: {
              ...dnsLabel,
              description:
                "Compose project name (`-p`). Default: compose's own choice (COMPOSE_PROJECT_NAME, the file's name:, the folder); a stack already running under metadata.name stays there.",
            },
          },
        },
        version: {
          type: 'string',
          minLength: 1,
          maxLength: 128,
          description: 'The target version: what the stack should run. Without it the stack follows spec.channel.',
        },
        images: {
          type: 'object',
          description:
            "Service name -> image pinned by digest. Services not named keep the image of the compose file (or, following a channel, the release's).",
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
          description:
            'The version a person approved: exactly that version and no other, and only the content berth first applied under it. ' +
            '"VERSION@KEY" (a prefix of the content key, at least 8 hex digits) approves that content of the version.',
        },
        resyncSeconds: {
          type: 'integer',
          minimum: 5,
          maximum: 86400,
          default: 30,
          description: 'How often berth re-checks the stack even when nothing signalled a change.',
        },
        health: healthSchema,
        rollback: rollbackSchema,
        channel: channelSchema,
        policy: policySchema,
        notify: notifySchema,
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
    desiredReplicas: {
      type: 'integer',
      minimum: 0,
      description: 'Containers compose keeps for the service: 0 for `deploy.replicas: 0` or a profile that is not active. Absent: at least one.',
    },
    job: { type: 'boolean', description: 'A one-shot job: a container that exited 0 is done, a non-zero exit is a failure.' },
    reason: {
      enum: ['ProfileInactive', 'ScaledToZero', 'JobRunning', 'JobCompleted', 'JobFailed'],
      description: 'Why the service is judged differently from a long-running one.',
    },
    message: { type: 'string', description: 'The reason in words.' },
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
          exitCode: { type: 'integer', description: 'The exit code of an exited container.' },
        },
      },
    },
  },
} as const;

export const OPERATION_KINDS = ['update', 'rollback', 'repair'] as const;
export const OPERATION_STEPS = ['pull', 'writeRevision', 'composeUp', 'verify'] as const;
export const OUTCOMES = ['Progressing', 'Healthy', 'Failed', 'RolledBack', 'Superseded'] as const;

// The write-ahead journal entry: written before each step with an effect, so a berth that
// starts after a crash knows what was in flight and finishes it instead of starting over.
const operationSchema = {
  type: 'object',
  required: ['id', 'kind', 'revision', 'targetKey', 'desiredKey', 'step', 'started', 'stepStarted'],
  additionalProperties: false,
  description: 'The operation in flight (write-ahead journal); absent when berth is idle.',
  properties: {
    id: { type: 'string', minLength: 1 },
    kind: { enum: OPERATION_KINDS },
    revision: { type: 'integer', minimum: 1, description: 'The revision being applied.' },
    fromRevision: { type: 'integer', minimum: 1, description: 'The revision that ran before.' },
    targetKey: { type: 'string', description: 'Identity of the revision being applied.' },
    desiredKey: { type: 'string', description: 'Identity of the desired target when the operation began; a different one supersedes it.' },
    step: { enum: OPERATION_STEPS },
    started: { type: 'string', format: 'date-time' },
    stepStarted: { type: 'string', format: 'date-time' },
    composePid: { type: 'integer', minimum: 1, description: 'The compose process of the composeUp step, so a restarted berth can wait for it.' },
    composeStartTime: {
      type: 'integer',
      minimum: 0,
      description: 'Start time of composePid (field 22 of /proc/PID/stat), so a reused pid is never taken for it.',
    },
    verifyDeadline: { type: 'string', format: 'date-time', description: 'When verification fails unless the gate has passed.' },
    healthySince: { type: 'string', format: 'date-time', description: 'Start of the current unbroken stretch of health.' },
    restartBaseline: {
      type: 'object',
      additionalProperties: { type: 'integer', minimum: 0 },
      description: 'Container id -> restart count when verification began, to tell a crash loop.',
    },
    interrupted: { type: 'string', description: 'Why the operation must repeat compose up (e.g. the engine restarted under it).' },
  },
} as const;

// What failed, kept so berth never applies it again by itself: Argo's once-per-revision rule.
const quarantineSchema = {
  type: 'object',
  required: ['targetKey', 'version', 'revision', 'reason', 'message', 'since'],
  additionalProperties: false,
  description: 'The failed target berth will not apply again until the spec changes or a retry is asked for.',
  properties: {
    targetKey: { type: 'string' },
    version: { type: 'string' },
    revision: { type: 'integer', minimum: 1 },
    reason: { type: 'string', pattern: '^[A-Z][A-Za-z]*$' },
    message: { type: 'string' },
    since: { type: 'string', format: 'date-time' },
    retryToken: { type: 'string', description: 'The berth.dev/retry annotation when it failed; a new non-empty value asks for a retry.' },
    intent: {
      type: 'string',
      description:
        'Hash of what the spec named when it failed (version, approve, images, compose, channel): the quarantine holds until a person changes it. Feed answers never do.',
    },
    versions: {
      type: 'array',
      items: { type: 'string' },
      description: 'Every version that failed under this intent, newest first: none is applied again by itself.',
    },
    rollbackFailed: { type: 'boolean', description: 'The rollback failed too: berth stops acting on the stack.' },
  },
} as const;

// What spec.approve was taken to cover: the content berth applied under the approved
// version. Other content under the same version needs a new approval.
const approvalSchema = {
  type: 'object',
  required: ['version', 'targetKey', 'since'],
  additionalProperties: false,
  description: 'The content an approval (spec.approve) applied to; changed content under the same version waits for a new approval.',
  properties: {
    version: { type: 'string' },
    targetKey: { type: 'string', description: 'Content key (version, digests, compose file) of what was approved.' },
    since: { type: 'string', format: 'date-time' },
  },
} as const;

const historyEntrySchema = {
  type: 'object',
  required: ['revision', 'version', 'operation', 'started', 'outcome'],
  additionalProperties: false,
  properties: {
    revision: { type: 'integer', minimum: 1 },
    version: { type: 'string' },
    operation: { enum: ['update', 'rollback'] },
    started: { type: 'string', format: 'date-time' },
    finished: { type: 'string', format: 'date-time' },
    outcome: { enum: OUTCOMES },
    reason: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

// The newest release on the channel that is newer than what runs, as the status shows it.
const availableSchema = {
  type: 'object',
  required: ['version', 'channel'],
  additionalProperties: false,
  description: 'The newest verified release on the channel that is newer than what runs.',
  properties: {
    version: { type: 'string' },
    channel: { type: 'string' },
    notes: { type: 'string' },
    published: { type: 'string', format: 'date-time' },
    change: { enum: ['major', 'minor', 'patch', 'prerelease', 'install'], description: 'How far it is from what runs.' },
    downloaded: { type: 'boolean', description: "Every image of the release is on this host (pre-downloaded)." },
    waitingFor: { type: 'string', description: 'Why berth does not apply it by itself (approval, cooldown, pinned version, mode).' },
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
        revision: { type: 'integer', minimum: 1, description: 'The revision berth applied last: what compose was last told to run.' },
        lastGoodRevision: {
          type: 'integer',
          minimum: 1,
          description: 'The newest revision that passed the health gate: where an automatic rollback goes.',
        },
        operation: operationSchema,
        quarantine: quarantineSchema,
        approval: approvalSchema,
        history: { type: 'array', items: historyEntrySchema, description: 'Newest first, bounded by spec.rollback.keep.' },
        lastCheckIn: { type: 'string', format: 'date-time', description: 'When berth last accepted an answer from the release feed.' },
        available: availableSchema,
        lastAppliedTime: { type: 'string', format: 'date-time' },
        lastReconcileTime: { type: 'string', format: 'date-time' },
        lastError: { type: 'string' },
        services: { type: 'array', items: serviceStatusSchema },
        conditions: { type: 'array', items: conditionSchema },
      },
    },
  },
} as const;

// What a vendor publishes on a channel. `berth release publish` adds spec.channel,
// spec.published and the signature; berth verifies the signature over the canonical form
// of everything but the signature before it reads any other field.
const releaseBody = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: API_VERSION },
    kind: { const: 'Release' },
    metadata: releaseMetadata,
    spec: {
      type: 'object',
      required: ['version', 'images'],
      additionalProperties: false,
      properties: {
        version: { type: 'string', maxLength: 128, pattern: SEMVER_PATTERN, description: 'The semantic version of the release.' },
        images: {
          type: 'object',
          minProperties: 1,
          maxProperties: 256,
          propertyNames: { pattern: '^[a-zA-Z0-9._-]+$' },
          additionalProperties: pinnedImage,
          description: 'Service name -> image pinned by digest.',
        },
        notes: { type: 'string', maxLength: 65536, description: 'What changed, for the admin who approves.' },
        compose: {
          type: 'string',
          minLength: 1,
          maxLength: 262144,
          description: "The compose file of this release, when the stack's shape changes; it replaces the stack's own from this revision on.",
        },
        channel: { ...dnsLabel, description: 'The channel it was published on (set by berth release publish).' },
        published: { type: 'string', format: 'date-time', description: 'When it was published (set by berth release publish).' },
      },
    },
    signature: {
      type: 'object',
      required: ['algorithm', 'keyId', 'value'],
      additionalProperties: false,
      description: 'Detached ed25519 signature over the canonical form of the rest of the document.',
      properties: {
        algorithm: { const: 'ed25519' },
        keyId: { type: 'string', pattern: '^[a-f0-9]{16}$', description: "First 16 hex digits of the SHA-256 of the public key's DER form." },
        value: { type: 'string', pattern: '^[A-Za-z0-9+/]{86}==$', description: 'The 64-byte signature, base64.' },
      },
    },
  },
} as const;

export const releaseSchema = {
  $id: 'https://berth.dev/schemas/v1alpha1/release.json',
  title: 'Release',
  description: 'A release a vendor publishes on a channel: version, images by digest, notes, optional compose file.',
  ...releaseBody,
} as const;

/** Upper bounds of a feed berth accepts: a hostile server cannot make berth hold more. */
export const FEED_LIMITS = { maxBytes: 4 * 1024 * 1024, maxReleases: 200 } as const;

export const releaseIndexSchema = {
  $id: 'https://berth.dev/schemas/v1alpha1/releaseindex.json',
  title: 'ReleaseIndex',
  description: 'What <feed>/<channel>/index.json serves: the signed releases of one channel.',
  type: 'object',
  required: ['apiVersion', 'kind', 'channel', 'releases'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: API_VERSION },
    kind: { const: 'ReleaseIndex' },
    channel: dnsLabel,
    report: {
      type: 'string',
      pattern: '^https?://[^\\s]+$',
      description: 'Where berth POSTs the outcome of applying a release (optional).',
    },
    releases: {
      type: 'array',
      maxItems: FEED_LIMITS.maxReleases,
      items: { ...releaseBody, required: [...releaseBody.required, 'signature'] },
    },
  },
} as const;
