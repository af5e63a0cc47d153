import { test, expect, Dashboard, type CallWriter } from './fixtures';
import type { Page } from '@playwright/test';
import { OIDC_ISSUER } from '../playwright.config';

// Single sign-on with a company account, against a real OpenID provider
// (oidc/provider.mjs): its directory has sam (monitor-supervisors), alex
// (monitor-agents, Connect username "agent") and nora (no monitor group).
test.use({ signInAs: null });

test.beforeEach(async ({ page }) => {
  // The provider's development pages load a web font from the internet,
  // which these machines cannot reach: answer it with nothing.
  await page.route('https://fonts.googleapis.com/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/css', body: '' }),
  );
});

/** From our sign-in page through the provider's login form, as `login`. */
async function signInWithCompany(page: Page, login: string): Promise<void> {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('sso-sign-in')).toHaveText('Sign in with Example Corp');
  await page.getByTestId('sso-sign-in').click();
  await expect(page).toHaveURL(new RegExp(`^${OIDC_ISSUER}/interaction/`));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
}

async function callFor(writer: CallWriter, agent: string, words: string): Promise<string> {
  const id = await writer.createCall('+14155550177', { agentUsername: agent });
  await writer.say(id, 'Customer', 0, words);
  return id;
}

test('a supervisor signs in with a company account and lands where they were going', async ({ page, writer }) => {
  const id = await callFor(writer, 'bob', 'Hello from the customer');
  await page.goto(`/calls/${id}`);
  await expect(page).toHaveURL(new RegExp(`/signin\\?next=/calls/${id}$`));
  await signInWithCompany(page, 'sam');

  await expect(page).toHaveURL(new RegExp(`/calls/${id}$`));
  const dashboard = new Dashboard(page);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(dashboard.status).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('bubble-text')).toHaveText(['Hello from the customer']);
  await expect(page.getByTestId('user-name')).toHaveText('sam');
  await expect(page.getByTestId('user-role')).toHaveText('supervisor');

  // Signing out ends the session here and offers the provider's sign-out.
  await page.getByTestId('sign-out').click();
  await expect(page).toHaveURL(/\/signin\?signed_out=1$/);
  const out = page.getByTestId('sso-sign-out');
  await expect(out).toHaveText('Sign out of Example Corp too');
  await expect(out).toHaveAttribute('href', new RegExp(`^${OIDC_ISSUER}/session/end\\?client_id=monitor&`));
  await page.goto(`/calls/${id}`);
  await expect(page).toHaveURL(/\/signin\?next=/);
});

test("an agent's company account shows their own calls only", async ({ page, writer }) => {
  const own = await callFor(writer, 'agent', 'My customer speaking');
  const bobs = await callFor(writer, 'bob', 'Bob has this one');
  await page.goto('/');
  await signInWithCompany(page, 'alex');
  // The newest call overall is Bob's; alex (Connect username "agent") is
  // taken to their own.
  await expect(page).toHaveURL(new RegExp(`/calls/${own}$`));
  await expect(page.getByTestId('bubble-text')).toHaveText(['My customer speaking']);
  await expect(page.getByTestId('user-role')).toHaveText('agent');

  const dashboard = new Dashboard(page);
  await dashboard.goto(`/calls/${bobs}`);
  await expect(dashboard.emptyState).toContainText(`No call with id ${bobs}`);
  await expect(page.getByText('Bob has this one')).toHaveCount(0);
});

test('a company account with no monitor group is refused with a clear page', async ({ page }) => {
  await page.goto('/');
  await signInWithCompany(page, 'nora');
  await expect(page).toHaveURL(/\/signin\?error=sso-no-role$/);
  await expect(page.getByTestId('sign-in-message')).toHaveText(
    'Your company account has no role in TravoIQ Monitor. Ask your administrator to add you to a monitor group.',
  );
  await page.goto('/');
  await expect(page).toHaveURL(/\/signin\?next=/);
});
