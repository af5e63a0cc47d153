import { test, expect, signIn } from './fixtures';
import type { Locator, Page, WebSocketRoute } from '@playwright/test';

const UNKNOWN = '0f8fad5b-d9cb-469f-a165-70867728950e';

/** The wall, as a person sees it. */
class Wall {
  readonly tiles: Locator;

  constructor(readonly page: Page) {
    this.tiles = page.getByTestId('wall-tile');
  }

  async goto(query = ''): Promise<void> {
    await this.page.goto(`/wall${query}`);
    await expect(this.page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }

  tile(id: string): Locator {
    return this.page.locator(`[data-testid="wall-tile"][data-call-id="${id}"]`);
  }

  status(id: string): Locator {
    return this.tile(id).getByTestId('connection-status');
  }

  lines(id: string): Locator {
    return this.tile(id).getByTestId('bubble-text');
  }

  async ids(): Promise<(string | null)[]> {
    return this.tiles.evaluateAll((tiles) => tiles.map((t) => t.getAttribute('data-call-id')));
  }
}

test.describe('in the viewer\'s zone', () => {
  test.use({ timezoneId: 'Asia/Kolkata', locale: 'en-US' });

  test('the wall shows the chosen calls live, each with its own details', async ({ writer, page }) => {
    const wall = new Wall(page);
    const a = await writer.createCall('+14155550101', { agentUsername: 'amy' });
    const b = await writer.createCall('+14155550102', { agentUsername: 'bob' });
    await writer.say(a, 'Customer', 0, 'Hello from A');
    await wall.goto(`?calls=${a},${b}`);
    await expect(wall.tiles).toHaveCount(2);
    expect(await wall.ids()).toEqual([a, b]);
    for (const [id, phone] of [
      [a, '+14155550101'],
      [b, '+14155550102'],
    ]) {
      await expect(wall.status(id)).toHaveAttribute('data-state', 'live');
      await expect(wall.tile(id).getByTestId('tile-call-id')).toHaveText(id);
      await expect(wall.tile(id).getByTestId('tile-call-id')).toHaveAttribute('href', `/calls/${id}`);
      await expect(wall.tile(id).getByTestId('tile-phone')).toHaveText(phone);
      await expect(wall.tile(id).getByTestId('tile-state')).toHaveText('Live');
      await expect(wall.tile(id).getByTestId('tile-start')).toContainText('GMT+5:30');
    }
    await expect(wall.lines(a)).toHaveText(['Hello from A']);
    await expect(wall.tile(b).getByTestId('transcript-empty')).toBeVisible();

    // Each tile follows its own call, live; text stays text.
    await writer.say(b, 'Agent', 0, '<b>Not bold</b> & <i>not</i> a tag');
    await expect(wall.lines(b)).toHaveText(['<b>Not bold</b> & <i>not</i> a tag']);
    await expect(wall.tile(b).locator('b, i')).toHaveCount(0);
    await writer.say(a, 'Agent', 1000, 'Hello, this is Amy');
    await expect(wall.lines(a)).toHaveText(['Hello from A', 'Hello, this is Amy']);
    await expect(wall.lines(b)).toHaveCount(1);
    await writer.end(a);
    await expect(wall.tile(a).getByTestId('tile-state')).toHaveText('Ended');
    await expect(wall.tile(b).getByTestId('tile-state')).toHaveText('Live');

    // The id opens the call.
    await wall.tile(b).getByTestId('tile-call-id').click();
    await expect(page).toHaveURL(`/calls/${b}`);
  });
});

test('a malformed or unknown id gets a tile that says so; more than six are refused', async ({ writer, page }) => {
  const wall = new Wall(page);
  const a = await writer.createCall();
  await wall.goto(`?calls=${a},not-a-call,${UNKNOWN}`);
  await expect(wall.tiles).toHaveCount(3);
  await expect(wall.tile('not-a-call').getByTestId('tile-message')).toHaveText(
    /“not-a-call” is not a valid call id/,
  );
  await expect(wall.tile(UNKNOWN).getByTestId('tile-message')).toHaveText(`No call with id ${UNKNOWN}`);
  await expect(wall.status(a)).toHaveAttribute('data-state', 'live');

  const seven = [a, ...Array.from({ length: 6 }, (_, i) => `0f8fad5b-d9cb-469f-a165-7086772895${10 + i}`)];
  await wall.goto(`?calls=${seven.join(',')}`);
  await expect(page.getByTestId('wall-refused')).toContainText('at most 6 calls');
  await expect(page.getByTestId('wall-refused')).toContainText('names 7');
  await expect(wall.tiles).toHaveCount(0);
});

test.describe('a dropped tile', () => {
  // Chromium logs the socket we cut on purpose.
  test.use({ allowConsole: ['WebSocket'] });

  test('resumes on its own without losing lines; the other tile stays live', async ({ writer, page }) => {
    const wall = new Wall(page);
    const a = await writer.createCall('+14155550101');
    const b = await writer.createCall('+14155550102');
    await writer.say(a, 'Agent', 0, 'Before the drop');
    await writer.say(b, 'Agent', 0, 'B before');

    // A proxy we can cut between each tile and the server.
    const sockets = new Map<string, WebSocketRoute>();
    const connects = new Map<string, number>();
    await page.routeWebSocket(/\/ws\//, async (ws) => {
      const id = new URL(ws.url()).pathname.split('/').pop() ?? '';
      const n = (connects.get(id) ?? 0) + 1;
      connects.set(id, n);
      // Hold the reconnect a moment so the status can be seen.
      if (n > 1) await new Promise((r) => setTimeout(r, 1500));
      ws.connectToServer();
      sockets.set(id, ws);
    });

    await wall.goto(`?calls=${a},${b}`);
    await expect(wall.status(a)).toHaveAttribute('data-state', 'live');
    await expect(wall.status(b)).toHaveAttribute('data-state', 'live');
    await expect(wall.lines(a)).toHaveText(['Before the drop']);

    await sockets.get(a)!.close({ code: 4000, reason: 'network gone' });
    await expect(wall.status(a)).toHaveAttribute('data-state', 'reconnecting');
    await expect(wall.status(b)).toHaveAttribute('data-state', 'live');
    // Written while the tile was cut off.
    await writer.say(a, 'Customer', 1000, 'While you were', true);
    await writer.say(a, 'Customer', 1000, 'While you were away', false);
    await writer.say(a, 'Agent', 2000, 'Also missed');
    await writer.say(b, 'Customer', 1000, 'B goes on');
    await expect(wall.lines(b)).toHaveText(['B before', 'B goes on']);

    await expect(wall.status(a)).toHaveAttribute('data-state', 'live', { timeout: 10_000 });
    await writer.say(a, 'Customer', 3000, 'After the drop');
    await expect(wall.lines(a)).toHaveText(['Before the drop', 'While you were away', 'Also missed', 'After the drop']);
    expect(connects.get(a)).toBeGreaterThanOrEqual(2);
    expect(connects.get(b)).toBe(1);
  });
});

test.describe('as an agent', () => {
  test.use({ signInAs: null });

  test('an agent\'s wall shows their own calls and refuses others\' as unknown', async ({ writer, page }) => {
    const wall = new Wall(page);
    const own = await writer.createCall('+14155550177', { agentUsername: 'agent' });
    const other = await writer.createCall('+14155550188', { agentUsername: 'bob' });
    await writer.say(other, 'Customer', 0, 'Bob has this one');
    await signIn(page, 'agent');
    await wall.goto(`?calls=${own},${other},${UNKNOWN}`);
    await expect(wall.tiles).toHaveCount(3);
    await expect(wall.status(own)).toHaveAttribute('data-state', 'live');
    await expect(wall.tile(own).getByTestId('tile-phone')).toHaveText(/^\+•+0177$/);
    // Someone else's call is told exactly as an unknown one.
    await expect(wall.tile(other).getByTestId('tile-message')).toHaveText(`No call with id ${other}`);
    await expect(wall.tile(UNKNOWN).getByTestId('tile-message')).toHaveText(`No call with id ${UNKNOWN}`);
    await expect(page.getByText('Bob has this one')).toHaveCount(0);
    await expect(page.getByText('0188')).toHaveCount(0);

    // The following wall: only their own calls, though Bob's is newer.
    await wall.goto();
    await expect(wall.tile(own)).toBeVisible();
    await writer.createCall('+14155550199', { agentUsername: 'bob' });
    const next = await writer.createCall('+14155550166', { agentUsername: 'agent' });
    await expect(wall.tile(next)).toBeVisible();
    await expect(wall.tiles).toHaveCount(2);
    expect(await wall.ids()).toEqual([next, own]);
  });
});

test('the following wall shows the newest live calls and a new call takes an ended one\'s place', async ({
  writer,
  page,
}) => {
  const wall = new Wall(page);
  const ended = await writer.createCall('+14155550100');
  await writer.end(ended);
  const first = await writer.createCall('+14155550101');
  await wall.goto();
  await expect(wall.tile(first)).toBeVisible();
  await expect(wall.status(first)).toHaveAttribute('data-state', 'live');
  // An ended call does not start on the wall.
  await expect(wall.tiles).toHaveCount(1);

  const calls = [first];
  for (let n = 2; n <= 6; n++) {
    calls.push(await writer.createCall(`+141555501${n}0`));
  }
  await expect(wall.tiles).toHaveCount(6);
  await writer.say(calls[2], 'Agent', 0, 'Still on the wall');
  await expect(wall.lines(calls[2])).toHaveText(['Still on the wall']);

  // Full: the next call takes the place of an ended one (start times
  // have one-second resolution: which of two is older is unit-tested).
  await writer.end(calls[1]);
  await expect(wall.tile(calls[1]).getByTestId('tile-state')).toHaveText('Ended');
  const seventh = await writer.createCall('+14155550170');
  await expect(wall.tile(seventh)).toBeVisible();
  await expect(wall.tile(calls[1])).toHaveCount(0);
  await expect(wall.tiles).toHaveCount(6);
  for (const id of [calls[0], calls[2], calls[3], calls[4], calls[5]]) await expect(wall.tile(id)).toBeVisible();
  // The others kept their tiles (and their lines).
  await expect(wall.lines(calls[2])).toHaveText(['Still on the wall']);
});

test('tiles sit side by side on a desktop and in one column on a phone', async ({ writer, page }, info) => {
  const wall = new Wall(page);
  const ids = [await writer.createCall(), await writer.createCall(), await writer.createCall()];
  await wall.goto(`?calls=${ids.join(',')}`);
  await expect(wall.tiles).toHaveCount(3);
  for (const id of ids) await expect(wall.status(id)).toHaveAttribute('data-state', 'live');
  const boxes = await Promise.all(ids.map(async (id) => (await wall.tile(id).boundingBox())!));
  const width = page.viewportSize()!.width;
  if (info.project.name === 'phone') {
    expect(width).toBeLessThanOrEqual(600);
    for (const box of boxes) expect(Math.abs(box.x - boxes[0].x)).toBeLessThan(2);
    expect(boxes[1].y).toBeGreaterThan(boxes[0].y + boxes[0].height - 1);
    expect(boxes[2].y).toBeGreaterThan(boxes[1].y + boxes[1].height - 1);
    // Nothing sticks out sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
  } else {
    // Three in a row on a 1280 px desktop.
    for (const box of boxes) expect(Math.abs(box.y - boxes[0].y)).toBeLessThan(2);
    expect(boxes[1].x).toBeGreaterThan(boxes[0].x + boxes[0].width - 1);
    expect(boxes[2].x).toBeGreaterThan(boxes[1].x + boxes[1].width - 1);
  }
});

test('calls picked on the floor open on the wall, at most six; the dashboard links to the wall', async ({
  writer,
  dashboard,
  page,
}) => {
  const ids: string[] = [];
  for (let n = 1; n <= 7; n++) ids.push(await writer.createCall(`+141555502${n}0`));
  await page.goto('/calls');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('call-row')).toHaveCount(7);
  const pick = (id: string) => page.locator(`[data-testid="call-row"][data-call-id="${id}"]`).getByTestId('wall-pick');
  await expect(page.getByTestId('open-wall')).toHaveAttribute('href', '/wall');
  for (const id of ids.slice(0, 6)) await pick(id).check();
  // Six picked: the seventh can't be.
  await expect(pick(ids[6])).toBeDisabled();
  await pick(ids[0]).uncheck();
  await expect(pick(ids[6])).toBeEnabled();
  await pick(ids[0]).check();
  const chosen = ids.slice(1, 6).concat(ids[0]);
  await expect(page.getByTestId('open-wall')).toHaveAttribute('href', `/wall?calls=${chosen.join(',')}`);
  await expect(page.getByTestId('open-wall')).toHaveText('Open wall (6 of 6)');
  await page.getByTestId('open-wall').click();
  await expect(page).toHaveURL(`/wall?calls=${chosen.join(',')}`);
  const wall = new Wall(page);
  await expect(wall.tiles).toHaveCount(6);
  expect(await wall.ids()).toEqual(chosen);

  await dashboard.goto(`/calls/${ids[0]}`);
  await dashboard.openMenu();
  await page.getByTestId('wall-link').click();
  await expect(page).toHaveURL('/wall');
  await expect(wall.tiles).toHaveCount(6);
});

test.describe('signed out', () => {
  test.use({ signInAs: null });
  test('the wall asks to sign in first', async ({ page }) => {
    await page.goto(`/wall?calls=${UNKNOWN}`);
    await expect(page).toHaveURL(/\/signin\?next=/);
  });
});
