import { test, expect, addAccountWithCli, Dashboard, DEMO_PASSWORD, signIn, type CallWriter } from './fixtures';
import type { Browser, BrowserContext, Page } from '@playwright/test';

// These tests sign in themselves, through the form, as a person would.
test.use({ signInAs: null });

async function signInWithForm(page: Page, username: string, password = DEMO_PASSWORD): Promise<void> {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('sign-in').click();
}

async function callFor(writer: CallWriter, agent: string, words: string): Promise<string> {
  const id = await writer.createCall('+14155550177', { agentUsername: agent });
  await writer.say(id, 'Customer', 0, words);
  return id;
}

/** As a supervisor on a call's page: shares it with `agent`; the link. */
async function shareWith(page: Page, agent: string): Promise<string> {
  await new Dashboard(page).showDetails();
  await page.getByText('Share this call with an agent').click();
  await page.getByTestId('share-agent').fill(agent);
  await page.getByTestId('share-call').click();
  return page.getByTestId('share-url').inputValue();
}

/** The agent, in a browser of their own, opens `link` and signs in. */
async function openAsAgent(
  browser: Browser,
  baseURL: string | undefined,
  link: string,
): Promise<{ agentContext: BrowserContext; agentPage: Page }> {
  const agentContext = await browser.newContext({ baseURL });
  const agentPage = await agentContext.newPage();
  await agentPage.goto(link);
  await signInWithForm(agentPage, 'agent');
  return { agentContext, agentPage };
}

test('nothing opens without signing in; a supervisor signs in and lands where they were going', async ({
  page,
  writer,
}) => {
  const id = await callFor(writer, 'bob', 'Hello from the customer');
  await page.goto(`/calls/${id}`);
  await expect(page).toHaveURL(new RegExp(`/signin\\?next=/calls/${id}$`));
  await expect(page.getByTestId('bubble')).toHaveCount(0);

  await signInWithForm(page, 'supervisor', 'not-the-password');
  await expect(page.getByTestId('sign-in-message')).toHaveText('Wrong username or password.');
  // A name that does not exist reads the same.
  await signInWithForm(page, 'no-such-user', 'not-the-password');
  await expect(page.getByTestId('sign-in-message')).toHaveText('Wrong username or password.');

  await signInWithForm(page, 'supervisor');
  await expect(page).toHaveURL(new RegExp(`/calls/${id}$`));
  const dashboard = new Dashboard(page);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(dashboard.status).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('bubble-text')).toHaveText(['Hello from the customer']);
  await expect(page.getByTestId('user-name')).toHaveText('supervisor');
  await expect(page.getByTestId('user-role')).toHaveText('supervisor');
  // Supervisors see the whole number.
  await expect(dashboard.phone).toHaveText('+14155550177');
});

test("an agent sees only their own calls, masked, and follows their own new call", async ({ page, writer }) => {
  const own = await callFor(writer, 'agent', 'My customer speaking');
  const bobs = await callFor(writer, 'bob', 'Bob has this one');

  await page.goto('/');
  await signInWithForm(page, 'agent');
  const dashboard = new Dashboard(page);
  // The newest call overall is Bob's; the agent is taken to their own.
  await expect(page).toHaveURL(new RegExp(`/calls/${own}$`));
  await expect(page.getByTestId('bubble-text')).toHaveText(['My customer speaking']);
  await expect(dashboard.phone).toHaveText(/^\+•+0177$/);

  // Bob's next call passes unseen; the agent's own new call is followed.
  await callFor(writer, 'bob', 'Another of Bob');
  const next = await callFor(writer, 'agent', 'My next customer');
  await expect(page).toHaveURL(new RegExp(`/calls/${next}$`), { timeout: 10_000 });
  await expect(page.getByTestId('bubble-text')).toHaveText(['My next customer']);
  await expect(dashboard.newCallNotice).toHaveCount(0);

  // Bob's call by its id: the same answer as a call that does not exist.
  await dashboard.goto(`/calls/${bobs}`);
  await expect(dashboard.emptyState).toContainText(`No call with id ${bobs}`);
  await expect(page.getByText('Bob has this one')).toHaveCount(0);
});

test('signing out ends live streaming in every tab', async ({ page, context, writer }) => {
  await signIn(page, 'supervisor');
  const id = await callFor(writer, 'bob', 'Before signing out');
  const watching = new Dashboard(page);
  await watching.goto(`/calls/${id}`);
  await expect(watching.status).toHaveAttribute('data-state', 'live');

  const other = await context.newPage();
  await other.goto('/');
  await expect(other.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await other.getByTestId('sign-out').click();
  await expect(other).toHaveURL(/\/signin\?signed_out=1$/);
  await expect(other.getByTestId('sign-in-message')).toHaveText('You have signed out.');

  // The first tab's stream is closed by the server and says so; the page
  // no longer claims the call is live, stops its clock and offers no
  // sharing.
  await expect(watching.status).toHaveAttribute('data-state', 'signed-out');
  await expect(page.getByTestId('sign-in-again')).toBeVisible();
  await expect(watching.callState).toHaveText('Not updating');
  await expect(page.getByTestId('share-call')).toHaveCount(0);
  const frozenAt = await watching.duration.innerText();
  await writer.say(id, 'Agent', 2000, 'After signing out');
  await page.waitForTimeout(2100);
  await expect(page.getByTestId('bubble-text')).toHaveText(['Before signing out']);
  await expect(watching.duration).toHaveText(frozenAt);

  // Signing in again returns to the call, which is live again.
  await page.getByTestId('sign-in-again').click();
  await expect(page).toHaveURL(`/signin?next=/calls/${id}`);
  await signInWithForm(page, 'supervisor');
  await expect(page).toHaveURL(`/calls/${id}`);
  await expect(watching.status).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('bubble-text')).toHaveText(['Before signing out', 'After signing out']);
});

test('a supervisor hands an agent a signed link to one call', async ({ page, browser, writer, baseURL }) => {
  await signIn(page, 'supervisor');
  const id = await callFor(writer, 'bob', 'Shared with the agent');
  const dashboard = new Dashboard(page);
  await dashboard.goto(`/calls/${id}`);
  const link = await shareWith(page, 'agent');
  // The grant: the link's id, its expiry, its MAC.
  expect(link).toMatch(new RegExp(`/calls/${id}\\?grant=[A-Za-z0-9_-]{22}\\.\\d+\\.[A-Za-z0-9_-]+$`));

  const { agentContext, agentPage } = await openAsAgent(browser, baseURL, link);
  await expect(agentPage).toHaveURL(link);
  await expect(agentPage.getByTestId('bubble-text')).toHaveText(['Shared with the agent']);
  await expect(agentPage.getByTestId('share-call')).toHaveCount(0);

  // Without the grant, the same call is not theirs.
  await agentPage.goto(`/calls/${id}`);
  await expect(agentPage.getByTestId('empty-state')).toContainText(`No call with id ${id}`);
  await agentContext.close();
});

test("a supervisor lists the links to a call and revokes one: the agent's stream stops", async ({
  page,
  browser,
  writer,
  baseURL,
}) => {
  await signIn(page, 'supervisor');
  const id = await callFor(writer, 'bob', 'Shared, then taken back');
  const dashboard = new Dashboard(page);
  await dashboard.goto(`/calls/${id}`);
  const link = await shareWith(page, 'agent');
  const row = page.getByTestId('link-row');
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute('data-agent', 'agent');
  await expect(row.getByTestId('link-state')).toHaveText('active');
  await expect(row).toContainText('supervisor');

  const { agentContext, agentPage } = await openAsAgent(browser, baseURL, link);
  await expect(agentPage.getByTestId('bubble-text')).toHaveText(['Shared, then taken back']);
  const agentView = new Dashboard(agentPage);
  await expect(agentView.status).toHaveAttribute('data-state', 'live');
  // Agents never see the list.
  await expect(agentPage.getByTestId('link-row')).toHaveCount(0);

  await row.getByTestId('link-revoke').click();
  await expect(row.getByTestId('link-state')).toHaveText('revoked');
  await expect(row.getByTestId('link-revoke')).toHaveCount(0);

  // The agent's stream stops at once and says so: nothing said after it arrives.
  await expect(agentView.status).toHaveAttribute('data-state', 'access-ended');
  await writer.say(id, 'Agent', 2000, 'After the revocation');
  await agentPage.waitForTimeout(1500);
  await expect(agentPage.getByTestId('bubble-text')).toHaveText(['Shared, then taken back']);
  // Opening the link again: the link is not valid (whether the call exists
  // is not said); so is a link with its signature changed.
  await agentView.goto(link);
  await expect(agentView.emptyState).toContainText('This shared link is not valid');
  await expect(agentView.status).toHaveAttribute('data-state', 'link-refused');
  await expect(agentPage.getByText(id)).toHaveCount(0);
  const tampered = link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
  await agentView.goto(tampered);
  await expect(agentView.emptyState).toContainText('This shared link is not valid');
  await agentContext.close();
});

test('an admin adds an account on the Accounts page; changing its role, then disabling it, ends its session', async ({
  page,
  browser,
  baseURL,
}) => {
  const admin = `root-${Date.now()}`;
  addAccountWithCli(admin, 'admin', 'admin-password-1');
  await page.goto('/admin');
  await signInWithForm(page, admin, 'admin-password-1');
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.locator('[data-testid="account-row"][data-username="supervisor"]')).toBeVisible();

  const newcomer = `maria-${Date.now()}`;
  const form = page.getByTestId('add-account');
  // Least privilege: a new account is an agent unless chosen otherwise.
  await expect(form.getByLabel('Role', { exact: true })).toHaveValue('agent');
  await form.getByLabel('Username', { exact: true }).fill(newcomer);
  await form.getByRole('button', { name: 'Add' }).click();
  const added = page.getByTestId('new-password');
  await expect(added).toContainText(`Account ${newcomer} added`);
  // Shown where it is seen: at the top, in view, with the focus.
  await expect(added).toBeInViewport();
  await expect(added).toBeFocused();
  const shown = added.locator('code');
  await expect(shown).toHaveText(/^[A-Za-z0-9]{20}$/);
  const password = await shown.innerText();
  const row = page.locator(`[data-testid="account-row"][data-username="${newcomer}"]`);
  await expect(row).toContainText('active');
  // The form is ready for the next account.
  await expect(form.getByLabel('Username', { exact: true })).toHaveValue('');

  // A reset asks first (declined: nothing changes), then names whose
  // password changed; one message at a time.
  page.once('dialog', (d) => d.dismiss());
  await row.getByRole('button', { name: 'Reset password' }).click();
  await expect(added).toBeVisible();
  page.once('dialog', (d) => {
    expect(d.message()).toContain(newcomer);
    void d.accept();
  });
  await row.getByRole('button', { name: 'Reset password' }).click();
  const reset = page.getByTestId('reset-password');
  await expect(reset).toContainText(`New password for ${newcomer}`);
  await expect(reset).toBeInViewport();
  await expect(added).toHaveCount(0);
  const newPassword = await reset.locator('code').innerText();
  expect(newPassword).not.toBe(password);

  // A long name wraps in its own cell; the headings keep their words whole.
  const longName = `l${Date.now()}${'o'.repeat(48)}ng`;
  await form.getByLabel('Username', { exact: true }).fill(longName);
  await form.getByRole('button', { name: 'Add' }).click();
  await expect(page.getByTestId('new-password')).toContainText(`Account ${longName} added`);
  const headings = await page.locator('[data-testid="accounts"] th').evaluateAll((ths) =>
    ths.filter((th) => th.textContent).map((th) => th.getBoundingClientRect().height),
  );
  const oneLine = Math.min(...headings);
  expect(Math.max(...headings)).toBeLessThanOrEqual(oneLine + 1);
  expect(await page.evaluate(() => document.scrollingElement!.scrollWidth - innerWidth)).toBeLessThanOrEqual(0);

  const theirs = await browser.newContext({ baseURL });
  const theirPage = await theirs.newPage();
  await theirPage.goto('/');
  await signInWithForm(theirPage, newcomer, newPassword);
  await expect(theirPage.getByTestId('user-name')).toHaveText(newcomer);
  await expect(theirPage.getByTestId('admin-link')).toHaveCount(0);
  // Not an admin: the Accounts page refuses, and offers no form.
  await theirPage.goto('/admin');
  await expect(theirPage.getByTestId('admin-refused')).toBeVisible();
  await expect(theirPage.getByTestId('add-account')).toHaveCount(0);

  // A role change ends their session; signed in again, they have the new role.
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const changed = page.waitForResponse((r) => r.url().endsWith('/api/accounts/role') && r.ok());
  await row.getByTestId('account-role').selectOption('supervisor');
  await changed;
  await expect(row.getByTestId('account-role')).toHaveValue('supervisor');
  await theirPage.goto('/');
  await expect(theirPage).toHaveURL(/\/signin\?next=\/&ended=1$/);
  await signInWithForm(theirPage, newcomer, newPassword);
  await expect(theirPage.getByTestId('user-role')).toHaveText('supervisor');

  await row.getByRole('button', { name: 'Disable' }).click();
  await expect(row).toContainText('disabled');
  await theirPage.goto('/');
  await expect(theirPage).toHaveURL(/\/signin\?next=\/&ended=1$/);
  await expect(theirPage.getByTestId('sign-in-message')).toHaveText('Your session ended. Sign in again.');
  await theirs.close();
});
