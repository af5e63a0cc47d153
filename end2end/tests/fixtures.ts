import { test as base, expect, type APIRequest, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { backendEnv, DEV_PORT, DEV_TOKEN, DEV_URL, devAccountsFile, onDynamo, SERVER_BIN, WRITES_URL } from '../playwright.config';

/** Every developer API request carries the token. */
const headers = { 'x-dev-token': DEV_TOKEN };

/** Writes exact calls through the developer API's requests: to the "dev"
 * server on the embedded store; on DynamoDB to the writer server beside it
 * (`travoiq-monitor writer serve`), which writes its tables as the upstream
 * pipeline does. `request`'s base URL is the one it writes to. */
export class CallWriter {
  constructor(private readonly request: APIRequestContext) {}

  async reset(): Promise<void> {
    expect((await this.request.post('/api/dev/reset', { headers })).status()).toBe(204);
  }

  async createCall(customerPhoneNumber = '+14155550123', attributes: Record<string, string> = {}): Promise<string> {
    const res = await this.request.post('/api/dev/calls', { headers, data: { customerPhoneNumber, attributes } });
    expect(res.status()).toBe(201);
    return (await res.json()).contactId as string;
  }

  async say(
    id: string,
    speaker: 'Customer' | 'Agent',
    startMs: number,
    text: string,
    partial = false,
    lengthMs = 900,
  ): Promise<void> {
    const res = await this.request.post(`/api/dev/calls/${id}/segments`, {
      headers,
      data: { speaker, startMs, endMs: startMs + lengthMs, text, partial },
    });
    expect(res.status()).toBe(204);
    // Its (empty) body is kept until disposed: thousands of writes (the
    // long-call bench) would slow the runner down.
    await res.dispose();
  }

  /** Writes `lines` final lines, 1.4 s apart, sides taking turns (the
   * customer first), fifty at a time; line i reads `text(i)`. With Node's
   * own fetch and a plain check, not Playwright's request and `expect`:
   * each of those is a test step, and Playwright looks up a new step's
   * parent among all earlier ones, so 25,000 writes (the long-call bench)
   * took minutes of the runner's CPU (a profile: `_findLastPredefinedStep`). */
  async sayMany(id: string, lines: number, text: (i: number) => string): Promise<void> {
    for (let start = 0; start < lines; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, lines - start) }, async (_, k) => {
          const i = start + k;
          const res = await fetch(`${WRITES_URL}/api/dev/calls/${id}/segments`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: JSON.stringify({
              speaker: i % 2 ? 'Agent' : 'Customer',
              startMs: i * 1400,
              endMs: i * 1400 + 1200,
              text: text(i),
              partial: false,
            }),
          });
          if (res.status !== 204) throw new Error(`line ${i} was not written: ${res.status} ${await res.text()}`);
        }),
      );
    }
  }

  async end(id: string): Promise<void> {
    expect((await this.request.post(`/api/dev/calls/${id}/end`, { headers })).status()).toBe(204);
  }
}

/** The dashboard, as a person sees it. */
export class Dashboard {
  readonly callIdInput: Locator;
  readonly startButton: Locator;
  readonly followSwitch: Locator;
  readonly callIdError: Locator;
  readonly status: Locator;
  readonly callId: Locator;
  readonly phone: Locator;
  readonly start: Locator;
  readonly duration: Locator;
  readonly callState: Locator;
  readonly transcript: Locator;
  readonly bubbles: Locator;
  readonly newMessages: Locator;
  readonly newCallNotice: Locator;
  readonly openNewCall: Locator;
  readonly emptyState: Locator;

  constructor(readonly page: Page) {
    this.callIdInput = page.getByTestId('call-id-input');
    this.startButton = page.getByTestId('start-monitoring');
    this.followSwitch = page.getByTestId('follow-switch');
    this.callIdError = page.getByTestId('call-id-error');
    this.status = page.getByTestId('connection-status');
    this.callId = page.getByTestId('call-id');
    this.phone = page.getByTestId('customer-phone');
    this.start = page.getByTestId('call-start');
    this.duration = page.getByTestId('call-duration');
    this.callState = page.getByTestId('call-state');
    this.transcript = page.getByTestId('transcript');
    this.bubbles = page.getByTestId('bubble');
    this.newMessages = page.getByTestId('new-messages');
    this.newCallNotice = page.getByTestId('new-call-notice');
    this.openNewCall = page.getByTestId('open-new-call');
    this.emptyState = page.getByTestId('empty-state');
  }

  /** Opens a path and waits until the page is interactive. */
  async goto(path = '/'): Promise<void> {
    await this.page.goto(path);
    await expect(this.page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }

  bubble(speaker: 'Customer' | 'Agent', startMs: number): Locator {
    return this.page.locator(`[data-testid="bubble"][data-speaker="${speaker}"][data-start="${startMs}"]`);
  }

  /** On a phone the controls are a menu opened from the bar at the bottom;
   * opens it there (a desktop shows them inline). Returns whether it did. */
  async openMenu(): Promise<boolean> {
    const button = this.page.getByTestId('menu-button');
    if (!(await button.isVisible())) return false;
    if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
    await expect(this.callIdInput).toBeVisible();
    return true;
  }

  async closeMenu(): Promise<void> {
    const button = this.page.getByTestId('menu-button');
    if ((await button.isVisible()) && (await button.getAttribute('aria-expanded')) === 'true') {
      await button.click();
    }
  }

  /** On a phone the call card is its head line until "Details" opens it. */
  async showDetails(): Promise<void> {
    const toggle = this.page.getByTestId('details-toggle');
    if ((await toggle.isVisible()) && (await toggle.getAttribute('aria-expanded')) !== 'true') {
      await toggle.click();
    }
    await expect(this.callId).toBeVisible();
  }

  async setFollow(on: boolean): Promise<void> {
    const opened = await this.openMenu();
    if ((await this.followSwitch.isChecked()) !== on) {
      await this.page.locator('label.switch', { has: this.followSwitch }).click();
    }
    await expect(this.followSwitch).toBeChecked({ checked: on });
    if (opened) await this.closeMenu();
  }

  async monitor(id: string): Promise<void> {
    await this.openMenu();
    await this.callIdInput.fill(id);
    await this.startButton.click();
  }
}

/** Adds an account to the dev server's store with the command line, as an
 * operator would (the server picks it up without a restart). */
export function addAccountWithCli(username: string, role: string, password: string): void {
  execFileSync(SERVER_BIN, ['accounts', 'add', username, '--role', role, '--password-stdin'], {
    cwd: '..',
    input: `${password}\n`,
    env: {
      ...process.env,
      TRAVOIQ_ACCOUNTS_FILE: devAccountsFile(DEV_PORT),
      RUST_LOG: 'warn',
      ...backendEnv('dev', 'connect-rt'),
    },
  });
}

/** The demo accounts' password on the test servers (see playwright.config.ts). */
export const DEMO_PASSWORD = process.env.TRAVOIQ_DEMO_PASSWORD ?? 'e2e-demo-password';

/** Signs a page's browser context in through the sign-in form's endpoint. */
export async function signIn(page: Page, username: string, password = DEMO_PASSWORD): Promise<void> {
  const res = await page.request.post('/signin', {
    form: { username, password, next: '/' },
    maxRedirects: 0,
  });
  expect(res.status(), 'sign-in redirects').toBe(303);
  expect(res.headers()['location'], `signed in as ${username}`).toBe('/');
}

/** On DynamoDB the dev server hears that the writer emptied its tables as
 * it hears of any change (on their streams): waits until it has no call, so
 * no test sees the one before's. */
async function untilTheMonitorHasNoCall(request: APIRequest): Promise<void> {
  const monitor = await request.newContext({ baseURL: DEV_URL });
  try {
    const res = await monitor.post('/signin', {
      form: { username: 'supervisor', password: DEMO_PASSWORD, next: '/' },
      maxRedirects: 0,
    });
    expect(res.status(), 'the supervisor signs in').toBe(303);
    await expect
      .poll(async () => (await monitor.get('/latest-call')).status(), {
        message: 'the monitor forgets the calls of the emptied tables',
        timeout: 15_000,
      })
      .toBe(404);
  } finally {
    await monitor.dispose();
  }
}

type Fixtures = {
  writer: CallWriter;
  dashboard: Dashboard;
  /** Who each test is signed in as before it starts (null: nobody). */
  signInAs: string | null;
  session: void;
  /** Console messages that a test expects (matched by substring). */
  allowConsole: string[];
  consoleGuard: void;
};

export const test = base.extend<Fixtures>({
  writer: async ({ playwright }, use) => {
    const api = await playwright.request.newContext({ baseURL: WRITES_URL });
    const writer = new CallWriter(api);
    await writer.reset();
    if (onDynamo) await untilTheMonitorHasNoCall(playwright.request);
    await use(writer);
    await api.dispose();
  },
  dashboard: async ({ page }, use) => {
    await use(new Dashboard(page));
  },
  allowConsole: [[], { option: true }],
  signInAs: ['supervisor', { option: true }],
  session: [
    async ({ page, signInAs }, use) => {
      if (signInAs) await signIn(page, signInAs);
      await use();
    },
    { auto: true },
  ],
  // Every test fails on a console error or an uncaught exception in the page.
  consoleGuard: [
    async ({ page, allowConsole }, use) => {
      const problems: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !allowConsole.some((a) => msg.text().includes(a))) {
          problems.push(`console.error: ${msg.text()}`);
        }
      });
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      await use();
      expect(problems, 'no console errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
