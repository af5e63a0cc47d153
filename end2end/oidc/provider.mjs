// A real OpenID Connect provider for the tests (the certified `oidc-provider`
// package), on loopback. Its accounts stand for a company directory: each has
// groups (mapped to roles by the monitor) and a Connect agent username.
//
//   OIDC_PORT=4010 OIDC_CLIENT_ID=monitor OIDC_CLIENT_SECRET=s \
//   OIDC_REDIRECT_URIS=http://127.0.0.1:3101/signin/oidc/callback \
//   OIDC_POST_LOGOUT_URIS=http://127.0.0.1:3101/signin?signed_out=1 \
//   node end2end/oidc/provider.mjs
//
// Sign-in uses the package's own development pages (a login form that takes
// any listed account name; consent is granted for the one client). Prints
// "oidc provider ready <issuer>" when it listens.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT ?? 4010);
const issuer = `http://127.0.0.1:${port}`;
const list = (name) => (process.env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/** The directory: account id → claims. */
export const ACCOUNTS = {
  sam: { preferred_username: 'sam', email: 'sam@example.com', groups: ['monitor-supervisors', 'staff'] },
  ada: { preferred_username: 'ada', email: 'ada@example.com', groups: ['monitor-admins'] },
  alex: {
    preferred_username: 'alex',
    email: 'alex@example.com',
    groups: ['monitor-agents'],
    connect_username: 'agent',
  },
  // In the directory, but in no group the monitor maps to a role.
  nora: { preferred_username: 'nora', email: 'nora@example.com', groups: ['sales'] },
  // Claims the name of a local account of the monitor.
  clash: { preferred_username: 'supervisor', email: 'clash@example.com', groups: ['monitor-admins'] },
};

const configuration = {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID ?? 'monitor',
      client_secret: process.env.OIDC_CLIENT_SECRET ?? 'monitor-secret',
      redirect_uris: list('OIDC_REDIRECT_URIS'),
      post_logout_redirect_uris: list('OIDC_POST_LOGOUT_URIS'),
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  // Every client must send PKCE, so a monitor that doesn't fails here.
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username'],
    email: ['email'],
    groups: ['groups'],
    connect: ['connect_username'],
  },
  // Put the scopes' claims in the ID token itself (as Cognito, Entra ID and
  // Okta can be set to), not only behind the userinfo endpoint.
  conformIdTokenClaims: false,
  cookies: { keys: ['travoiq-test-provider-only'] },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(_ctx, id) {
    const claims = ACCOUNTS[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
  // No consent screen: the one client is trusted (as a company's own app is).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups connect');
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, err) => console.error('provider error:', err));
provider.listen(port, '127.0.0.1', () => console.log(`oidc provider ready ${issuer}`));
