import { test, expect, Dashboard, type CallWriter } from './fixtures';
import type { Page } from '@playwright/test';

// The phone's layout is the same whatever the store: the DynamoDB runs
// leave the layout tests out (@browser-only).
test('no horizontal scrolling, even with very long unbroken text', { tag: '@browser-only' }, async ({ writer, dashboard, page }) => {
  const id = await writer.createCall('+14155550123', { audioFromCustomer: 's3://' + 'a'.repeat(300) });
  await writer.say(id, 'Customer', 0, 'x'.repeat(50_000));
  await writer.say(id, 'Agent', 1000, 'https://example.com/' + 'segment/'.repeat(60));
  await dashboard.goto(`/calls/${id}`);
  await expect(dashboard.bubbles).toHaveCount(2);
  await dashboard.showDetails();
  await page.getByText('More details').click();
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
});

/** How far the page is wider than the window (0 or less: no sideways scrolling). */
function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** A live call of the agent's with enough lines to fill any screen. */
async function longCall(writer: CallWriter): Promise<string> {
  const id = await writer.createCall('+14155550123', { agentUsername: 'agent' });
  for (let i = 0; i < 14; i++) {
    await writer.say(id, i % 2 ? 'Agent' : 'Customer', i * 3000, `Line ${i}: words enough to wrap over a line or two on a phone.`);
  }
  return id;
}

async function heightOf(page: Page, testId: string): Promise<number> {
  return page.getByTestId(testId).evaluate((el) => el.getBoundingClientRect().height);
}

async function expectThumbSized(page: Page, testIds: string[]): Promise<void> {
  for (const id of testIds) {
    const box = (await page.getByTestId(id).boundingBox())!;
    expect(box, `${id} is on screen`).not.toBeNull();
    expect.soft(box.height, `${id} is at least 44 px tall`).toBeGreaterThanOrEqual(44);
    expect.soft(box.width, `${id} is at least 44 px wide`).toBeGreaterThanOrEqual(44);
  }
}

for (const who of ['agent', 'supervisor'] as const) {
  test.describe(`the conversation first, as ${who}`, { tag: '@browser-only' }, () => {
    test.use({ signInAs: who });

    for (const [width, height] of [
      [390, 844],
      [360, 640],
    ]) {
      test(`${width}×${height}: the transcript fills the screen, controls a tap away and thumb-sized`, async (
        { writer, dashboard, page },
        info,
      ) => {
        test.skip(info.project.name !== 'phone', 'phone viewports only');
        await page.setViewportSize({ width, height });
        const id = await longCall(writer);
        await dashboard.goto('/');
        await expect(page).toHaveURL(new RegExp(`/calls/${id}$`));
        await expect(dashboard.bubbles).toHaveCount(14);

        const share = (await heightOf(page, 'transcript')) / height;
        console.log(`${who} ${width}×${height}: transcript ${(share * 100).toFixed(0)} % of the screen's height`);
        expect(share).toBeGreaterThanOrEqual(0.7);
        expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
        // The newest line is in view.
        await expect(dashboard.bubble('Agent', 39_000)).toBeInViewport({ ratio: 1 });

        // The head line: live, how long, whose number (the last digits), the connection.
        await expect(dashboard.callState).toHaveText('Live');
        await expect(page.getByTestId('head-duration')).toHaveText(/^\d+:\d\d$/);
        await expect(page.getByTestId('head-phone')).toHaveText(who === 'agent' ? /^\+••0123$/ : '+14155550123');
        await expect(page.getByTestId('head-phone')).toBeVisible();
        await expect(page.getByTestId('head-phone')).toBeInViewport({ ratio: 1 });
        // Whole, not cut short.
        const clipped = await page
          .getByTestId('head-phone')
          .evaluate((el) => el.firstElementChild!.getBoundingClientRect().width - el.getBoundingClientRect().width);
        expect(clipped).toBeLessThanOrEqual(0.5);
        // Details and the call-id box wait a tap away.
        await expect(dashboard.callId).toBeHidden();
        await expect(dashboard.callIdInput).toBeHidden();
        await expectThumbSized(page, ['menu-button', 'details-toggle', 'status-tap', 'sign-out']);

        // The menu sits at the bottom, in thumb reach.
        const menuButton = (await page.getByTestId('menu-button').boundingBox())!;
        expect(menuButton.y + menuButton.height).toBeGreaterThan(height - 70);
        await page.getByTestId('menu-button').click();
        await expect(page.getByTestId('menu-button')).toHaveAttribute('aria-expanded', 'true');
        await expectThumbSized(page, ['call-id-input', 'start-monitoring']);
        const toggle = (await page.getByTestId('dash-menu').locator('label.switch').boundingBox())!;
        expect(toggle.height).toBeGreaterThanOrEqual(44);
        const sheet = (await page.getByTestId('dash-menu').boundingBox())!;
        expect(sheet.y + sheet.height).toBeLessThanOrEqual(menuButton.y);
        // Escape closes it (keyboard users), as the button does.
        await dashboard.callIdInput.focus();
        await page.keyboard.press('Escape');
        await expect(dashboard.callIdInput).toBeHidden();

        // The details open and close on a tap.
        await page.getByTestId('details-toggle').click();
        await expect(dashboard.callId).toHaveText(id);
        await expect(dashboard.callId).toBeVisible();
        await expect(page.getByTestId('download-csv')).toBeVisible();
        await page.getByTestId('details-toggle').click();
        await expect(dashboard.callId).toBeHidden();
      });
    }

    // Chromium logs the socket cut on purpose.
    test.use({ allowConsole: ['WebSocket'] });

    test('the connection is a dot that says its words on a tap, and says them unasked when not connected', async (
      { writer, dashboard, page },
      info,
    ) => {
      test.skip(info.project.name !== 'phone', 'phone viewport only');
      const id = await longCall(writer);
      // A proxy we can cut between the page and the server.
      let cut: (() => Promise<void>) | undefined;
      let connections = 0;
      await page.routeWebSocket(/\/ws\//, async (ws) => {
        connections += 1;
        // The reconnect is held, so the status can be seen.
        if (connections > 1) await new Promise((r) => setTimeout(r, 3000));
        ws.connectToServer();
        cut = () => ws.close({ code: 4000, reason: 'network gone' });
      });
      await dashboard.goto(`/calls/${id}`);
      const words = dashboard.status.locator('.label');
      await expect(dashboard.status).toHaveAttribute('data-state', 'live');
      await expect(dashboard.status).toHaveAttribute('data-state', 'live');
      await expect(words).toHaveText('Connected');
      // Read out (the accessible name) but not drawn: clipped to nothing.
      await expect.poll(() => words.evaluate((el) => el.getBoundingClientRect().width)).toBeLessThanOrEqual(1);
      await expect(page.getByTestId('status-tap')).toHaveAccessibleName('Connection: Connected');
      await page.getByTestId('status-tap').click();
      await expect.poll(() => words.evaluate((el) => el.getBoundingClientRect().width)).toBeGreaterThan(20);

      // A dropped link is said in words without a tap.
      await page.getByTestId('status-tap').click();
      await expect.poll(() => words.evaluate((el) => el.getBoundingClientRect().width)).toBeLessThanOrEqual(1);
      await cut!();
      await expect(dashboard.status).toHaveAttribute('data-state', 'reconnecting');
      await expect.poll(() => words.evaluate((el) => el.getBoundingClientRect().width)).toBeGreaterThan(20);
    });
  });
}

test.describe('on a phone', { tag: '@browser-only' }, () => {
  test.use({ signInAs: 'agent' });

  test('text follows the browser\'s size setting (no fixed pixel fonts)', async ({ writer, dashboard, page }) => {
    const id = await longCall(writer);
    await dashboard.goto(`/calls/${id}`);
    const text = dashboard.bubble('Customer', 0).getByTestId('bubble-text');
    const size = () => text.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    const before = await size();
    expect(before).toBeGreaterThanOrEqual(16);
    // A reader who sets a larger default size gets larger text everywhere.
    await page.evaluate(() => (document.documentElement.style.fontSize = '20px'));
    expect((await size()) / before).toBeCloseTo(1.25, 2);
    const input = await dashboard.callIdInput.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    expect(input).toBeGreaterThanOrEqual(16); // no zoom on focus
  });

  test('landscape: the same compact page, nothing wider than the screen', async ({ writer, dashboard, page }, info) => {
    test.skip(info.project.name !== 'phone', 'phone viewport only');
    await page.setViewportSize({ width: 844, height: 390 });
    const id = await longCall(writer);
    await dashboard.goto(`/calls/${id}`);
    await expect(page.getByTestId('menu-button')).toBeVisible();
    await expect(dashboard.callIdInput).toBeHidden();
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    const share = (await heightOf(page, 'transcript')) / 390;
    console.log(`landscape 844×390: transcript ${(share * 100).toFixed(0)} % of the screen's height`);
    expect(share).toBeGreaterThanOrEqual(0.5);
    await expect(dashboard.bubble('Agent', 39_000)).toBeInViewport({ ratio: 1 });
  });

  test('notches and the home indicator: the page draws edge to edge and keeps its controls inside the safe area', async ({
    dashboard,
    page,
  }) => {
    await dashboard.goto('/');
    await expect(page.locator('meta[name="viewport"]')).toHaveAttribute('content', /viewport-fit=cover/);
    // The bar at the bottom pads itself by the home indicator's inset.
    const padding = await page.evaluate(() =>
      Array.from(document.styleSheets).some((sheet) =>
        Array.from(sheet.cssRules).some(
          (rule) => rule.cssText.includes('.bottom-bar') && /\.bottom-bar\s*\{[^}]*safe-area-inset-bottom/.test(rule.cssText),
        ),
      ),
    );
    expect(padding).toBe(true);
  });

  test('a reader scrolled up in an ended call keeps their place when the next call starts', async (
    { writer, dashboard, page },
    info,
  ) => {
    test.skip(info.project.name !== 'phone', 'phone viewport only');
    const id = await longCall(writer);
    await dashboard.goto('/');
    await expect(page).toHaveURL(new RegExp(`/calls/${id}$`));
    await expect(dashboard.bubbles).toHaveCount(14);
    await writer.end(id);
    await expect(dashboard.callState).toHaveText('Ended');
    // The transcript stays, and the reader goes back over it.
    await dashboard.transcript.evaluate((el) => el.scrollTo({ top: 0 }));
    await expect(dashboard.bubble('Customer', 0)).toBeInViewport();
    const next = await writer.createCall('+14155550999', { agentUsername: 'agent' });
    // Announced, not followed: the place is kept.
    await expect(dashboard.newCallNotice).toBeVisible({ timeout: 10_000 });
    await expect(page).toHaveURL(new RegExp(`/calls/${id}$`));
    await expect(dashboard.bubble('Customer', 0)).toBeInViewport();
    await dashboard.openNewCall.click();
    await expect(page).toHaveURL(new RegExp(`/calls/${next}$`));

    // At the newest line, the next call is followed by itself.
    await writer.end(next);
    const third = await writer.createCall('+14155550888', { agentUsername: 'agent' });
    await expect(page).toHaveURL(new RegExp(`/calls/${third}$`), { timeout: 10_000 });
    await expect(dashboard.newCallNotice).toHaveCount(0);
  });
});

test('a supervisor on a phone opens a call from the menu; the menu closes on it', async ({ writer, page }, info) => {
  test.skip(info.project.name !== 'phone', 'phone viewport only');
  const dashboard = new Dashboard(page);
  const first = await writer.createCall('+10000000001');
  const second = await writer.createCall('+10000000002');
  await dashboard.goto(`/calls/${first}`);
  await dashboard.monitor(second);
  await expect(page).toHaveURL(`/calls/${second}`);
  await expect(page.getByTestId('menu-button')).toHaveAttribute('aria-expanded', 'false');
  await expect(dashboard.callIdInput).toBeHidden();
  await expect(page.getByTestId('head-phone')).toHaveText('+10000000002');
});
