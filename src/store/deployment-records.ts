/**
 * What src/deploy keeps in SQLite: each app's deployment record (one JSON document per app, replaced
 * whole), the module versions of the registry (the bytes are files named by their sha256), and the history
 * of deploys, promotions and rollbacks. Tables `deployment`, `module_version`, `deployment_history`.
 */
import type { Connection } from './connection.js';

/** A module version the registry holds. */
export interface ModuleVersionRow {
  app: string;
  version: string;
  sha256: string;
  release: number;
  keyId: string;
  /** The signed manifest, as JSON. */
  manifest: string;
  addedAtMs: number;
}

/** One line of an app's history. */
export interface DeploymentHistoryRow {
  seq: number;
  app: string;
  atMs: number;
  /** Who did it: a token subject, or `node` for what the node decided itself (an automatic rollback). */
  actor: string;
  /** e.g. `deploy`, `promote`, `rollback`, `downgrade`, `ready`. */
  action: string;
  version: string;
  /** Why, or what changed (a reason, a share). */
  detail: string;
}

export class DeploymentRecords {
  private readonly sql;

  constructor(private readonly conn: Connection) {
    const { db } = conn;
    this.sql = {
      record: db.prepare<[app: string], string>('SELECT record FROM deployment WHERE app = ?').pluck(),
      records: db.prepare<[], { app: string; record: string }>('SELECT app, record FROM deployment ORDER BY app'),
      putRecord: db.prepare<[app: string, record: string]>(
        'INSERT INTO deployment (app, record) VALUES (?, ?) ON CONFLICT (app) DO UPDATE SET record = excluded.record',
      ),
      version: db.prepare<[app: string, version: string], ModuleVersionRow>(
        'SELECT app, version, sha256, release, key_id AS keyId, manifest, added_at_ms AS addedAtMs FROM module_version WHERE app = ? AND version = ?',
      ),
      versions: db.prepare<[], ModuleVersionRow>(
        'SELECT app, version, sha256, release, key_id AS keyId, manifest, added_at_ms AS addedAtMs FROM module_version ORDER BY app, added_at_ms',
      ),
      putVersion: db.prepare<[string, string, string, number, string, string, number]>(
        `INSERT INTO module_version (app, version, sha256, release, key_id, manifest, added_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (app, version) DO NOTHING`,
      ),
      addHistory: db.prepare<[app: string, atMs: number, actor: string, action: string, version: string, detail: string]>(
        'INSERT INTO deployment_history (app, at_ms, actor, action, version, detail) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      history: db.prepare<[app: string, limit: number], DeploymentHistoryRow>(
        'SELECT seq, app, at_ms AS atMs, actor, action, version, detail FROM deployment_history WHERE app = ? ORDER BY seq DESC LIMIT ?',
      ),
    };
  }

  /** The app's record (JSON), or undefined. */
  record(app: string): string | undefined {
    return this.conn.guard(() => this.sql.record.get(app));
  }

  records(): Array<{ app: string; record: string }> {
    return this.conn.guard(() => this.sql.records.all());
  }

  /** Replaces the app's record, in the current transaction if there is one. */
  putRecord(app: string, record: string): void {
    this.conn.guard(() => this.conn.write(() => this.sql.putRecord.run(app, record)));
  }

  version(app: string, version: string): ModuleVersionRow | undefined {
    return this.conn.guard(() => this.sql.version.get(app, version));
  }

  versions(): ModuleVersionRow[] {
    return this.conn.guard(() => this.sql.versions.all());
  }

  /** Adds a module version (a version already there is kept as it is). */
  putVersion(row: ModuleVersionRow): void {
    this.conn.guard(() =>
      this.conn.write(() => this.sql.putVersion.run(row.app, row.version, row.sha256, row.release, row.keyId, row.manifest, row.addedAtMs)),
    );
  }

  addHistory(row: Omit<DeploymentHistoryRow, 'seq'>): void {
    this.conn.guard(() => this.conn.write(() => this.sql.addHistory.run(row.app, row.atMs, row.actor, row.action, row.version, row.detail)));
  }

  /** The app's latest history lines, newest first. */
  history(app: string, limit = 100): DeploymentHistoryRow[] {
    return this.conn.guard(() => this.sql.history.all(app, limit));
  }
}
