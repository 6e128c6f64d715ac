// The shapes the snippet's files pass around, and what they find in the page, for TypeScript's check
// of js/*.js (`make lint`). Not shipped code: the snippet is plain JavaScript. (The shapes live here, not
// in JSDoc typedefs, because a JSDoc type literal opens with "{{", which Jinja would read as its own.)
// The files are plain scripts joined into one function by keepalive.js.jinja: their top-level names
// (JsaliveCore, JsaliveBadge, the channels) are visible to each other as globals are.

/** What the badge shows of a keep-alive (JsaliveCore.KeepAlive.view()). */
interface View {
  state: string;
  reason: string;
  beats: number;
  unanswered: number;
  busyMs: number;
  unreachableMs: number;
  remainingMs: number | null;
}

/** A message from the kernel about a session (colab_jsalive/_session.py builds them). */
interface Reply {
  session?: string;
  seq?: number | null;
  state?: string;
  reason?: string;
  beats?: number;
  remaining?: number | null;
}

/** inject()'s limits, in seconds. */
interface KeepAliveConfig {
  interval: number;
  maxDuration: number | null;
}

/** Everything a keep-alive does outside itself: clock, timers, channel and badge. */
interface Io {
  now(): number;
  setTimer(fn: () => void, ms: number): number;
  clearTimer(id: number | null): void;
  random(): number;
  connect(): void;
  send(message: Record<string, unknown>): boolean;
  close(): void;
  onChange(view: View): void;
  probe?: (() => void) | null;
  reconnect(): void;
}

/** What a channel tells the keep-alive (keepalive.js.jinja wires these to KeepAlive). */
interface JsaliveHandlers {
  connected(): void;
  disconnected(): void;
  reply(data: Reply): void;
  lost(reason: string): void;
  idle(): void;
}

/** Where the Jupyter server is, as the page knows it (JsaliveJupyterChannel.pageServer()). */
interface PageServer {
  app: string;
  token: string;
  wsBase: string;
  httpBase: string;
  httpToken: string;
}

/** One kernel in the server's GET api/kernels. */
interface KernelModel {
  id: string;
  execution_state?: string;
  last_activity?: string;
}

/** Google Colab's output API, in a Colab output frame only (DESIGN.md section 2). */
declare var google:
  | {colab?: {kernel?: {accessAllowed: boolean; invokeFunction(name: string, args: unknown[], kwargs: object): Promise<{data?: Record<string, unknown>}>}}}
  | undefined;

interface Window {
  /** The classic notebook's global; its kernel's comm manager is quieted for our comm. */
  Jupyter?: {notebook?: {kernel?: {id: string; comm_manager?: {comms?: Record<string, unknown>}}}};
}
