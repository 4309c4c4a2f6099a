import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { issueToken, loadOrCreateNodeKey } from '../auth/index.js';
import { integerArg, portArg } from './args.js';

interface ClusterOptions {
  nodes: number;
  basePort: number;
  natsPort: number;
  dir?: string;
  natsServer?: string;
  antiEntropyIntervalMs: number;
  json?: boolean;
}

const INSTALL_HINT = [
  'Install it:',
  '  Debian/Ubuntu:  sudo apt-get install nats-server',
  '  elsewhere:      https://github.com/nats-io/nats-server/releases (one static binary)',
  'or pass its path with --nats-server /path/to/nats-server.',
].join('\n');

/**
 * `edgeagg cluster --nodes 3`: a local fleet for trying replication: a nats-server with JetStream and N nodes
 * on loopback, each in its own data directory, all trusting each other's tokens. Ctrl-C stops everything.
 */
export function registerCluster(program: Command): void {
  program
    .command('cluster')
    .description('start a local fleet: a nats-server with JetStream and N nodes on 127.0.0.1 (Ctrl-C stops all)')
    .option('--nodes <n>', 'number of nodes (1 to 32)', integerArg(1, 32), 3)
    .option('--base-port <port>', 'HTTP port of the first node; the others take the next ones (0: random ports)', portArg, 8787)
    .option('--nats-port <port>', 'client port of the NATS server (0: a random one)', portArg, 4222)
    .option('--dir <dir>', 'keep the fleet\'s data here (kept after exit); default: a temporary directory, removed at exit')
    .option('--nats-server <path>', 'the nats-server binary; default: found on PATH or in /usr/sbin')
    .option('--anti-entropy-interval-ms <ms>', 'time between anti-entropy rounds', integerArg(1), 10_000)
    .option('--json', 'print the fleet (NATS, nodes, tokens) as one line of JSON once it runs')
    .action(async (options: ClusterOptions) => {
      const { nodes: count, basePort, natsPort } = options;
      const natsServer = options.natsServer ?? findOnPath('nats-server');
      if (natsServer === undefined || !existsSync(natsServer)) {
        const where = options.natsServer
          ? `there is no nats-server at ${options.natsServer}.`
          : 'nats-server was not found (looked on PATH and in /usr/sbin, /usr/local/sbin, /usr/local/bin).';
        process.stderr.write(`edgeagg cluster needs a NATS server: ${where}\n${INSTALL_HINT}\n`);
        process.exitCode = 1;
        return;
      }
      await runCluster({ count, basePort, natsPort, natsServer, dir: options.dir, antiEntropyIntervalMs: options.antiEntropyIntervalMs, json: options.json });
    });
}

function findOnPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];
  for (const dir of dirs) if (dir && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

interface Member {
  name: string;
  child: ChildProcess;
  url: string;
}

async function runCluster(options: { count: number; basePort: number; natsPort: number; natsServer: string; dir: string | undefined; antiEntropyIntervalMs: number; json?: boolean }): Promise<void> {
  const temporary = options.dir === undefined;
  const dir = options.dir === undefined ? mkdtempSync(join(tmpdir(), 'edgeagg-cluster-')) : resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const children: ChildProcess[] = [];
  let stopping = false;

  const stopAll = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // Nodes first (they drain and close their stores), then the server.
    const exited = (c: ChildProcess): Promise<void> =>
      c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
    const nodes = children.slice(1);
    for (const c of nodes) c.kill('SIGTERM');
    const killer = setTimeout(() => nodes.forEach((c) => c.kill('SIGKILL')), 10_000);
    await Promise.all(nodes.map(exited));
    clearTimeout(killer);
    const nats = children[0];
    if (nats) {
      nats.kill('SIGTERM');
      await exited(nats);
    }
    if (temporary) rmSync(dir, { recursive: true, force: true });
    process.stdout.write(`stopped${temporary ? '' : `; the fleet's data is kept in ${dir}`}\n`);
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    const nats = spawn(
      options.natsServer,
      ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', options.natsPort === 0 ? '-1' : String(options.natsPort), '-n', 'edgeagg-cluster'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(nats);
    const natsLog = createWriteStream(join(dir, 'nats-server.log'));
    const natsOutput = await waitForLine(nats, /Server is ready/, natsLog, 'nats-server');
    const port = /Listening for client connections on [^:]+:(\d+)/.exec(natsOutput)?.[1];
    const natsUrl = `nats://127.0.0.1:${port ?? options.natsPort}`;

    const names = Array.from({ length: options.count }, (_, i) => `node-${i + 1}`);
    const dirs = names.map((n) => join(dir, n));
    const keys = dirs.map((d) => loadOrCreateNodeKey(d).key);
    // The nodes start as `edgeagg` does (bin/edgeagg.js carries the node's V8 settings).
    const edgeagg = fileURLToPath(new URL('../../../bin/edgeagg.js', import.meta.url));
    const members: Member[] = [];
    for (const [i, name] of names.entries()) {
      const trusted = dirs.filter((_, j) => j !== i).map((d) => join(d, 'keys', 'node-token.pub.pem'));
      const args = [
        'serve',
        '--host', '127.0.0.1',
        '--port', String(options.basePort === 0 ? 0 : options.basePort + i),
        '--data-dir', dirs[i]!,
        '--node-id', name,
        '--nats', natsUrl,
        '--anti-entropy-interval-ms', String(options.antiEntropyIntervalMs),
      ];
      if (trusted.length > 0) args.push('--token-keys', trusted.join(','));
      const child = spawn(edgeagg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const log = createWriteStream(join(dir, `${name}.log`));
      // Warnings and errors of the nodes are shown here too; everything is in the log files.
      child.stderr!.on('data', (d: Buffer) => {
        for (const line of d.toString('utf8').split('\n')) if (/"level":"(warn|error)"/.test(line)) process.stderr.write(`[${name}] ${line}\n`);
      });
      const output = await waitForLine(child, /listening on (http:\/\/\S+)/, log, name);
      members.push({ name, child, url: /listening on (http:\/\/\S+)/.exec(output)![1]! });
    }
    for (const c of children) {
      c.once('exit', (code, signal) => {
        if (stopping) return;
        process.stderr.write(`a process of the fleet exited (${code ?? signal}); stopping the others\n`);
        void stopAll(1);
      });
    }

    const gateway = await issueToken(keys[0]!, { scope: 'gateway' });
    const read = await issueToken(keys[0]!, { scope: 'read' });
    const first = members[0]!.url;
    const last = members[members.length - 1]!.url;
    const width = Math.max(...names.map((n) => n.length));
    if (options.json) {
      const fleet = { dir, temporary, nats: natsUrl, nodes: members.map((m) => ({ name: m.name, url: m.url, log: join(dir, `${m.name}.log`) })), tokens: { gateway, read } };
      process.stdout.write(`${JSON.stringify(fleet)}\n`);
    } else {
      process.stdout.write(
        [
          `edgeagg cluster: ${options.count} node${options.count === 1 ? '' : 's'} and a NATS server with JetStream, data in ${dir}${temporary ? ' (removed at exit)' : ''}`,
          `  ${'nats'.padEnd(width)}  ${natsUrl}`,
          ...members.map((m) => `  ${m.name.padEnd(width)}  ${m.url}   dashboard ${m.url}/   log ${join(dir, `${m.name}.log`)}`),
          '',
          'Tokens (signed by node-1; every node trusts every node\'s key, so they work on all of them):',
          `  GATEWAY=${gateway}`,
          `  READ=${read}`,
          '',
          'Try: post to one node, read from another, see the fleet:',
          `  curl -s -X POST ${first}/v1/readings -H "authorization: Bearer $GATEWAY" -H 'content-type: application/json' \\`,
          `    -d "{\\"device_id\\":\\"sensor-1\\",\\"region\\":\\"eu-west\\",\\"temperature_c\\":21.5,\\"timestamp\\":$(date +%s000)}"`,
          `  curl -s ${last}/v1/regions -H "authorization: Bearer $READ"`,
          `  curl -s ${last}/v1/fleet -H "authorization: Bearer $READ"`,
          '',
          'Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
    }
  } catch (error) {
    process.stderr.write(`edgeagg cluster: ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll(1);
  }
}

/** Copies the child's output to `log` and resolves with it once a line matches `pattern`. */
function waitForLine(child: ChildProcess, pattern: RegExp, log: NodeJS.WritableStream, name: string): Promise<string> {
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s; see its log`)), 20_000);
    const onData = (d: Buffer): void => {
      log.write(d);
      if (output.length < 64 * 1024) output += d.toString('utf8');
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolvePromise(output);
      }
    };
    child.stdout!.on('data', onData);
    // nats-server logs to stderr; a node logs JSON there and prints its address on stdout.
    child.stderr!.on('data', name === 'nats-server' ? onData : (d: Buffer) => log.write(d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) while starting:\n${output.slice(-2000)}`));
    });
  });
}
