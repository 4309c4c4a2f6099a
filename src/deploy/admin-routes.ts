/**
 * The admin API of deployments (docs/api.md, "Deployments"): list, deploy, promote, roll back. Admin scope
 * only; every other scope gets 403 from the router. A refused deploy is a 4xx with the loader's code, and
 * changes nothing.
 */
import { BodyTooLargeError, readBody, sendError, sendJson, type RequestContext, type Route } from '../http/index.js';
import { CAPABILITIES, type Capability, type SignatureFile } from '../runtime/index.js';
import { DeployError } from './deploy-errors.js';
import type { DeploymentManager } from './deployment-manager.js';
import type { RolloutRecord } from '../replication/index.js';
import { renderApp, renderDeployments } from './render.js';

const ADMIN = ['admin'] as const;

export interface DeploymentRoutesOptions {
  /** The largest module accepted, in bytes. */
  maxModuleBytes: number;
  /**
   * Publishes a checked module to the fleet (`"fleet": true`); every node, this one too, then verifies and
   * deploys it. Undefined on a node without NATS (then `"fleet": true` is refused). @default none
   */
  publish?: (rollout: RolloutRecord, wasm: Uint8Array, allowDowngrade: boolean) => Promise<{ revision: number }>;
}

export function deploymentRoutes(manager: DeploymentManager, options: DeploymentRoutesOptions): Route[] {
  const { maxModuleBytes } = options;
  // Base64 grows the module by a third; the rest of the request is small.
  const bodyLimit = Math.ceil((maxModuleBytes * 4) / 3) + 256 * 1024;
  return [
    { method: 'GET', template: '/v1/deployments', scopes: ADMIN, handle: (ctx) => sendJson(ctx.res, 200, renderDeployments(manager)) },
    {
      method: 'POST',
      template: '/v1/deployments',
      scopes: ADMIN,
      handle: answering(async (ctx) => {
        const body = await jsonBody(ctx, bodyLimit);
        const module = field(body, 'module_base64', 'string');
        const signature = body.signature;
        if (signature === null || typeof signature !== 'object') throw new DeployError(400, 'invalid_request', 'signature must be the module\'s signature file (an object)');
        const grants = optionalList(body, 'grants');
        for (const g of grants ?? []) {
          if (!(CAPABILITIES as readonly string[]).includes(g)) throw new DeployError(400, 'invalid_request', `unknown capability ${g}; known: ${CAPABILITIES.join(', ')}`);
        }
        const state = body.state;
        if (state !== undefined && state !== 'rebuild' && state !== 'carry') throw new DeployError(400, 'invalid_request', 'state must be rebuild or carry');
        const canary = optionalPercent(body, 'canary_percent');
        const stages = optionalList(body, 'stages_percent')?.map((s) => Number(s) / 100);
        const fleet = body.fleet === true;
        if (fleet && !options.publish) throw new DeployError(409, 'no_fleet', 'this node is not part of a fleet (no --nats): deploy without fleet');
        const wasm = Buffer.from(module, 'base64');
        const answer = await manager.deploy({
          bundle: { wasm, signatureFile: signature },
          canaryShare: canary === undefined || canary >= 1 ? undefined : canary,
          stages,
          grants: grants as Capability[] | undefined,
          config: optionalConfig(body),
          state,
          allowDowngrade: body.allow_downgrade === true,
          actor: ctx.principal.subject,
          dryRun: fleet,
        });
        if (fleet) {
          const manifest = (signature as SignatureFile).manifest;
          const rollout: RolloutRecord = {
            app: manifest.name,
            version: manifest.version,
            sha256: manifest.sha256,
            release: manifest.release ?? 0,
            canary_share: canary === undefined ? 1 : canary,
            signature_file: signature,
            published_by: ctx.principal.subject,
            published_at_ms: Date.now(),
          };
          let published: { revision: number };
          try {
            published = await options.publish!(rollout, wasm, body.allow_downgrade === true);
          } catch (error) {
            const code = (error as { code?: unknown }).code;
            if (code === 'release_rollback') throw new DeployError(409, code, (error as Error).message);
            throw new DeployError(503, code === 'rollout_conflict' ? code : 'fleet_unavailable', `could not publish to the fleet: ${(error as Error).message}`);
          }
          return sendJson(ctx.res, 202, { ...answer, state: 'published', revision: published.revision }, { location: '/v1/deployments' });
        }
        sendJson(ctx.res, 202, answer, { location: '/v1/deployments' });
      }, 'module_too_large'),
    },
    {
      method: 'POST',
      template: '/v1/deployments/{app}/promote',
      scopes: ADMIN,
      handle: answering(async (ctx) => {
        const body = await jsonBody(ctx, 64 * 1024);
        const app = appOf(ctx);
        manager.promote(app, ctx.principal.subject, optionalPercent(body, 'percent'));
        sendJson(ctx.res, 200, renderApp(manager, app));
      }),
    },
    {
      method: 'POST',
      template: '/v1/deployments/{app}/rollback',
      scopes: ADMIN,
      handle: answering(async (ctx) => {
        const body = await jsonBody(ctx, 64 * 1024);
        const version = body.version;
        if (version !== undefined && typeof version !== 'string') throw new DeployError(400, 'invalid_request', 'version must be a string');
        const reason = typeof body.reason === 'string' && body.reason ? body.reason : 'rolled back by the operator';
        const app = appOf(ctx);
        await manager.rollback(app, ctx.principal.subject, reason, version);
        sendJson(ctx.res, 200, renderApp(manager, app));
      }),
    },
  ];
}

/** Answers a refusal with its status and code; `tooLarge` is the code of a body over the route's limit. */
function answering(handle: (ctx: RequestContext) => Promise<void>, tooLarge = 'body_too_large'): (ctx: RequestContext) => Promise<void> {
  return async (ctx) => {
    try {
      await handle(ctx);
    } catch (error) {
      if (error instanceof DeployError) return sendError(ctx.res, error.status, error.code, error.message);
      if (error instanceof BodyTooLargeError) return sendError(ctx.res, 413, tooLarge, error.message);
      throw error;
    }
  };
}

function appOf(ctx: RequestContext): string {
  return decodeURIComponent(ctx.path.split('/')[3] ?? '');
}

async function jsonBody(ctx: RequestContext, limit: number): Promise<Record<string, unknown>> {
  const raw = await readBody(ctx.req, limit);
  if (raw.length === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new DeployError(400, 'invalid_json', 'the body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new DeployError(400, 'invalid_request', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function field(body: Record<string, unknown>, name: string, type: 'string'): string {
  const value = body[name];
  if (typeof value !== type) throw new DeployError(400, 'invalid_request', `${name} is required (a ${type})`);
  return value as string;
}

function optionalList(body: Record<string, unknown>, name: string): string[] | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new DeployError(400, 'invalid_request', `${name} must be a list`);
  return value.map(String);
}

/** A percentage field as a share (0..1]. */
function optionalPercent(body: Record<string, unknown>, name: string): number | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0 && value <= 100)) throw new DeployError(400, 'invalid_share', `${name} must be a number above 0 and at most 100`);
  return value / 100;
}

function optionalConfig(body: Record<string, unknown>): Record<string, string> | undefined {
  const value = body.config;
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new DeployError(400, 'invalid_request', 'config must be an object of strings');
  }
  return value as Record<string, string>;
}
