// The one HTTP dispatcher berth's outgoing requests share (feed check-ins, reports, webhooks):
// undici's EnvHttpProxyAgent, so HTTP_PROXY, HTTPS_PROXY and NO_PROXY work as in curl.
//
// undici 6 marks that agent experimental and says so with a process warning when the first
// one is made. Node prints process warnings to stderr as plain text, which breaks berth's
// promise that every line it logs is JSON; and the warning tells an operator nothing they
// can act on. Only that warning (code UNDICI-EHPA) is dropped, while the agent is built;
// every other warning goes through as before.
//
// undici itself is loaded on the first request: most berths follow no channel and send no
// webhook, and an idle berth should not hold a whole HTTP client in memory for nothing
// (bench idle, issue 10 item 6).
import type { Dispatcher } from 'undici';

const importUndici = () => import('undici');
type Undici = Awaited<ReturnType<typeof importUndici>>;
let undici: Promise<Undici> | undefined;
/** undici, imported once, when a request is first made. */
export const loadUndici = (): Promise<Undici> => (undici ??= importUndici());

const EXPERIMENTAL_AGENT_WARNING = 'UNDICI-EHPA';

let shared: Dispatcher | undefined;

function codeOf(args: unknown[]): unknown {
  const [first] = args;
  // emitWarning(warning, { code }) or emitWarning(warning, type, code).
  if (first !== null && typeof first === 'object') return (first as { code?: unknown }).code;
  return args[1];
}

/** Builds the agent with its experimental-API warning held back (it is emitted synchronously by the constructor). */
function quietEnvProxyAgent({ EnvHttpProxyAgent }: Undici): Dispatcher {
  const emit = process.emitWarning;
  const filtered = function (this: NodeJS.Process, warning: string | Error, ...args: unknown[]): void {
    if (codeOf(args) === EXPERIMENTAL_AGENT_WARNING) return;
    // The overloads of emitWarning take the same arguments through.
    (emit as (w: string | Error, ...a: unknown[]) => void).call(process, warning, ...args);
  };
  process.emitWarning = filtered as typeof process.emitWarning;
  try {
    return new EnvHttpProxyAgent();
  } finally {
    process.emitWarning = emit;
  }
}

/** The shared dispatcher, made on first use: importing a module must not read the environment. */
export async function envDispatcher(): Promise<Dispatcher> {
  const loaded = await loadUndici();
  shared ??= quietEnvProxyAgent(loaded);
  return shared;
}
