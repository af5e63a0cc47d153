import { test, expect, signIn } from './fixtures';
import type { Page } from '@playwright/test';

const row = (page: Page, id: string) => page.locator(`[data-testid="call-row"][data-call-id="${id}"]`);

async function openFloor(page: Page, query = ''): Promise<void> {
  await page.goto(`/calls${query}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'live');
}

test('the floor lists every call, updates by push, and opens a call', async ({ writer, page }, info) => {
  const amy = await writer.createCall('+1 (415) 555-0101', { agentUsername: 'amy' });
  await writer.say(amy, 'Customer', 0, 'I need to change my booking.');
  // Start times have one-second resolution.
  await page.waitForTimeout(1100);
  const bob = await writer.createCall('+14155550102', { agentUsername: 'bob' });
  await openFloor(page);
  await expect(page.getByTestId('call-row')).toHaveCount(2);
  // Newest first.
  await expect(page.getByTestId('call-row').first()).toHaveAttribute('data-call-id', bob);
  await expect(row(page, amy).getByTestId('row-agent')).toHaveText('amy');
  await expect(row(page, amy).getByTestId('row-last-line')).toHaveText('Customer: I need to change my booking.');
  await expect(row(page, amy).getByTestId('row-state')).toHaveText('Live');

  // Live by push: a new call appears, a final line shows (a partial never), an end is seen.
  const t0 = Date.now();
  const cy = await writer.createCall('+14155550103', { agentUsername: 'cy' });
  await expect(row(page, cy)).toBeVisible();
  console.log(`${info.project.name}: new call on the floor ${Date.now() - t0} ms after its contact item`);
  await writer.say(bob, 'Agent', 0, 'Thank you for call', true);
  await writer.say(bob, 'Agent', 0, 'Thank you for calling.', false);
  await expect(row(page, bob).getByTestId('row-last-line')).toHaveText('Agent: Thank you for calling.');
  await writer.end(amy);
  await expect(row(page, amy).getByTestId('row-state')).toHaveText('Ended');
  // Durations tick.
  const before = await row(page, cy).getByTestId('row-duration').textContent();
  await expect(row(page, cy).getByTestId('row-duration')).not.toHaveText(before!, { timeout: 5_000 });

  await row(page, bob).getByTestId('call-link').click();
  await expect(page).toHaveURL(`/calls/${bob}`);
  await expect(page.getByTestId('call-id')).toHaveText(bob);
});

test('search, filter and sort live in the address, so a view can be bookmarked', async ({ writer, page }) => {
  const amy = await writer.createCall('+1 (415) 555-0101', { agentUsername: 'amy' });
  const bob = await writer.createCall('+14155550102', { agentUsername: 'bob' });
  const amy2 = await writer.createCall('+442071838750', { agentUsername: 'amy' });
  await writer.end(amy2);
  await openFloor(page);
  await expect(page.getByTestId('call-row')).toHaveCount(3);
  // Each row says its own call (rows drawn a moment apart never mix).
  const ids = await page.getByTestId('call-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-call-id')));
  expect(new Set(ids)).toEqual(new Set([amy, bob, amy2]));
  await expect(row(page, amy2).getByTestId('row-state')).toHaveText('Ended');
  await expect(row(page, amy2).getByTestId('row-phone')).toHaveText('+442071838750');
  await expect(row(page, amy2).getByTestId('call-link')).toHaveText(amy2.split('-')[0]);
  await expect(row(page, bob).getByTestId('row-state')).toHaveText('Live');
  await expect(row(page, bob).getByTestId('call-link')).toHaveText(bob.split('-')[0]);

  // Digits match whatever the formatting.
  await page.getByTestId('floor-search').fill('415-555-0101');
  await expect(page.getByTestId('call-row')).toHaveCount(1);
  await expect(row(page, amy)).toBeVisible();
  await expect(page).toHaveURL(/\?q=415-555-0101$/);
  await expect(page.getByTestId('floor-count')).toHaveText('1 of 3 calls');
  await page.getByTestId('floor-search').fill('');

  await page.getByTestId('floor-agent').selectOption('amy');
  await expect(page.getByTestId('call-row')).toHaveCount(2);
  await page.locator('label.switch', { has: page.getByTestId('floor-live-only') }).click();
  await expect(page.getByTestId('call-row')).toHaveCount(1);
  await expect(row(page, amy)).toBeVisible();
  await expect(page).toHaveURL(/\/calls\?live=1&agent=amy$/);

  // The bookmark opens the same view.
  await openFloor(page, '?live=1&agent=bob');
  await expect(page.getByTestId('call-row')).toHaveCount(1);
  await expect(row(page, bob)).toBeVisible();
  await expect(page.getByTestId('floor-agent')).toHaveValue('bob');
  await expect(page.getByTestId('floor-live-only')).toBeChecked();
  await openFloor(page, '?q=zzz');
  await expect(page.getByTestId('floor-empty')).toContainText('No call matches');
});

test.describe('as an agent', () => {
  test.use({ signInAs: null });
  test('an agent\'s floor shows only their own calls, the number masked', async ({ writer, page }) => {
    const own = await writer.createCall('+14155550177', { agentUsername: 'agent' });
    const other = await writer.createCall('+14155550188', { agentUsername: 'bob' });
    await signIn(page, 'agent');
    await openFloor(page);
    await expect(row(page, own)).toBeVisible();
    await expect(row(page, own).getByTestId('row-phone')).toHaveText(/^\+•+0177$/);
    await expect(page.getByTestId('call-row')).toHaveCount(1);
    // Bob's new line and a new call of Bob's never reach this page.
    await writer.say(other, 'Customer', 0, 'Bob has this one');
    await writer.createCall('+14155550199', { agentUsername: 'bob' });
    const next = await writer.createCall('+14155550166', { agentUsername: 'agent' });
    await expect(row(page, next)).toBeVisible();
    await expect(page.getByTestId('call-row')).toHaveCount(2);
    await expect(page.getByText('Bob has this one')).toHaveCount(0);
    await expect(row(page, other)).toHaveCount(0);
  });
});

test.describe('signed out', () => {
  test.use({ signInAs: null });
  test('the floor asks to sign in first', async ({ page }) => {
    await page.goto('/calls');
    await expect(page).toHaveURL(/\/signin\?next=(%2F|\/)calls$/);
  });
});

test('the dashboard links to the floor and the floor back', async ({ writer, dashboard, page }) => {
  const id = await writer.createCall();
  await dashboard.goto(`/calls/${id}`);
  await dashboard.openMenu();
  await page.getByTestId('floor-link').click();
  await expect(page).toHaveURL('/calls');
  await expect(row(page, id)).toBeVisible();
  await page.getByTestId('to-dashboard').click();
  await expect(page).toHaveURL(new RegExp(`/calls/${id}$`));
});

const agentRow = (page: Page, agent: string) => page.locator(`[data-testid="agent-row"][data-agent="${agent}"]`);

test('grouped by agent: one row per agent with their call now and a count, their calls beneath', async ({
  writer,
  page,
}) => {
  const amyEnded = await writer.createCall('+14155550101', { agentUsername: 'amy' });
  await writer.end(amyEnded);
  const amyLive = await writer.createCall('+14155550102', { agentUsername: 'amy' });
  await writer.say(amyLive, 'Agent', 0, 'Amy speaking.');
  const bob = await writer.createCall('+14155550103', { agentUsername: 'bob' });
  await writer.end(bob);
  const nobody = await writer.createCall('+14155550104');
  await openFloor(page);
  await expect(page.getByTestId('call-row')).toHaveCount(4);

  await page.locator('label.switch', { has: page.getByTestId('floor-group') }).click();
  await expect(page).toHaveURL(/\/calls\?group=agent$/);
  await expect(page.getByTestId('agent-row')).toHaveCount(3);
  // Collapsed: the agents' rows alone.
  await expect(page.getByTestId('call-row')).toHaveCount(0);
  await expect(agentRow(page, 'amy').getByTestId('agent-name')).toHaveText('amy');
  await expect(agentRow(page, 'amy').getByTestId('agent-count')).toHaveText('2 calls');
  // Amy's call now is her live one, though she has an ended one too.
  await expect(agentRow(page, 'amy').getByTestId('agent-current')).toHaveAttribute('data-call-id', amyLive);
  await expect(agentRow(page, 'amy').getByTestId('agent-current-state')).toHaveText('Live');
  await expect(agentRow(page, 'amy')).toContainText('Agent: Amy speaking.');
  // Bob's most recent call, ended.
  await expect(agentRow(page, 'bob').getByTestId('agent-count')).toHaveText('1 call');
  await expect(agentRow(page, 'bob').getByTestId('agent-current')).toHaveAttribute('data-call-id', bob);
  await expect(agentRow(page, 'bob').getByTestId('agent-current-state')).toHaveText('Ended');
  // Calls with no agent, last.
  await expect(page.getByTestId('agent-row').last()).toHaveAttribute('data-agent', '');
  await expect(agentRow(page, '').getByTestId('agent-name')).toHaveText('Unassigned');
  await expect(agentRow(page, '').getByTestId('agent-current')).toHaveAttribute('data-call-id', nobody);

  // Opened, an agent's calls are beneath their row.
  const toggle = agentRow(page, 'amy').getByTestId('agent-toggle');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByTestId('call-row')).toHaveCount(2);
  await expect(row(page, amyEnded)).toBeVisible();
  await expect(row(page, amyLive)).toBeVisible();

  // Live by push: Bob's new call becomes his call now.
  const bob2 = await writer.createCall('+14155550105', { agentUsername: 'bob' });
  await expect(agentRow(page, 'bob').getByTestId('agent-count')).toHaveText('2 calls');
  await expect(agentRow(page, 'bob').getByTestId('agent-current')).toHaveAttribute('data-call-id', bob2);
  await expect(agentRow(page, 'bob').getByTestId('agent-current-state')).toHaveText('Live');

  // Groups follow the filters, and the view is in the address.
  await page.locator('label.switch', { has: page.getByTestId('floor-live-only') }).click();
  await expect(page.getByTestId('agent-row')).toHaveCount(3);
  await expect(agentRow(page, 'bob').getByTestId('agent-count')).toHaveText('1 call');
  await expect(page).toHaveURL(/\/calls\?live=1&group=agent$/);
  await openFloor(page, '?group=agent&agent=amy');
  await expect(page.getByTestId('agent-row')).toHaveCount(1);
  await expect(page.getByTestId('floor-group')).toBeChecked();
  await page.locator('label.switch', { has: page.getByTestId('floor-group') }).click();
  await expect(page).toHaveURL(/\/calls\?agent=amy$/);
  await expect(page.getByTestId('call-row')).toHaveCount(2);
});

test('a time range keeps the calls started in it, today in the viewer\'s zone', async ({ writer, page }) => {
  const a = await writer.createCall('+14155550101', { agentUsername: 'amy' });
  const b = await writer.createCall('+14155550102', { agentUsername: 'bob' });
  // The browser's clock 20 minutes on: both calls started 20 minutes ago.
  await page.clock.setFixedTime(Date.now() + 20 * 60_000);
  await openFloor(page);
  await expect(page.getByTestId('call-row')).toHaveCount(2);
  await page.getByTestId('floor-since').selectOption('15m');
  await expect(page).toHaveURL(/\/calls\?since=15m$/);
  await expect(page.getByTestId('floor-empty')).toContainText('No call matches');
  await expect(page.getByTestId('floor-count')).toHaveText('0 of 2 calls');
  await page.getByTestId('floor-since').selectOption('1h');
  await expect(page.getByTestId('call-row')).toHaveCount(2);
  await expect(page).toHaveURL(/\/calls\?since=1h$/);
  // A bookmark keeps the range, with the other filters.
  await openFloor(page, '?agent=amy&since=1h');
  await expect(page.getByTestId('floor-since')).toHaveValue('1h');
  await expect(page.getByTestId('call-row')).toHaveCount(1);
  await expect(row(page, a)).toBeVisible();
  await openFloor(page, '?since=15m');
  await expect(page.getByTestId('call-row')).toHaveCount(0);

  // A day on, in the viewer's zone, they were yesterday's.
  await page.clock.setFixedTime(Date.now() + 25 * 3_600_000);
  await openFloor(page, '?since=today');
  await expect(page.getByTestId('floor-since')).toHaveValue('today');
  await expect(page.getByTestId('call-row')).toHaveCount(0);
  await page.getByTestId('floor-since').selectOption('all');
  await expect(page).toHaveURL(/\/calls$/);
  await expect(page.getByTestId('call-row')).toHaveCount(2);
  await expect(row(page, b)).toBeVisible();
});
