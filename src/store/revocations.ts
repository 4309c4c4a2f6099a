/**
 * Revoked tokens (table `token_revocation`): a token by its id, or every token of a subject issued up to
 * the revocation. Written by `edgeagg token revoke`, read by the node's token verifier (src/auth).
 */
import type { Revocation } from '../auth/index.js';
import type { Connection } from './connection.js';

/** One revocation: src/auth's `Revocation`, the one shape the verifier, the store and the fleet gossip share. */
export type TokenRevocation = Revocation;

export class Revocations {
  private readonly sql;

  constructor(private readonly conn: Connection) {
    const { db } = conn;
    this.sql = {
      // A repeated revocation of a subject moves its time forward: tokens issued in between are revoked too.
      upsert: db.prepare<[kind: string, value: string, revokedAtMs: number]>(
        `INSERT INTO token_revocation (kind, value, revoked_at_ms) VALUES (?, ?, ?)
         ON CONFLICT (kind, value) DO UPDATE SET revoked_at_ms = max(revoked_at_ms, excluded.revoked_at_ms)`,
      ),
      all: db.prepare<[], TokenRevocation>('SELECT kind, value, revoked_at_ms AS revokedAtMs FROM token_revocation'),
    };
  }

  add(revocation: TokenRevocation): void {
    this.conn.guard(() => this.conn.write(() => this.sql.upsert.run(revocation.kind, revocation.value, revocation.revokedAtMs)));
  }

  all(): TokenRevocation[] {
    return this.conn.guard(() => this.sql.all.all());
  }
}
