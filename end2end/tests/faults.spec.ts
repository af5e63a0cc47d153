import { test, expect, Dashboard, DEMO_PASSWORD, CallWriter } from './fixtures';
import { request as playwrightRequest, type Browser, type BrowserContext, type WebSocketRoute } from '@playwright/test';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { backendEnv, DEV_TOKEN, SERVER_BIN, writerServeArgs } from '../playwright.config';

// Faults during a call. Each test ends by comparing the page's transcript
// with what was written: the same lines, in order, none twice.

// Chromium logs the sockets and requests that fail while the network or
// the server is down.
test.use({ allowConsole: ['WebSocket', 'ERR_INTERNET_DISCONNECTED', 'Failed to load resource'] });

const onDynamo = (process.env.E2E_BACKEND ?? 'memory') === 'dynamodb';

async function expectTranscript(dashboard: Dashboard, lines: string[]): Promise<void> {
  await expect(dashboard.bubbles.getByTestId('bubble-text')).toHaveText(lines, { timeout: 15_000 });
  await expect(dashboard.bubbles).toHaveCount(lines.length);
}

test('offline and back several times on a phone: the transcript ends complete and in order', async ({
  page,
  context,
  writer,
  dashboard,
}, testInfo) => {
  test.skip(testInfo.project.name !== 'phone', 'a phone on a flaky network');
  const id = await writer.createCall();
  // Chromium's offline mode blocks new connections but leaves an open
  // WebSocket up, as a phone that lost its network would not: the test
  // also drops the open socket when it goes offline.
  const open: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/ws\//, (ws) => {
    ws.connectToServer();
    open.push(ws);
  });
  await dashboard.goto(`/calls/${id}`);
  await expect(dashboard.status).toHaveAttribute('data-state', 'live');

  const expected: string[] = [];
  let at = 0;
  const line = async (speaker: 'Customer' | 'Agent', words: string) => {
    await writer.say(id, speaker, at, words.slice(0, 6), true);
    await writer.say(id, speaker, at, words, false);
    expected.push(words);
    at += 1000;
  };
  for (let round = 1; round <= 3; round++) {
    await line('Customer', `Round ${round}: said while online`);
    await expectTranscript(dashboard, expected);

    await context.setOffline(true);
    for (const ws of open.splice(0)) await ws.close({ code: 4000, reason: 'network gone' });
    await expect(dashboard.status).toHaveAttribute('data-state', 'reconnecting');
    await line('Agent', `Round ${round}: said while the phone was offline`);
    await line('Customer', `Round ${round}: also missed`);
    // Let a reconnect attempt or two fail while offline.
    await page.waitForTimeout(1200);
    await expect(dashboard.bubbles).toHaveCount(expected.length - 2);

    await context.setOffline(false);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live', { timeout: 10_000 });
    await expectTranscript(dashboard, expected);
  }
  await line('Agent', 'After the last drop');
  await expectTranscript(dashboard, expected);
});

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitHealthy(base: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${base} did not become healthy`);
}

/** A server process of our own, on the DynamoDB backend, that a test may
 * kill and start again on the same port: a monitor, or with `args` of
 * `writerServeArgs` the writer server. */
class OwnServer {
  private child?: ChildProcess;
  readonly base: string;

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly args: string[] = [],
  ) {
    this.base = `http://127.0.0.1:${port}`;
  }

  /** The writer server on `port`, writing the tables `env` names. */
  static writer(port: number, env: Record<string, string>): OwnServer {
    return new OwnServer(port, env, writerServeArgs(port, 'connect-rt'));
  }

  static env(name: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(process.env as Record<string, string>),
      ...backendEnv(name, 'connect-rt'),
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_ENV: 'PROD',
      RUST_LOG: 'warn',
      TRAVOIQ_SIMULATOR: 'off',
      // For the writer server (a monitor on DynamoDB has no developer API).
      TRAVOIQ_DEV_API_TOKEN: DEV_TOKEN,
      TRAVOIQ_DEMO_USERS: 'on',
      TRAVOIQ_DEMO_PASSWORD: DEMO_PASSWORD,
      TRAVOIQ_SIGN_IN_PER_ACCOUNT: '10000',
      TRAVOIQ_SIGN_IN_PER_ADDRESS: '10000',
      TRAVOIQ_DYNAMODB_POLL_MS: '200',
      ...extra,
    };
  }

  /** Creates the tables this server's settings name (once per prefix). */
  static createTables(env: Record<string, string>): void {
    for (const args of [
      ['writer', '--create-tables', '--calls', '0'],
      ['accounts', 'create-tables'],
    ]) {
      execFileSync(SERVER_BIN, args, { cwd: '..', env, stdio: 'ignore' });
    }
  }

  async start(): Promise<void> {
    this.child = spawn(SERVER_BIN, this.args, {
      cwd: '..',
      env: { ...this.env, LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}` },
      stdio: 'ignore',
    });
    await waitHealthy(this.base);
  }

  /** Kills the process outright: no goodbye to anyone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

async function signedInPage(context: BrowserContext, base: string) {
  const page = await context.newPage();
  await page.goto(`${base}/signin`);
  const res = await page.request.post(`${base}/signin`, {
    form: { username: 'supervisor', password: DEMO_PASSWORD, next: '/' },
    maxRedirects: 0,
  });
  expect(res.status()).toBe(303);
  return page;
}

/** Two servers of our own on one set of tables: `viewed`, a monitor whose
 * page the test watches, and the writer server, which writes (as the
 * pipeline keeps writing whatever happens to the monitor). Runs `body` with
 * a supervisor's page on `viewed`, then stops both. */
async function withTwoServers(
  browser: Browser,
  viewedEnv: Record<string, string>,
  writerEnv: Record<string, string>,
  body: (s: { viewed: OwnServer; dashboard: Dashboard; writer: CallWriter }) => Promise<void>,
): Promise<void> {
  const viewed = new OwnServer(await freePort(), viewedEnv);
  const writing = OwnServer.writer(await freePort(), writerEnv);
  await Promise.all([viewed.start(), writing.start()]);
  const api = await playwrightRequest.newContext({ baseURL: writing.base });
  const context = await browser.newContext();
  try {
    const page = await signedInPage(context, viewed.base);
    await body({ viewed, dashboard: new Dashboard(page), writer: new CallWriter(api) });
  } finally {
    await context.close();
    await api.dispose();
    await viewed.kill();
    await writing.kill();
  }
}

test('the server is killed and restarted mid-call: the page resumes by itself', async ({ browser }, testInfo) => {
  test.skip(!onDynamo, 'the embedded store lives in the server process: its calls die with it');
  test.skip(testInfo.project.name !== 'desktop', 'one viewport is enough for a server fault');
  test.setTimeout(90_000);
  const prefix = `kill${Date.now()}`;
  const env = OwnServer.env(prefix);
  OwnServer.createTables(env);
  await withTwoServers(browser, env, env, async ({ viewed, dashboard, writer }) => {
    const id = await writer.createCall();
    await writer.say(id, 'Agent', 0, 'Before the crash');
    await dashboard.goto(`${viewed.base}/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    await expectTranscript(dashboard, ['Before the crash']);

    await viewed.kill();
    await expect(dashboard.status).toHaveAttribute('data-state', 'reconnecting');
    await writer.say(id, 'Customer', 1000, 'While the', true);
    await writer.say(id, 'Customer', 1000, 'While the server was down', false);
    await writer.say(id, 'Agent', 2000, 'Still down');

    await viewed.start();
    // Sessions live in DynamoDB: still signed in; the new process numbers
    // the call afresh, so the page replays it whole.
    await expect(dashboard.status).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
    await writer.say(id, 'Customer', 3000, 'After the restart');
    await expectTranscript(dashboard, [
      'Before the crash',
      'While the server was down',
      'Still down',
      'After the restart',
    ]);
  });
});

/** A TCP proxy in front of the DynamoDB endpoint that can be stopped (every
 * connection refused, those open cut) and started again on the same port. */
class EndpointProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private readonly target: URL,
  ) {}

  start(): Promise<void> {
    const server = net.createServer((inbound) => {
      const outbound = net.connect(Number(this.target.port), this.target.hostname);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

test('DynamoDB goes down and comes back mid-call: the page says so and loses nothing', async ({
  browser,
}, testInfo) => {
  test.skip(!onDynamo, 'a DynamoDB fault');
  test.skip(testInfo.project.name !== 'desktop', 'one viewport is enough for a server fault');
  test.setTimeout(90_000);
  const endpoint = new URL(process.env.E2E_DYNAMODB_ENDPOINT ?? '');
  const proxy = new EndpointProxy(await freePort(), endpoint);
  await proxy.start();
  const prefix = `down${Date.now()}`;
  const direct = OwnServer.env(prefix);
  OwnServer.createTables(direct);
  const through = `http://127.0.0.1:${proxy.port}`;
  // The viewed server reaches DynamoDB only through the proxy; the writing
  // one directly (moto keeps its data in memory, so it is the endpoint in
  // front of it that goes down, not the process).
  const viewedEnv = OwnServer.env(prefix, {
    AWS_ENDPOINT_URL_DYNAMODB: through,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: through,
    TRAVOIQ_DYNAMODB_TIMEOUT_MS: '1000',
  });
  try {
    await withTwoServers(browser, viewedEnv, direct, async ({ viewed, dashboard, writer }) => {
      const id = await writer.createCall();
      await writer.say(id, 'Agent', 0, 'Before the outage');
      await dashboard.goto(`${viewed.base}/calls/${id}`);
      await expect(dashboard.status).toHaveAttribute('data-state', 'live');
      await expectTranscript(dashboard, ['Before the outage']);

      await proxy.stop();
      await writer.say(id, 'Customer', 1000, 'During', true);
      await writer.say(id, 'Customer', 1000, 'During the outage', false);
      await expect(dashboard.status).toHaveAttribute('data-state', 'unavailable', { timeout: 20_000 });
      await expect(dashboard.status).toContainText('Data source unavailable');

      await proxy.start();
      await expect(dashboard.status).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
      await writer.say(id, 'Agent', 2000, 'After the outage');
      await expectTranscript(dashboard, ['Before the outage', 'During the outage', 'After the outage']);
    });
  } finally {
    await proxy.stop();
  }
});
