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
