/**
 * Revoked tokens, as the verifier sees them: a copy in memory of what the store holds, reloaded at most
 * once per `refreshMs`, so a revocation written by `edgeagg token revoke` (another process, same database)
 * takes effect within that time without a database read per request.
 */

/** One revocation: a token by its id (`jti`), or every token of a subject issued up to `revokedAtMs`. */
export interface Revocation {
  kind: 'token' | 'subject';
  value: string;
  /** When it was revoked, milliseconds since the epoch. */
  revokedAtMs: number;
}

/** What a revocation is checked against. */
export interface RevocableToken {
  tokenId?: string;
  subject: string;
  /** `iat` in milliseconds; undefined when the token has none. */
  issuedAt?: number;
}

export interface RevocationListOptions {
  /** Reads every revocation (the store's `tokenRevocations`). */
  load: () => readonly Revocation[];
  /** How long a loaded copy is used before it is read again, in ms. @default 1000 */
  refreshMs?: number;
  /** Told when a reload fails; the last copy stays in use. @default ignore */
  onError?: (error: unknown) => void;
  /** @default Date.now */
  now?: () => number;
}

export class RevocationList {
  private tokens = new Set<string>();
  private subjects = new Map<string, number>();
  private loadedAt = -Infinity;
  private readonly refreshMs: number;
  private readonly now: () => number;

  constructor(private readonly options: RevocationListOptions) {
    this.refreshMs = options.refreshMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  isRevoked(token: RevocableToken): boolean {
    this.refresh();
    if (token.tokenId !== undefined && this.tokens.has(token.tokenId)) return true;
    const subjectRevokedAt = this.subjects.get(token.subject);
    // A token without `iat` cannot show it was issued after the revocation.
    return subjectRevokedAt !== undefined && (token.issuedAt === undefined || token.issuedAt <= subjectRevokedAt);
  }

  /** Reads the revocations again now (after a revocation made by this process). */
  reload(): void {
    this.loadedAt = -Infinity;
    this.refresh();
  }

  private refresh(): void {
    const now = this.now();
    if (now - this.loadedAt < this.refreshMs) return;
    this.loadedAt = now;
    let rows: readonly Revocation[];
    try {
      rows = this.options.load();
    } catch (error) {
      // A failing store must not take authentication down with it: keep the last known revocations.
      this.options.onError?.(error);
      return;
    }
    const tokens = new Set<string>();
    const subjects = new Map<string, number>();
    for (const r of rows) {
      if (r.kind === 'token') tokens.add(r.value);
      else subjects.set(r.value, Math.max(r.revokedAtMs, subjects.get(r.value) ?? -Infinity));
    }
    this.tokens = tokens;
    this.subjects = subjects;
  }
}
