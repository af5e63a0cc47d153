import { test, expect, DEMO_PASSWORD, signIn } from './fixtures';

// The sign-in page as people meet it every day (issue 17): it keeps where
// they were going even before (or without) the page's script, keeps the
// name typed after a refusal, and sends on someone already signed in.
test.use({ signInAs: null });

test('signing in with scripts off still returns to the call asked for', async ({ browser, writer, baseURL }) => {
  const id = await writer.createCall('+14155550142');
  await writer.say(id, 'Customer', 0, 'Hello without scripts');
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  await page.goto(`/calls/${id}`);
  await expect(page).toHaveURL(new RegExp(`/signin\\?next=/calls/${id}$`));
  await expect(page.locator('input[name="next"]')).toHaveValue(`/calls/${id}`);
  await page.getByTestId('username').fill('supervisor');
  await page.getByTestId('password').fill(DEMO_PASSWORD);
  await page.getByTestId('sign-in').click();
  await expect(page).toHaveURL(new RegExp(`/calls/${id}$`));
  // Signed in: the call's page, not the form again.
  await expect(page.getByTestId('sign-in-form')).toHaveCount(0);
  await context.close();
});

test('a refused sign-in keeps the name typed and puts the cursor in the password', async ({ page }) => {
  await page.goto('/signin');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('username')).toBeFocused();
  await expect(page.getByTestId('demo-hint')).toContainText('with the password set in TRAVOIQ_DEMO_PASSWORD');
  await page.getByTestId('username').fill('supervisor');
  await page.getByTestId('password').fill('not-the-password');
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('sign-in-message')).toHaveText('Wrong username or password.');
  await expect(page.getByTestId('username')).toHaveValue('supervisor');
  await expect(page.getByTestId('password')).toBeFocused();
  await expect(page.getByTestId('password')).toHaveValue('');
});

test('someone already signed in who opens the sign-in page is sent on', async ({ page, writer, baseURL }) => {
  const id = await writer.createCall('+14155550143');
  await signIn(page, 'supervisor');
  await page.goto(`/signin?next=/calls/${id}`);
  await expect(page).toHaveURL(new RegExp(`/calls/${id}$`));
  // Never off the site.
  await page.goto('/signin?next=https://evil.example.com/');
  await expect(page).not.toHaveURL(/\/signin/);
  expect(new URL(page.url()).origin).toBe(new URL(baseURL!).origin);
});
