import { test, expect, Dashboard } from './fixtures';
import type { Page } from '@playwright/test';

// A long call draws only a window of its lines (src/live/window.rs): the
// newest while following, more as the reader scrolls back, never more
// than a few hundred, and the reader's place does not move when lines are
// drawn or let go above it. All of it happens in the page, whatever the
// store: tagged @browser-only, the DynamoDB runs leave it out.

const LINES = 700;
const MOST = 400;
const words = (i: number) => `Line ${i}: so the later flight still has a window seat`;

/** What the transcript draws now: the lines' start times, in order. */
async function drawn(page: Page): Promise<number[]> {
  return page.getByTestId('bubble').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-start'))));
}

/** Waits for two frames (the window redraws, then keeps the place). */
async function frames(page: Page): Promise<void> {
  await page.evaluate(
    () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(null)))),
  );
}

test.describe('a long call', { tag: '@browser-only' }, () => {
  test('draws its newest lines, earlier ones as the reader scrolls up, and keeps their place', async ({
    writer,
    page,
  }) => {
    const id = await writer.createCall('+14155550170');
    await writer.sayMany(id, LINES, words);
    const dashboard = new Dashboard(page);
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    const last = (LINES - 1) * 1400;
    await expect(page.locator(`[data-testid="bubble"][data-start="${last}"]`)).toBeInViewport();
    const first = await drawn(page);
    expect(first.length).toBeLessThanOrEqual(MOST);
    expect(first.at(-1)).toBe(last);
    await expect(page.getByTestId('earlier-lines')).toHaveText(`Show earlier lines (${LINES - first.length} more)`);

    // Scroll to the very top of what is drawn: earlier lines are drawn above,
    // and the line that was at the top stays where it was on screen.
    const top = first[0];
    const line = page.locator(`[data-testid="bubble"][data-start="${top}"]`);
    await dashboard.transcript.evaluate((el) => (el.scrollTop = 0));
    const before = await line.evaluate((e) => e.getBoundingClientRect().top);
    await expect.poll(async () => (await drawn(page))[0]).toBeLessThan(top);
    await frames(page);
    const after = await line.evaluate((e) => e.getBoundingClientRect().top);
    expect(Math.abs(after - before)).toBeLessThanOrEqual(2);
    expect(await dashboard.transcript.evaluate((el) => el.scrollTop)).toBeGreaterThan(0);

    // On up to the first line, a screen at a time: every line is drawn on the
    // way, never more than MOST at once.
    const seen = new Set<number>(await drawn(page));
    let most = 0;
    const atTop = () =>
      dashboard.transcript.evaluate((el) => el.scrollTop === 0 && !el.querySelector('[data-testid="earlier-lines"]'));
    for (let step = 0; step < 400 && !(await atTop()); step++) {
      await dashboard.transcript.evaluate((el) => el.scrollBy(0, -el.clientHeight));
      await frames(page);
      const now = await drawn(page);
      most = Math.max(most, now.length);
      now.forEach((s) => seen.add(s));
    }
    expect(seen.size).toBe(LINES);
    expect(most).toBeLessThanOrEqual(MOST);
    await expect(page.getByTestId('earlier-lines')).toHaveCount(0);
    await expect(page.locator('[data-testid="bubble"][data-start="0"]')).toBeInViewport();

    // A line written meanwhile is offered, not forced on the reader.
    await writer.say(id, 'Agent', LINES * 1400, 'A new line at the end');
    await expect(dashboard.newMessages).toBeVisible();
    await expect(page.locator('[data-testid="bubble"][data-start="0"]')).toBeInViewport();
    await dashboard.newMessages.click();
    await expect(page.locator(`[data-testid="bubble"][data-start="${LINES * 1400}"]`)).toBeInViewport();
    expect((await drawn(page)).length).toBeLessThanOrEqual(MOST);

    // Following again: the next line comes into view by itself.
    await writer.say(id, 'Customer', (LINES + 1) * 1400, 'And another');
    await expect(page.locator(`[data-testid="bubble"][data-start="${(LINES + 1) * 1400}"]`)).toBeInViewport();
    await expect(dashboard.newMessages).toBeHidden();
  });

  test('find steps to a line far back in a long call and draws the lines around it', async ({ writer, page }) => {
    const id = await writer.createCall('+14155550171');
    await writer.sayMany(id, LINES, (i) => (i === 5 ? 'Line 5: my booking reference is QX7' : words(i)));
    const dashboard = new Dashboard(page);
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    await expect(page.locator('[data-testid="bubble"][data-start="7000"]')).toHaveCount(0);
    await dashboard.showDetails();
    await page.getByTestId('find-input').fill('QX7');
    await expect(page.getByTestId('find-count')).toHaveText('1 of 1');
    await expect(page.locator('mark.find.current')).toBeInViewport();
    expect((await drawn(page)).length).toBeLessThanOrEqual(MOST);
    // Nothing new was written: the way back is offered as such.
    await expect(dashboard.newMessages).toHaveText('Back to the newest ↓');
    await dashboard.newMessages.click();
    await expect(page.locator(`[data-testid="bubble"][data-start="${(LINES - 1) * 1400}"]`)).toBeInViewport();
  });
});
