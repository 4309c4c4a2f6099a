import type { Command } from 'commander';
import { issueToken } from '../auth/index.js';
import { startSimulator } from '../simulator/index.js';
import { EdgeNode, SETTINGS, envName, resolveSettings, type SettingName } from '../node/index.js';

/** `edgeagg serve`: runs a node. Every setting is a flag, an EDGEAGG_* variable and a config key. */
export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('run a node: the HTTP API, the aggregator module and the store');
  cmd.option('--config <file>', 'JSON config file whose keys are the setting names below (env EDGEAGG_CONFIG)');
  for (const [name, spec] of Object.entries(SETTINGS)) {
    const help = `${spec.description} (env ${envName(name as SettingName)}, default ${defaultText(spec.default)})`;
    if (spec.kind === 'boolean') {
      // `--auth` / `--no-auth`, as every CLI spells a switch; `--auth false` still works.
      cmd.option(`--${name} [true|false]`, help);
      cmd.option(`--no-${name}`, `turn ${name} off`);
    } else {
      cmd.option(`--${name} <value>`, help);
    }
  }
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags: Partial<Record<SettingName, unknown>> = {};
    for (const name of Object.keys(SETTINGS) as SettingName[]) flags[name] = opts[camel(name)];
    const settings = resolveSettings(flags, process.env, opts.config as string | undefined);
    const node = await EdgeNode.start({ settings });
    // A demo fleet (npm start): a day of history, then live readings, so the dashboard has
    // something to show at once. Its tokens come from the node key, like real sensors'.
    const fleet =
      settings.simulate > 0
        ? startSimulator({
            url: node.url,
            dataDir: settings['data-dir'],
            devices: settings.simulate,
            // Its own device ids: `edgeagg simulate` against this node (seed 1: sim1-...) must not collide with them.
            devicePrefix: 'demo',
            regions: 3,
            rate: settings.simulate,
            batch: 10,
            backfillS: 24 * 3600,
            backfillIntervalS: 300,
            drainTimeoutMs: 2_000,
            check: false,
            onWarning: (message) => node.logger.warn('simulated fleet', { message }),
          })
        : undefined;
    await printBanner(node, settings.simulate);
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      node.logger.info('shutting down', { signal });
      Promise.resolve(fleet?.stop())
        .catch(() => undefined)
        .then(() => node.stop())
        .then(
        () => process.exit(0),
        (error: unknown) => {
          node.logger.error('shutdown failed', { error });
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // A terminal closing (or `kill -HUP`) must not stop a node; nothing is reloaded from it: settings take a
    // restart, and token revocations are read again every second anyway (docs/operations.md).
    process.on('SIGHUP', () => node.logger.info('SIGHUP ignored: restart the node to change its settings'));
  });
}

/** A default as people write it: numbers and words bare, lists comma-separated, nothing as "none". */
function defaultText(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(',');
  if (value === '') return 'none';
  return String(value);
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

async function printBanner(node: EdgeNode, simulated: number): Promise<void> {
  const s = node.settings;
  // A token printed at every start would land in the service's logs again and again: only the first
  // start, which someone is watching, gets one.
  const dashboard = !s.auth
    ? `${node.url}/`
    : node.firstStart
      ? `${node.url}/#token=${await issueToken(node.nodeKey, { scope: 'read', ttlSeconds: 7 * 24 * 3600 })}`
      : `${node.url}/ (it asks for a read token: edgeagg token create --read --data-dir ${s['data-dir']})`;
  const lines = [
    `edge-aggregator node listening on ${node.url}`,
    `  dashboard: ${dashboard}`,
    `  data:      ${s['data-dir']}`,
    `  module:    ${node.module.name}@${node.module.version}`,
    `  auth:      ${s.auth ? 'on' : 'OFF (anyone on the network can write and read)'}`,
  ];
  if (simulated > 0) lines.push(`  simulated: ${simulated} sensors in 3 regions, with a day of history (--simulate 0 turns them off)`);
  if (s.auth && node.firstStart) {
    lines.push(
      '',
      `first start: created this node's token key in ${s['data-dir']}/keys. Ready-to-use tokens (30 days):`,
      `  sensors (gateway, any device): ${await issueToken(node.nodeKey, { scope: 'gateway' })}`,
      `  dashboard and reads (read):    ${await issueToken(node.nodeKey, { scope: 'read' })}`,
    );
  }
  if (s.auth) {
    lines.push('', `create tokens with: edgeagg token create --device ID | --gateway | --read | --admin --data-dir ${s['data-dir']}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  node.firstStartShown();
}
