import { test as base, expect, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import { DEV_TOKEN } from '../playwright.config';

/** Every developer API request carries the token. */
const headers = { 'x-dev-token': DEV_TOKEN };

/** The developer API of the "dev" server: writes exact calls. */
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

  async say(id: string, speaker: 'Customer' | 'Agent', startMs: number, text: string, partial = false): Promise<void> {
    const res = await this.request.post(`/api/dev/calls/${id}/segments`, {
      headers,
      data: { speaker, startMs, endMs: startMs + 900, text, partial },
    });
    expect(res.status()).toBe(204);
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

  async setFollow(on: boolean): Promise<void> {
    if ((await this.followSwitch.isChecked()) !== on) {
      await this.page.locator('label.switch').click();
    }
    await expect(this.followSwitch).toBeChecked({ checked: on });
  }

  async monitor(id: string): Promise<void> {
    await this.callIdInput.fill(id);
    await this.startButton.click();
  }
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
  writer: async ({ request }, use) => {
    const writer = new CallWriter(request);
    await writer.reset();
    await use(writer);
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
