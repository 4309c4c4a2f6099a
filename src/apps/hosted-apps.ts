/**
 * The apps deployed beside the aggregator, each under its own prefix `/apps/<name>/…`: the guest sees the
 * path after the prefix (`/apps/hits/kv/a` reaches the `hits` guest as `/kv/a`). Writes (POST, PUT, DELETE)
 * go through the app's write path, durable before the answer; GET reads after its fold. One route set
 * serves every app, so an app deployed while the node runs answers at once.
 */
import { sendError, type Route } from '../http/index.js';
import type { IngestPipeline } from '../ingest/index.js';
import { guestReadHandler, guestWriteHandler, type GuestRoutesOptions, type Handler } from './guest-routes.js';
import type { AppVersions } from './version-routing.js';

const WRITE_SCOPES = ['device', 'gateway', 'admin'] as const;
const READ_SCOPES = ['read', 'admin'] as const;

/** An app as the routes find it (src/deploy's AppHost). */
export interface HostedApp {
  versions: AppVersions;
  pipeline: IngestPipeline;
}

export interface HostedAppsOptions extends Omit<GuestRoutesOptions, 'versions' | 'pipeline' | 'splitter'> {
  /** The app of this name, if it serves (apps with their own routes, like the aggregator, are not found). */
  lookup: (name: string) => HostedApp | undefined;
}

export function hostedAppRoutes(options: HostedAppsOptions): Route[] {
  const handlers = new WeakMap<HostedApp, { write: Handler; read: Handler }>();
  const handlersOf = (app: HostedApp): { write: Handler; read: Handler } => {
    let h = handlers.get(app);
    if (!h) {
      const routeOptions: GuestRoutesOptions = { ...options, versions: app.versions, pipeline: () => app.pipeline };
      h = { write: guestWriteHandler(routeOptions), read: guestReadHandler(routeOptions) };
      handlers.set(app, h);
    }
    return h;
  };
  const dispatch = (kind: 'write' | 'read'): Route['handle'] => async (ctx) => {
    const name = ctx.path.split('/')[2] ?? '';
    const app = options.lookup(name);
    if (!app) {
      sendError(ctx.res, 404, 'unknown_app', `no app ${name} is deployed on this node`);
      return;
    }
    const path = ctx.path.slice(`/apps/${name}`.length) || '/';
    await handlersOf(app)[kind]({ ...ctx, path });
  };
  const template = '/apps/{app}/*';
  return [
    { method: 'GET', template, scopes: READ_SCOPES, handle: dispatch('read') },
    { method: 'POST', template, scopes: WRITE_SCOPES, handle: dispatch('write') },
    { method: 'PUT', template, scopes: WRITE_SCOPES, handle: dispatch('write') },
    { method: 'DELETE', template, scopes: WRITE_SCOPES, handle: dispatch('write') },
  ];
}
