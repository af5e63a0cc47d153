import { test, expect, Dashboard } from './fixtures';
import { SIM_URL } from '../playwright.config';

// The newcomer's default: the embedded store fed by the simulator.
test.use({ baseURL: SIM_URL });

test('out of the box a simulated call streams, with partials that settle into finals', async ({ page }) => {
  const dashboard = new Dashboard(page);
  await dashboard.goto('/');
  await expect(page).toHaveURL(/\/calls\/[0-9a-f-]{36}$/);
  await expect(dashboard.status).toHaveAttribute('data-state', /live|ended/);
  await expect(dashboard.phone).toHaveText(/^\+1415555\d{4}$/);
  await expect(page.locator('[data-testid="bubble"][data-speaker="Agent"]').first()).toBeVisible({ timeout: 15_000 });
  await expect(page.locator('[data-testid="bubble"][data-speaker="Customer"]').first()).toBeVisible({ timeout: 20_000 });
  // Some bubble is seen in progress, and bubbles end final.
  await expect(page.locator('[data-testid="bubble"][data-partial="true"]').first()).toBeAttached({ timeout: 15_000 });
  await expect(page.locator('[data-testid="bubble"][data-partial="false"]').first()).toBeAttached();
  // Each utterance has exactly one bubble.
  const keys = await dashboard.bubbles.evaluateAll((els) =>
    els.map((e) => `${e.getAttribute('data-speaker')}@${e.getAttribute('data-start')}`),
  );
  expect(new Set(keys).size).toBe(keys.length);
});

test('out of the box the floor lists several simulated calls live, and the wall follows them', async ({ page, context }) => {
  await page.goto('/calls?live=1');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const live = page.locator('[data-testid="call-row"]').filter({ has: page.getByTestId('row-state').getByText('Live') });
  // Several calls at once (a new one every few seconds at this pace).
  await expect.poll(() => live.count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
  // A live row's last line changes by push while the page sits still.
  const first = live.first();
  const id = await first.getAttribute('data-call-id');
  const row = page.locator(`[data-testid="call-row"][data-call-id="${id}"]`);
  const before = await row.getByTestId('row-last-line').textContent();
  await expect(row.getByTestId('row-last-line')).not.toHaveText(before ?? '', { timeout: 15_000 });

  // The following wall shows the newest live calls, each streaming.
  const wall = await context.newPage();
  await wall.goto('/wall');
  await expect(wall.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect.poll(() => wall.getByTestId('wall-tile').count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
  await expect(wall.locator('[data-testid="wall-tile"] [data-testid="bubble"]').first()).toBeVisible({ timeout: 15_000 });
});
