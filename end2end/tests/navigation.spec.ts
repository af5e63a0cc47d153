import { test, expect } from './fixtures';

const UUID = /\/calls\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Tests tagged @instant-discovery create calls within a second of each other
// or just before the page loads, and assume the page hears of each at once.
// On the DynamoDB backend a new call is discovered through the table's
// stream about half a second to a second later, and callTimestamp has
// one-second resolution, so those tests run on the embedded store only
// (scripts/test); the rest run on both.
test.describe('choosing and following calls', () => {
  test('with no call yet it says so, then follows the first call when it starts', async ({ writer, dashboard, page }) => {
    await dashboard.goto('/');
    await expect(dashboard.emptyState).toContainText('Waiting for the first call');
    await expect(dashboard.status).toHaveAttribute('data-state', 'waiting');
    // Said once: the status says what the connection does.
    await expect(page.getByText('Waiting for the first call')).toHaveCount(1);
    await expect(dashboard.status).toHaveText('Listening for new calls');
    await expect(dashboard.followSwitch).toBeChecked();

    const id = await writer.createCall('+14155550111');
    await expect(page).toHaveURL(`/calls/${id}`);
    await expect(dashboard.callId).toHaveText(id);
    await expect(dashboard.phone).toHaveText('+14155550111');
  });

  test('the home page shows the newest call and the address bar names it', async ({ writer, dashboard, page }) => {
    // Start times as the contact flow writes them (JavaScript Date.toString()),
    // written newest first: the order comes from the parsed times.
    const now = Date.now();
    const newest = await writer.createCall('+10000000002', { callTimestamp: new Date(now).toString() });
    await writer.createCall('+10000000001', { callTimestamp: new Date(now - 3_600_000).toString() });
    await dashboard.goto('/');
    await expect(page).toHaveURL(`/calls/${newest}`);
    await expect(dashboard.phone).toHaveText('+10000000002');
  });

  test('with follow on, a new call replaces the shown one without a reload @instant-discovery', async ({ writer, dashboard, page }) => {
    const first = await writer.createCall('+10000000001');
    await writer.say(first, 'Agent', 0, 'Hello from the first call');
    await dashboard.goto('/');
    await expect(page).toHaveURL(`/calls/${first}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    await page.evaluate(() => ((window as any).__sameDocument = true));
    const entries = await page.evaluate(() => history.length);

    const second = await writer.createCall('+10000000002');
    await expect(page).toHaveURL(`/calls/${second}`);
    await expect(dashboard.callId).toHaveText(second);
    await expect(dashboard.bubbles).toHaveCount(0);
    await writer.say(second, 'Customer', 0, 'Hello from the second call');
    await expect(dashboard.bubble('Customer', 0)).toContainText('Hello from the second call');
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
    // Following replaced the history entry rather than adding one.
    expect(await page.evaluate(() => history.length)).toBe(entries);
  });

  test('a burst of new calls while lines stream ends on the newest, without errors @instant-discovery', async ({
    writer,
    dashboard,
    page,
  }) => {
    const first = await writer.createCall('+10000000000');
    await dashboard.goto('/');
    await expect(page).toHaveURL(`/calls/${first}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    let last = first;
    for (let i = 1; i <= 6; i++) {
      // Frames queue up behind each new-call push.
      await Promise.all([
        writer.say(last, 'Agent', i * 1000, `line ${i}`),
        writer.say(last, 'Customer', i * 1000 + 500, `reply ${i}`),
      ]);
      last = await writer.createCall(`+1000000000${i}`);
      await writer.say(last, 'Agent', 0, `hello from call ${i}`);
    }
    await expect(page).toHaveURL(`/calls/${last}`);
    await expect(dashboard.callId).toHaveText(last);
    await expect(dashboard.bubble('Agent', 0)).toContainText('hello from call 6');
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
  });

  test('a page opened on a call stays on it, reloaded too; following is for the home page @instant-discovery', async ({
    writer,
    dashboard,
    page,
  }) => {
    const chosen = await writer.createCall('+10000000001');
    await dashboard.goto(`/calls/${chosen}`);
    await expect(dashboard.followSwitch).not.toBeChecked();
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    const newer = await writer.createCall('+10000000002');
    await expect(dashboard.newCallNotice).toBeVisible();
    await page.reload();
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(dashboard.followSwitch).not.toBeChecked();
    await expect(dashboard.callId).toHaveText(chosen);
    await writer.createCall('+10000000003');
    await expect(dashboard.newCallNotice).toBeVisible();
    await expect(page).toHaveURL(`/calls/${chosen}`);

    // Turning following on goes to the newest call at once.
    await dashboard.setFollow(true);
    const newest = await writer.createCall('+10000000004');
    await expect(page).toHaveURL(`/calls/${newest}`);
    expect(newer).not.toBe(newest);

    // Turned off at home, it stays off the next time home is opened here.
    await dashboard.goto('/');
    await expect(dashboard.followSwitch).toBeChecked();
    await dashboard.setFollow(false);
    await dashboard.goto('/');
    await expect(dashboard.followSwitch).not.toBeChecked();
    await expect(page).toHaveURL(`/calls/${newest}`);
    const later = await writer.createCall('+10000000005');
    await expect(dashboard.newCallNotice).toContainText('+10000000005');
    await expect(page).toHaveURL(`/calls/${newest}`);
    await dashboard.setFollow(true);
    await expect(page).toHaveURL(`/calls/${later}`);
  });

  test('with follow off, a new call is announced and can be opened @instant-discovery', async ({ writer, dashboard, page }) => {
    const first = await writer.createCall('+10000000001');
    await dashboard.goto(`/calls/${first}`);
    await dashboard.setFollow(false);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');

    const second = await writer.createCall('+10000000002');
    await expect(dashboard.newCallNotice).toBeVisible();
    await expect(dashboard.newCallNotice).toContainText('+10000000002');
    await expect(page).toHaveURL(`/calls/${first}`);
    await expect(dashboard.callId).toHaveText(first);

    await dashboard.openNewCall.click();
    await expect(page).toHaveURL(`/calls/${second}`);
    await expect(dashboard.callId).toHaveText(second);
    await expect(dashboard.newCallNotice).toBeHidden();
    // The choice sticks across calls.
    await expect(dashboard.followSwitch).not.toBeChecked();
  });

  test('Start Monitoring opens the typed call and stops following @instant-discovery', async ({ writer, dashboard, page }) => {
    const wanted = await writer.createCall('+10000000001');
    await writer.say(wanted, 'Customer', 0, 'The call I want');
    await writer.createCall('+10000000002');
    await dashboard.goto('/');
    await expect(page).toHaveURL(UUID);

    await dashboard.monitor(wanted.toUpperCase());
    await expect(page).toHaveURL(`/calls/${wanted}`);
    await expect(dashboard.callId).toHaveText(wanted);
    await expect(dashboard.bubble('Customer', 0)).toContainText('The call I want');
    await expect(dashboard.followSwitch).not.toBeChecked();

    // A new call does not take the page away from the chosen one.
    await writer.createCall('+10000000003');
    await expect(dashboard.newCallNotice).toBeVisible();
    await expect(page).toHaveURL(`/calls/${wanted}`);
  });

  test('a malformed id typed in the form is refused on the spot', async ({ writer, dashboard, page }) => {
    const id = await writer.createCall();
    await dashboard.goto(`/calls/${id}`);
    await dashboard.monitor('<script>alert(1)</script>');
    await expect(dashboard.callIdError).toContainText('is not a valid call id');
    await expect(dashboard.callIdError).toContainText('<script>alert(1)</script>');
    await expect(dashboard.callIdInput).toHaveAttribute('aria-invalid', 'true');
    await expect(page).toHaveURL(`/calls/${id}`);
    await dashboard.monitor('');
    await expect(dashboard.callIdError).toContainText('required');
  });

  test('an unknown call id says there is no such call @instant-discovery', async ({ writer, dashboard }) => {
    await writer.createCall();
    await dashboard.goto('/calls/0f8fad5b-d9cb-469f-a165-70867728950e');
    await expect(dashboard.emptyState).toContainText('No call with id 0f8fad5b-d9cb-469f-a165-70867728950e');
    await expect(dashboard.status).toHaveAttribute('data-state', 'unknown');
  });

  test('a pasted call link opens its call; the box is empty again after; the tab names the call', async ({
    writer,
    dashboard,
    page,
    baseURL,
  }) => {
    const first = await writer.createCall('+10000000001');
    const second = await writer.createCall('+10000000002');
    await dashboard.goto(`/calls/${first}`);
    await expect(page).toHaveTitle(`Call ${first.split('-')[0]} · TravoIQ Monitor`);
    await dashboard.monitor(`${baseURL}/calls/${second}`);
    await expect(page).toHaveURL(`/calls/${second}`);
    await expect(dashboard.callId).toHaveText(second);
    await expect(page).toHaveTitle(`Call ${second.split('-')[0]} · TravoIQ Monitor`);
    await expect(dashboard.callIdInput).toHaveValue('');
    await page.goBack();
    await expect(page).toHaveURL(`/calls/${first}`);
    await expect(dashboard.callId).toHaveText(first);
    await expect(dashboard.callIdInput).toHaveValue('');
  });

});

test.describe('times', () => {
  test.use({ timezoneId: 'Asia/Kolkata', locale: 'en-US' });

  test("the start time is shown in the viewer's zone, naming it, and is machine-readable", async ({
    writer,
    dashboard,
  }) => {
    const id = await writer.createCall('+10000000001');
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.start).toContainText('GMT+5:30');
    const iso = await dashboard.start.getAttribute('datetime');
    expect(iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Number.isNaN(Date.parse(iso!))).toBe(false);
  });
});

test.describe('a malformed id in the address', () => {
  // The page answers 400 (the asker's mistake), which the browser reports
  // as a failed load of the document itself; nothing else may be an error.
  test.use({ allowConsole: ['the server responded with a status of 400'] });

  test('a malformed id in the address says it is not a call id @instant-discovery', async ({ writer, dashboard }) => {
    await writer.createCall();
    await dashboard.goto('/calls/not-a-call');
    await expect(dashboard.emptyState).toContainText('is not a valid call id');
    await expect(dashboard.status).toHaveAttribute('data-state', 'invalid');
  });

  test("an unknown address gets the app's own page; a malformed id says what a call id looks like once", async ({
    dashboard,
    page,
  }) => {
    // (Fetched, not opened: a 404 document is a console error in a browser.)
    const missing = await page.request.get('/no/such/page');
    expect(missing.status()).toBe(404);
    const html = await missing.text();
    expect(html).toContain('data-testid="not-found"');
    expect(html).toContain('<span class="brand">TravoIQ</span>');
    await dashboard.goto('/calls/not-a-call');
    await expect(dashboard.emptyState).toContainText('is not a valid call id');
    await expect(dashboard.emptyState.getByText('0f8fad5b-d9cb-469f-a165-70867728950e')).toHaveCount(1);
  });
});
