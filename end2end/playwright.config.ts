import { rmSync } from 'node:fs';
import { defineConfig, devices } from '@playwright/test';

// Two servers from the same release binary (built by `cargo leptos build --release`):
// - "dev": simulator off, so tests write exact calls through the developer API;
// - "sim": the newcomer's default, with the simulator playing calls (faster).
//
// E2E_BACKEND=dynamodb runs the same suite with both servers on the DynamoDB
// backend against E2E_DYNAMODB_ENDPOINT (scripts/test starts moto for it),
// each on its own tables, created by `travoiq-monitor writer`. The monitor has
// no developer API there: beside the dev server runs the writer server
// (`travoiq-monitor writer serve`), which answers the same write requests and
// writes the dev server's tables in the connect-rt format, as the upstream
// pipeline would; the simulator server's own simulator writes kvs-ms (no test
// writes exact calls to it, so it needs no writer server).
const bin = process.env.TRAVOIQ_SERVER_BIN ?? 'target/release/travoiq-monitor';
const backend = process.env.E2E_BACKEND ?? 'memory';
/** Whether the servers run on the DynamoDB backend (E2E_BACKEND=dynamodb). */
export const onDynamo = backend === 'dynamodb';

export function backendEnv(name: string, format: string): Record<string, string> {
  if (!onDynamo) return {};
  const endpoint = process.env.E2E_DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('E2E_BACKEND=dynamodb needs E2E_DYNAMODB_ENDPOINT');
  return {
    TRAVOIQ_STORE: 'dynamodb',
    // E2E_TABLE_TAG: a run of its own on the same DynamoDB server (tables
    // holding no calls left live by an earlier run).
    TRAVOIQ_TABLE_PREFIX: `e2e-${process.env.E2E_TABLE_TAG ?? ''}${name}-`,
    TRAVOIQ_SIMULATOR_FORMAT: format,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    // E2E_STREAMS_ENDPOINT: the Streams client elsewhere (scripts/test
    // points it at a closed port: the monitor must poll instead, looking for
    // new calls every second).
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: process.env.E2E_STREAMS_ENDPOINT ?? endpoint,
    ...(process.env.E2E_STREAMS_ENDPOINT ? { TRAVOIQ_LATEST_POLL_SECS: '1' } : {}),
    AWS_REGION_NAME: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}
export const DEV_PORT = Number(process.env.E2E_DEV_PORT ?? 3101);
export const DEV_URL = `http://127.0.0.1:${DEV_PORT}`;
/** The writer server beside the dev server on DynamoDB. */
const WRITER_PORT = Number(process.env.E2E_WRITER_PORT ?? 3103);
/** Where exact calls are written: the dev server's developer API on the
 * embedded store; on DynamoDB, the writer server. */
export const WRITES_URL = onDynamo ? `http://127.0.0.1:${WRITER_PORT}` : DEV_URL;
/** The developer API's token on the test servers (header x-dev-token). */
export const DEV_TOKEN = 'e2e-dev-token';
export const SERVER_BIN = bin;
/** The dev server's accounts file (embedded store), relative to the repository. */
export const devAccountsFile = (port: number) => `target/e2e-accounts-${port}.json`;
/** Each server's alert rules (embedded store), started afresh with the
 * shipped rules at every run (paths are relative to the repository). */
const rulesFile = (port: number) => `target/e2e-rules-${port}.json`;
const SIM_PORT = Number(process.env.E2E_SIM_PORT ?? 3102);
/** The test OpenID provider (oidc/provider.mjs): the dev server signs in with it too. */
export const OIDC_PORT = Number(process.env.E2E_OIDC_PORT ?? 3109);
export const OIDC_ISSUER = `http://127.0.0.1:${OIDC_PORT}`;
const devBase = `http://127.0.0.1:${DEV_PORT}`;
const oidcEnv = {
  TRAVOIQ_OIDC_ISSUER: OIDC_ISSUER,
  TRAVOIQ_OIDC_CLIENT_ID: 'monitor',
  TRAVOIQ_OIDC_CLIENT_SECRET: 'monitor-secret',
  TRAVOIQ_OIDC_REDIRECT_URL: `${devBase}/signin/sso/callback`,
  TRAVOIQ_OIDC_SCOPES: 'profile email groups connect',
  TRAVOIQ_OIDC_ROLES: 'monitor-agents=agent,monitor-supervisors=supervisor,monitor-admins=admin',
  TRAVOIQ_OIDC_AGENT_CLAIM: 'connect_username',
  TRAVOIQ_OIDC_LABEL: 'Example Corp',
};
export const SIM_URL = `http://127.0.0.1:${SIM_PORT}`;

const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

// Both servers make the demo accounts (supervisor, agent) with this password.
const DEMO_PASSWORD = process.env.TRAVOIQ_DEMO_PASSWORD ?? 'e2e-demo-password';

/** A process Playwright starts before the tests and waits for: ready when
 * its /healthz answers on `port`. */
const webProcess = (port: number, command: string, env: Record<string, string>) => ({
  command,
  cwd: '..',
  url: `http://127.0.0.1:${port}/healthz`,
  // Never test against a server left over from an earlier run.
  reuseExistingServer: false,
  timeout: 30_000,
  stdout: 'ignore' as const,
  stderr: 'pipe' as const,
  env: { RUST_LOG: 'warn,travoiq_monitor=info', ...env },
});

const server = (port: number, env: Record<string, string>) => {
  // Once, in the runner (its workers load this file too, while servers run).
  if (process.env.TEST_WORKER_INDEX === undefined) rmSync(`../${rulesFile(port)}`, { force: true });
  return webProcess(
    port,
    // On DynamoDB, create the tables (if missing) before serving.
    onDynamo ? `${bin} writer --create-tables --calls 0 && ${bin} accounts create-tables && exec ${bin}` : bin,
    {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_ENV: 'PROD',
      TRAVOIQ_DEMO_USERS: 'on',
      TRAVOIQ_DEMO_PASSWORD: DEMO_PASSWORD,
      TRAVOIQ_ACCOUNTS_FILE: devAccountsFile(port),
      TRAVOIQ_RULES_FILE: rulesFile(port),
      // Every test signs in afresh from one address, well past the
      // production limits (the Rust tests check the limits themselves).
      TRAVOIQ_SIGN_IN_PER_ACCOUNT: '10000',
      TRAVOIQ_SIGN_IN_PER_ADDRESS: '10000',
      ...env,
    },
  );
};

/** The arguments that start the writer server on `port`, writing in `format`. */
export const writerServeArgs = (port: number, format: string): string[] => [
  'writer',
  'serve',
  '--listen',
  `127.0.0.1:${port}`,
  '--format',
  format,
  '--create-tables',
];

/** `travoiq-monitor writer serve` beside a server on DynamoDB: writes the
 * tables of `backendEnv(name, format)`, for the requests the developer API
 * answers on the embedded store. */
const writerServer = (port: number, name: string, format: string) =>
  webProcess(port, [bin, ...writerServeArgs(port, format)].join(' '), {
    TRAVOIQ_DEV_API_TOKEN: DEV_TOKEN,
    ...backendEnv(name, format),
  });

export default defineConfig({
  testDir: './tests',
  // One server holds the dev data: tests run one at a time.
  workers: 1,
  fullyParallel: false,
  retries: process.env.CI ? 1 : 0,
  timeout: 40_000,
  expect: { timeout: 8_000 },
  reporter: [['list']],
  use: {
    baseURL: DEV_URL,
    trace: 'retain-on-failure',
    launchOptions,
  },
  projects: [
    {
      name: 'desktop',
      use: { ...devices['Desktop Chrome'], viewport: { width: 1280, height: 800 }, launchOptions },
    },
    {
      name: 'phone',
      use: {
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 3,
        isMobile: true,
        hasTouch: true,
        userAgent: devices['Pixel 7'].userAgent,
        launchOptions,
      },
    },
  ],
  webServer: [
    {
      // A real OpenID provider (npm oidc-provider) for single sign-on.
      command: 'node oidc/provider.mjs',
      url: `${OIDC_ISSUER}/.well-known/openid-configuration`,
      reuseExistingServer: false,
      timeout: 20_000,
      stdout: 'ignore' as const,
      stderr: 'ignore' as const,
      env: {
        OIDC_PORT: String(OIDC_PORT),
        OIDC_CLIENT_ID: 'monitor',
        OIDC_CLIENT_SECRET: 'monitor-secret',
        OIDC_REDIRECT_URIS: `${devBase}/signin/sso/callback`,
        OIDC_POST_LOGOUT_URIS: `${devBase}/signin?signed_out=1`,
      },
    },
    server(DEV_PORT, {
      TRAVOIQ_SIMULATOR: 'off',
      // The developer API exists only on the embedded store.
      ...(onDynamo ? {} : { TRAVOIQ_DEV_API: 'on', TRAVOIQ_DEV_API_TOKEN: DEV_TOKEN }),
      ...oidcEnv,
      ...backendEnv('dev', 'connect-rt'),
    }),
    ...(onDynamo ? [writerServer(WRITER_PORT, 'dev', 'connect-rt')] : []),
    server(SIM_PORT, {
      TRAVOIQ_SIMULATOR: 'on',
      TRAVOIQ_SIMULATOR_PACE: '4',
      TRAVOIQ_SIMULATOR_CALL_EVERY_SECS: '12',
      ...backendEnv('sim', 'kvs-ms'),
    }),
  ],
});
