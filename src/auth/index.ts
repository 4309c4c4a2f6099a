/** Node keys, tokens (JWT with jose) and their revocation: the public face of src/auth. */
export {
  TOKEN_ISSUER,
  TOKEN_AUDIENCE,
  SCOPES,
  DEFAULT_MAX_LIFETIME_S,
  CLOCK_SKEW_S,
  TokenError,
  TokenVerifier,
  issueToken,
  type IssueOptions,
  type Principal,
  type Scope,
  type TokenVerifierOptions,
} from './tokens.js';
export { keyId, loadOrCreateNodeKey, readNodeKey, type NodeKey } from './node-key.js';
export { RevocationList, type Revocation, type RevocableToken, type RevocationListOptions } from './revocation-list.js';
export { decodeTokenId } from './token-id.js';
