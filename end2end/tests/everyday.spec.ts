import { test, expect, type CallWriter, type Dashboard } from './fixtures';
import type { Page } from '@playwright/test';

/** A call with enough lines to fill more than any window. */
async function longCall(writer: CallWriter, lines = 40): Promise<string> {
  const id = await writer.createCall('+14155550142');
  for (let i = 0; i < lines; i += 1) {
    await writer.say(id, i % 2 ? 'Agent' : 'Customer', i * 1000, `Line ${i}: ${'words '.repeat(8 + (i % 5) * 6)}`);
  }
  return id;
}

/** Where things are, in the window's coordinates. */
async function layout(page: Page) {
  return page.evaluate(() => {
    const box = (sel: string) => document.querySelector(sel)!.getBoundingClientRect().toJSON();
    const bubbles = document.querySelectorAll('[data-testid="bubble"]');
    const last = bubbles[bubbles.length - 1]?.getBoundingClientRect().toJSON();
    const doc = document.scrollingElement!;
    return {
      innerHeight: window.innerHeight,
      docScrolls: doc.scrollHeight - doc.clientHeight,
      transcript: box('[data-testid="transcript"]'),
      last,
    };
  });
}

/** The newest bubble is whole, inside the transcript box, inside the
 * window, and only the transcript scrolls. */
async function expectNewestInView(page: Page) {
  await expect
    .poll(async () => {
      const l = await layout(page);
      return (
        l.docScrolls <= 1 &&
        l.transcript.bottom <= l.innerHeight + 0.5 &&
        l.last.bottom <= l.transcript.bottom + 0.5 &&
        l.last.top >= l.transcript.top
      );
    }, { message: 'the newest line is in view and the page itself does not scroll' })
    .toBe(true);
}

async function showLongCall(writer: CallWriter, dashboard: Dashboard): Promise<string> {
  const id = await longCall(writer);
  await dashboard.goto(`/calls/${id}`);
  await expect(dashboard.bubbles).toHaveCount(40);
  return id;
}

for (const [name, size] of [
  ['a 1280×800 desktop', { viewport: { width: 1280, height: 800 } }],
  ['a 1280×720 desktop', { viewport: { width: 1280, height: 720 } }],
  // 1280×800 at 200 % zoom lays out as 640×400 at twice the pixel density.
  ['200 % zoom', { viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 }],
] as const) {
  test.describe(`the newest line in view on ${name}`, () => {
    test.use(size);
    test.skip(({ isMobile }) => isMobile, 'window sizes of a desktop browser');

    test('one scroll area, filling the window under the details, with the newest line in it', async ({
      writer,
      dashboard,
      page,
    }) => {
      const id = await showLongCall(writer, dashboard);
      await expectNewestInView(page);
      const { transcript, innerHeight } = await layout(page);
      // The conversation gets a fair share of the window however short it is.
      expect(transcript.height).toBeGreaterThanOrEqual(innerHeight * 0.4);
      console.log(`${name}: transcript ${Math.round(transcript.height)} px of ${innerHeight} px`);
      // A new line comes into view by itself.
      await writer.say(id, 'Customer', 60_000, 'The very newest line');
      await expect(dashboard.bubbles).toHaveCount(41);
      await expectNewestInView(page);
    });
  });
}

test.describe('the new-call notice', () => {
  test.skip(({ isMobile }) => isMobile, 'a desktop window');

  test('floats over the page: nothing moves when it comes or goes @instant-discovery', async ({
    writer,
    dashboard,
    page,
  }) => {
    await showLongCall(writer, dashboard);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    const before = (await layout(page)).transcript;
    await writer.createCall('+14155550143');
    await expect(dashboard.newCallNotice).toBeVisible();
    expect((await layout(page)).transcript).toEqual(before);
    await expectNewestInView(page);
    await page.getByRole('button', { name: 'Dismiss' }).click();
    await expect(dashboard.newCallNotice).toHaveCount(0);
    expect((await layout(page)).transcript).toEqual(before);
  });
});

test.describe('a server that stops answering', () => {
  // Chromium logs the socket the page gives up on.
  test.use({ allowConsole: ['WebSocket'] });

  test('is noticed within seconds, not minutes, and the page comes back when it does', async ({
    writer,
    dashboard,
    page,
  }) => {
    const id = await writer.createCall();
    await writer.say(id, 'Agent', 0, 'Before the freeze');

    // A proxy between the page and the server that can stop forwarding
    // either way without closing anything: a frozen server, or a network
    // that silently drops everything.
    let frozen = false;
    await page.routeWebSocket(/\/ws\//, (ws) => {
      if (frozen) return; // accepted, and then nothing: never a greeting
      const server = ws.connectToServer();
      ws.onMessage((m) => {
        if (!frozen) server.send(m);
      });
      server.onMessage((m) => {
        if (!frozen) ws.send(m);
      });
    });

    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    await expect(dashboard.bubbles).toHaveCount(1);

    frozen = true;
    const froze = Date.now();
    await expect(dashboard.status).toHaveAttribute('data-state', 'reconnecting', { timeout: 10_000 });
    const noticed = Date.now() - froze;
    console.log(`frozen server noticed after ${noticed} ms`);
    await expect(dashboard.status).toContainText('reconnecting');

    await writer.say(id, 'Customer', 1000, 'Said while frozen');
    frozen = false;
    await expect(dashboard.status).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
    await expect(page.getByTestId('bubble-text')).toHaveText(['Before the freeze', 'Said while frozen']);
  });
});

test.describe('the start time on first paint', () => {
  test.use({ timezoneId: 'Asia/Kolkata', locale: 'en-US' });

  test('is never shown in UTC first and in the viewer zone after', async ({ writer, dashboard, page }) => {
    const id = await writer.createCall();
    // Hold the page's script back, so the server's page is on screen alone.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await page.route(/\/pkg\/.*\.wasm$/, async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`/calls/${id}`);
    await expect(dashboard.callId).toHaveText(id);
    await expect(dashboard.start).toBeHidden();
    release();
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await dashboard.showDetails();
    await expect(dashboard.start).toBeVisible();
    await expect(dashboard.start).toContainText('GMT+5:30');
  });
});

test('"More details" names known attributes in words and keeps others by name', async ({ writer, dashboard, page }) => {
  const id = await writer.createCall('+14155550144', {
    agentUsername: 'bob',
    mergeStatus: 'DONE',
    vipTier: 'gold',
  });
  await dashboard.goto(`/calls/${id}`);
  await dashboard.showDetails();
  await page.getByText('More details').click();
  const term = (key: string) => page.locator(`[data-attribute="${key}"] dt`);
  await expect(term('agentUsername')).toHaveText('Agent');
  await expect(term('mergeStatus')).toHaveText('Recording merge');
  await expect(term('vipTier')).toHaveText('vipTier');
  await expect(page.locator('[data-attribute="vipTier"] dd')).toHaveText('gold');
});

test('screen readers hear each finished line once, never a growing partial', async ({ writer, dashboard, page }) => {
  const id = await writer.createCall();
  await writer.say(id, 'Customer', 0, 'Hello there');
  await dashboard.goto(`/calls/${id}`);
  const announcer = page.getByTestId('announcer');
  await expect(announcer).toHaveAttribute('aria-live', 'polite');
  await expect(dashboard.transcript).toHaveAttribute('aria-live', 'off');
  await expect(announcer).toHaveText('Customer: Hello there');

  await writer.say(id, 'Agent', 1500, 'How can', true);
  await expect(dashboard.bubble('Agent', 1500)).toContainText('How can');
  await writer.say(id, 'Agent', 1500, 'How can I', true);
  await expect(dashboard.bubble('Agent', 1500)).toContainText('How can I');
  await expect(announcer).toHaveText('Customer: Hello there');
  await writer.say(id, 'Agent', 1500, 'How can I help?');
  await expect(announcer).toHaveText('Agent: How can I help?');
});

test.describe("a phone's screen during a live call", () => {
  test.skip(({ isMobile }) => !isMobile, 'desktops keep their own screen-lock policy');

  test('stays on while the call is live and is let go when it ends', async ({ writer, dashboard, page }) => {
    // Watch the browser's Screen Wake Lock API.
    await page.addInitScript(() => {
      const log: string[] = [];
      (window as any).__wake = log;
      Object.defineProperty(navigator, 'wakeLock', {
        configurable: true,
        value: {
          request: async (type: string) => {
            log.push(`request ${type}`);
            return { released: false, release: async () => void log.push('release') };
          },
        },
      });
    });
    const wake = () => page.evaluate(() => (window as any).__wake as string[]);
    const id = await writer.createCall();
    await writer.say(id, 'Customer', 0, 'Hello');
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    await expect.poll(wake).toEqual(['request screen']);
    await writer.end(id);
    await expect(dashboard.callState).toHaveText('Ended');
    await expect.poll(wake).toEqual(['request screen', 'release']);
    await expect(page.getByTestId('wake-lock-refused')).toHaveCount(0);
  });

  test("says so when the browser can't keep the screen on", async ({ writer, dashboard, page }) => {
    await page.addInitScript(() => {
      Object.defineProperty(navigator, 'wakeLock', { configurable: true, value: undefined });
    });
    const id = await writer.createCall();
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    await expect(page.getByTestId('wake-lock-refused')).toContainText("can't keep the screen on");
  });
});
