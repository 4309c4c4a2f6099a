/**
 * `edgeagg deploy`, `deployments`, `promote` and `rollback`: the admin API of deployments from the command
 * line (docs/api.md, "Deployments"), like `wrangler deploy` and `wrangler rollback`. Every one needs an
 * admin token (`--token` or EDGEAGG_TOKEN).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { integerArg } from './args.js';

interface Common {
  url: string;
  token?: string;
  json?: boolean;
}

interface DeployOptions extends Common {
  canary?: number;
  stages?: string;
  grant: string[];
  config: string[];
  state?: string;
  allowDowngrade?: boolean;
  fleet?: boolean;
  wait?: boolean;
}

export function registerDeploy(program: Command): void {
  const common = (c: Command): Command =>
    c
      .option('--url <url>', 'the node', 'http://127.0.0.1:8787')
      .option('--token <token>', 'an admin token (env EDGEAGG_TOKEN)')
      .option('--json', 'print the answer as JSON');
  common(
    program
      .command('deploy')
      .description('deploy a signed module to a running node, without a restart: it builds its state, then serves')
      .argument('<module>', 'the .wasm file (its signature file MODULE.sig.json beside it)')
      .option('--canary <percent>', 'serve this share of devices once built (sticky per device); absent: all traffic', integerArg(1, 100))
      .option('--stages <percents>', 'staged promotion after healthy intervals, e.g. 5,25,100')
      .option('--grant <capability...>', 'capabilities granted to the app (a new app gets none unless granted)', [])
      .option('--config <key=value...>', 'config values the guest reads', [])
      .option('--state <mode>', 'rebuild: fold the event log; carry: copy the stable version\'s state')
      .option('--allow-downgrade', 'accept a release counter below the highest the node accepted (logged and counted)')
      .option('--fleet', 'publish to the fleet over NATS instead: every node (this one too) verifies and deploys it')
      .option('--wait', 'wait until the new version serves (or is rolled back) on this node'),
  ).action(async (modulePath: string, options: DeployOptions) => {
    const sigPath = `${modulePath}.sig.json`;
    if (!existsSync(sigPath)) throw new Error(`no signature file at ${sigPath}: sign the module first (edgeagg sign or edgeagg build)`);
    const body = {
      module_base64: readFileSync(modulePath).toString('base64'),
      signature: JSON.parse(readFileSync(sigPath, 'utf8')) as unknown,
      canary_percent: options.canary,
      stages_percent: options.stages?.split(',').map((s) => Number(s.trim())),
      grants: options.grant.length > 0 ? options.grant : undefined,
      config: options.config.length > 0 ? Object.fromEntries(options.config.map(keyValue)) : undefined,
      state: options.state,
      allow_downgrade: options.allowDowngrade === true ? true : undefined,
      fleet: options.fleet === true ? true : undefined,
    };
    const answer = (await call(options, 'POST', '/v1/deployments', body)) as { app: string; version: string; revision?: number };
    const what = options.fleet ? `published ${answer.app}@${answer.version} to the fleet (revision ${answer.revision}): every node verifies and deploys it` : `deploying ${answer.app}@${answer.version}: building its state`;
    if (!options.wait) return show(options, answer, `${what} (edgeagg deployments to follow)`);
    const done = await waitForBuild(options, answer.app, answer.version);
    show(options, done, done.serving ? `${answer.app}@${answer.version} serves (${done.how})` : `${answer.app}@${answer.version} did not serve: ${done.how}`);
    if (!done.serving) process.exitCode = 1;
  });
  common(program.command('deployments').description("list a node's apps: versions, traffic shares, builds, health and history")).action(async (options: Common) => {
    const list = (await call(options, 'GET', '/v1/deployments')) as { apps: AppView[] };
    show(options, list, list.apps.map(formatApp).join('\n\n'));
  });
  common(
    program
      .command('promote')
      .description("raise an app's canary share, or (without --percent) make the canary the stable version")
      .argument('<app>')
      .option('--percent <n>', 'the new share of devices', integerArg(1, 100)),
  ).action(async (app: string, options: Common & { percent?: number }) => {
    const record = await call(options, 'POST', `/v1/deployments/${encodeURIComponent(app)}/promote`, { percent: options.percent });
    show(options, record, options.percent === undefined || options.percent === 100 ? `${app}: the canary is now the stable version` : `${app}: the canary serves ${options.percent}% of devices`);
  });
  common(
    program
      .command('rollback')
      .description("take an app's canary (or build) out of service, or switch back to a version the node holds")
      .argument('<app>')
      .option('--to <version>', 'a version in the registry to make stable again')
      .option('--reason <text>', 'why (kept in the history)'),
  ).action(async (app: string, options: Common & { to?: string; reason?: string }) => {
    const record = await call(options, 'POST', `/v1/deployments/${encodeURIComponent(app)}/rollback`, { version: options.to, reason: options.reason });
    show(options, record, options.to ? `${app}: rolling back to ${options.to} (building its state)` : `${app}: all traffic to the stable version`);
  });
}

interface AppView {
  app: string;
  stable: { version: string; traffic_percent: number } | null;
  canary: { version: string; traffic_percent: number; health: { calls: number; errors: number } | null } | null;
  building: { version: string; mode: string; progress: { phase: string; done: number; total: number } | null } | null;
  rolled_back: { version: string; reason: string } | null;
  history: Array<{ at_ms: number; actor: string; action: string; version: string; detail: string }>;
}

function formatApp(a: AppView): string {
  const lines = [`${a.app}`, `  stable    ${a.stable ? `${a.stable.version} (${a.stable.traffic_percent}%)` : '-'}`];
  if (a.canary) lines.push(`  canary    ${a.canary.version} (${a.canary.traffic_percent}%, ${a.canary.health?.errors ?? 0} errors in ${a.canary.health?.calls ?? 0} calls)`);
  if (a.building) lines.push(`  building  ${a.building.version} (${a.building.mode}, ${a.building.progress ? `${a.building.progress.phase} ${a.building.progress.done}/${a.building.progress.total}` : 'starting'})`);
  if (a.rolled_back) lines.push(`  rolled back ${a.rolled_back.version}: ${a.rolled_back.reason}`);
  for (const h of a.history.slice(0, 5)) lines.push(`  ${new Date(h.at_ms).toISOString()}  ${h.action} ${h.version} by ${h.actor}: ${h.detail}`);
  return lines.join('\n');
}

/** Polls the deployments until the version serves or is rolled back (bounded: 10 minutes). */
async function waitForBuild(options: Common, app: string, version: string): Promise<{ serving: boolean; how: string }> {
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const { apps } = (await call(options, 'GET', '/v1/deployments')) as { apps: AppView[] };
    const a = apps.find((x) => x.app === app);
    if (a?.stable?.version === version) return { serving: true, how: 'stable' };
    if (a?.canary?.version === version) return { serving: true, how: `canary ${a.canary.traffic_percent}%` };
    if (a?.rolled_back?.version === version && !a.building) return { serving: false, how: a.rolled_back.reason };
    await new Promise((r) => setTimeout(r, 250));
  }
  return { serving: false, how: 'still building after 10 minutes' };
}

async function call(options: Common, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = options.token ?? process.env.EDGEAGG_TOKEN;
  const res = await fetch(`${options.url.replace(/\/+$/, '')}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as { error?: { code: string; message: string } }) : {};
  if (!res.ok) throw new Error(`${res.status} ${parsed.error?.code ?? ''}: ${parsed.error?.message ?? text}`);
  return parsed;
}

function show(options: Common, data: unknown, text: string): void {
  process.stdout.write(options.json ? `${JSON.stringify(data, null, 2)}\n` : `${text}\n`);
}

function keyValue(pair: string): [string, string] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`--config takes key=value, not ${pair}`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}
