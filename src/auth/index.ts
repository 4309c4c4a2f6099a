/** Node keys and tokens (JWT with jose): the public face of src/auth. */
export {
  TOKEN_ISSUER,
  TOKEN_AUDIENCE,
  SCOPES,
  TokenError,
  TokenVerifier,
  issueToken,
  loadOrCreateNodeKey,
  readNodeKey,
  type IssueOptions,
  type NodeKey,
  type Principal,
  type Scope,
} from './tokens.js';
