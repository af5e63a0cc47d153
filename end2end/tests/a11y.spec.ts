import AxeBuilder from '@axe-core/playwright';
import { test, expect, addAccountWithCli, signIn, type Dashboard } from './fixtures';
import type { Page } from '@playwright/test';

/** axe-core's WCAG 2.1 A and AA rules on the page as it now is: every
 * violation is printed, and none may be serious or critical. */
async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = results.violations.map((v) => ({
    rule: v.id,
    impact: v.impact,
    nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
  }));
  console.log(`axe ${what}: ${results.passes.length} rules pass, ${found.length} violations`, found.length ? found : '');
  expect(
    found.filter((v) => v.impact === 'serious' || v.impact === 'critical'),
    `${what}: no serious or critical accessibility violations`,
  ).toEqual([]);
}

for (const scheme of ['light', 'dark'] as const) {
  // Pages as drawn, whatever the store: the DynamoDB runs leave it out.
  test.describe(`accessibility, ${scheme} theme`, { tag: '@browser-only' }, () => {
    test.use({ colorScheme: scheme });

    test.describe('signed out', () => {
      test.use({ signInAs: null });
      test('the sign-in page', async ({ page }) => {
        await page.goto('/signin');
        await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
        await expectAccessible(page, `sign-in (${scheme})`);
        // With an error on it.
        await page.getByTestId('username').fill('nobody');
        await page.getByTestId('password').fill('wrong password');
        await page.getByTestId('sign-in').click();
        await expect(page.getByRole('alert')).toBeVisible();
        await expectAccessible(page, `sign-in with an error (${scheme})`);
      });
    });

    test('the dashboard waiting for a call, with its menu open on a phone', async ({ writer, dashboard, page }) => {
      void writer; // emptied: no call yet
      await dashboard.goto('/');
      await expect(dashboard.emptyState).toBeVisible();
      await expectAccessible(page, `dashboard, no call (${scheme})`);
      if (await dashboard.openMenu()) await expectAccessible(page, `dashboard menu (${scheme})`);
    });

    test('a call, live, with its details open', async ({ writer, dashboard, page }) => {
      const id = await writer.createCall('+14155550123', { agentUsername: 'bob', vipTier: 'gold' });
      await writer.say(id, 'Customer', 0, 'Hello, I would like to change my booking.');
      await writer.say(id, 'Agent', 1500, 'Of course, let me look that up for you.');
      await writer.say(id, 'Customer', 3000, 'It is for next Tues', true);
      await writer.say(id, 'Customer', 900, 'Or I want a refund, or to speak to a manager.');
      await dashboard.goto(`/calls/${id}`);
      await expect(dashboard.bubbles).toHaveCount(4);
      // Alert badges and marked words, and a search with its hits.
      await expect(page.getByTestId('alert-hit')).toHaveCount(2);
      await expectAccessible(page, `call (${scheme})`);
      await openEverything(dashboard, page);
      await page.getByTestId('find-input').fill('booking');
      await expect(page.getByTestId('find-hit')).toHaveCount(1);
      await expectAccessible(page, `call, details open (${scheme})`);
      await writer.end(id);
      await expect(dashboard.callState).toHaveText('Ended');
      await expectAccessible(page, `ended call (${scheme})`);
    });

    test('the floor of calls', async ({ writer, page }) => {
      const id = await writer.createCall('+14155550123', { agentUsername: 'bob' });
      await writer.say(id, 'Customer', 0, 'Hello, I would like to change my booking.');
      const ended = await writer.createCall('+14155550124', { agentUsername: 'amy' });
      await writer.end(ended);
      await page.goto('/calls');
      await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
      await expect(page.getByTestId('call-row')).toHaveCount(2);
      await expectAccessible(page, `floor (${scheme})`);
    });

    test.describe('the rules page', () => {
      test.use({ allowConsole: ['status of 400'] });
      test('the alert rules', async ({ page }) => {
        await page.goto('/rules');
        await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
        await expect(page.getByTestId('rule-row').first()).toBeVisible();
        await expectAccessible(page, `rules (${scheme})`);
        // With a refusal on it.
        await page.getByTestId('rule-label').fill('Broken');
        await page.getByTestId('rule-kind').selectOption('regex');
        await page.getByTestId('rule-pattern-input').fill('(');
        await page.getByTestId('rule-save').click();
        await expect(page.getByTestId('rules-error')).toBeVisible();
        await expectAccessible(page, `rules with an error (${scheme})`);
      });
    });

    test('the floor grouped by agent, a group open, calls picked for the wall', async ({ writer, page }) => {
      const id = await writer.createCall('+14155550123', { agentUsername: 'bob' });
      await writer.say(id, 'Customer', 0, 'Hello, I would like to change my booking.');
      const ended = await writer.createCall('+14155550124', { agentUsername: 'amy' });
      await writer.end(ended);
      await writer.createCall('+14155550125');
      await page.goto('/calls?group=agent&since=today');
      await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
      await expect(page.getByTestId('agent-row')).toHaveCount(3);
      await expectAccessible(page, `floor grouped (${scheme})`);
      await page.locator('[data-testid="agent-row"][data-agent="bob"]').getByTestId('agent-toggle').click();
      await expect(page.getByTestId('call-row')).toHaveCount(1);
      await page.getByTestId('wall-pick').check();
      await expect(page.getByTestId('open-wall')).toHaveText(/Open wall/);
      await expectAccessible(page, `floor grouped, a group open (${scheme})`);
    });

    test('the wall: live calls, an ended one, and tiles that show no call', async ({ writer, page }) => {
      const live = await writer.createCall('+14155550123', { agentUsername: 'bob' });
      await writer.say(live, 'Customer', 0, 'Hello, I would like to change my booking.');
      await writer.say(live, 'Agent', 1500, 'Of course, let me look that up for you.');
      await writer.say(live, 'Customer', 3000, 'It is for next Tues', true);
      const ended = await writer.createCall('+14155550124', { agentUsername: 'amy' });
      await writer.say(ended, 'Agent', 0, 'Goodbye.');
      await writer.end(ended);
      await page.goto(`/wall?calls=${live},${ended},not-a-call,0f8fad5b-d9cb-469f-a165-70867728950e`);
      await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
      await expect(page.getByTestId('wall-tile')).toHaveCount(4);
      await expect(page.getByTestId('bubble')).toHaveCount(4);
      await expect(page.locator(`[data-call-id="${live}"] [data-testid="connection-status"]`)).toHaveAttribute(
        'data-state',
        'live',
      );
      await expectAccessible(page, `wall (${scheme})`);
      // The following wall, and one refused.
      await page.goto('/wall');
      await expect(page.getByTestId('wall-tile')).toHaveCount(1);
      await expectAccessible(page, `following wall (${scheme})`);
      await page.goto(`/wall?calls=${['a', 'b', 'c', 'd', 'e', 'f', 'g'].join(',')}`);
      await expect(page.getByTestId('wall-refused')).toBeVisible();
      await expectAccessible(page, `wall refused (${scheme})`);
    });

    test('an unknown call, and an address that is no call id', async ({ dashboard, page }) => {
      await dashboard.goto('/calls/0f8fad5b-d9cb-469f-a165-70867728950e');
      await expect(dashboard.emptyState).toBeVisible();
      await expectAccessible(page, `unknown call (${scheme})`);
    });

    test.describe('as an admin', () => {
      test.use({ signInAs: null });
      test('the Accounts page', async ({ page }) => {
        const admin = `a11y-${scheme}-${Date.now()}`;
        addAccountWithCli(admin, 'admin', 'admin-password-1');
        await signIn(page, admin, 'admin-password-1');
        await page.goto('/admin');
        await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
        await expect(page.locator('[data-testid="account-row"][data-username="supervisor"]')).toBeVisible();
        await expectAccessible(page, `accounts (${scheme})`);
      });
    });
  });
}

/** Opens the card's details (on a phone), "More details" and sharing. */
async function openEverything(dashboard: Dashboard, page: Page): Promise<void> {
  await dashboard.showDetails();
  await page.getByText('More details').click();
  await page.getByText('Share this call with an agent').click();
}
