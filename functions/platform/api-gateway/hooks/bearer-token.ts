/**
 * Auth hook `bearer-token`: one shared secret for a route (operator endpoints, a machine caller), read
 * from an environment variable that a Secret fills on the cluster — never from the route table.
 *
 *   auth: {hook: bearer-token, config: {tokenEnv: GATEWAY_OPS_TOKEN, principal: ops}}
 *
 * `Authorization: Bearer <token>` → principal `config.principal` (default `bearer`); missing or wrong →
 * 401 with a Bearer challenge. Compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type AuthHookDefinition, HOOK_KIND, HookConfigError } from '../hook.ts';

const MIN_TOKEN_LENGTH = 16;
const CHALLENGE = 'Bearer realm="sluice"';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export const bearerToken: AuthHookDefinition = {
  kind: HOOK_KIND.auth,
  name: 'bearer-token',
  create(config, { env }) {
    const { tokenEnv, principal = 'bearer', ...rest } = config;
    if (Object.keys(rest).length > 0)
      throw new HookConfigError(`unknown config ${Object.keys(rest).join(', ')}`);
    if (typeof tokenEnv !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(tokenEnv))
      throw new HookConfigError('config.tokenEnv must name an environment variable (UPPER_CASE)');
    if (typeof principal !== 'string' || principal === '' || principal.length > 64)
      throw new HookConfigError('config.principal must be a short string');
    const token = env[tokenEnv];
    if (token === undefined || token.length < MIN_TOKEN_LENGTH)
      throw new HookConfigError(`${tokenEnv} must hold a token of at least ${MIN_TOKEN_LENGTH} characters`);
    const expected = digest(token);
    return {
      authenticate({ headers }) {
        const given = headers.authorization;
        if (typeof given !== 'string' || !given.startsWith('Bearer ')) {
          return {
            ok: false,
            status: 401,
            detail: 'send Authorization: Bearer <token>',
            challenge: CHALLENGE,
          };
        }
        // Hashing both sides gives equal lengths, so the comparison is constant-time whatever is sent.
        if (!timingSafeEqual(digest(given.slice('Bearer '.length)), expected)) {
          return {
            ok: false,
            status: 401,
            detail: 'the bearer token is not valid here',
            challenge: CHALLENGE,
          };
        }
        return { ok: true, principal: { id: principal } };
      },
    };
  },
};
