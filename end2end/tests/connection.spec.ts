import { test, expect } from './fixtures';

// Chromium logs the socket we cut on purpose.
test.use({ allowConsole: ['WebSocket'] });

test('a dropped connection shows reconnecting, then resumes with nothing lost or doubled', async ({
  writer,
  dashboard,
  page,
}) => {
  const id = await writer.createCall();
  await writer.say(id, 'Agent', 0, 'Before the drop');

  // Put a proxy we can cut between the page and the server.
  let connections = 0;
  let cut: (() => Promise<void>) | undefined;
  await page.routeWebSocket(/\/ws\//, async (ws) => {
    connections += 1;
    if (connections > 1) {
      // Hold the reconnect a moment so the status can be seen.
      await new Promise((r) => setTimeout(r, 1500));
    }
    ws.connectToServer();
    cut = () => ws.close({ code: 4000, reason: 'network gone' });
  });

  await dashboard.goto(`/calls/${id}`);
  await expect(dashboard.status).toHaveAttribute('data-state', 'live');
  await expect(dashboard.bubbles).toHaveCount(1);

  await cut!();
  await expect(dashboard.status).toHaveAttribute('data-state', 'reconnecting');
  await expect(dashboard.status).toContainText('reconnecting');
  // Written while the page was cut off.
  await writer.say(id, 'Customer', 1000, 'While you were', true);
  await writer.say(id, 'Customer', 1000, 'While you were away', false);
  await writer.say(id, 'Agent', 2000, 'Also missed');

  await expect(dashboard.status).toHaveAttribute('data-state', 'live', { timeout: 10_000 });
  await writer.say(id, 'Customer', 3000, 'After the drop');
  await expect(dashboard.bubbles).toHaveCount(4);
  await expect(dashboard.bubbles.getByTestId('bubble-text')).toHaveText([
    'Before the drop',
    'While you were away',
    'Also missed',
    'After the drop',
  ]);
  expect(connections).toBeGreaterThanOrEqual(2);
});
