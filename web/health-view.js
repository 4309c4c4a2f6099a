/* global document */
/** The node panel: readiness, circuit breaker, ingest rates and rejection reasons, the fleet. */
import * as fmt from './format.js';

function health(name) {
  return document.querySelector(`[data-health="${name}"]`);
}

function setHealth(name, text, state) {
  const el = health(name);
  el.textContent = text;
  // One line per value: a long value is cut with an ellipsis and shown whole on hover.
  el.title = el.dataset.hint ? `${text} — ${el.dataset.hint}` : text;
  if (state === undefined) delete el.dataset.state;
  else el.dataset.state = state;
}

export function renderReady(result) {
  if (result.status !== 'fulfilled') {
    setHealth('ready', 'unreachable', 'bad');
    return;
  }
  const ready = result.value.body?.ready === true;
  setHealth('ready', ready ? 'ready' : 'not ready', ready ? 'ok' : 'bad');
}

/** The fleet from GET /v1/fleet: alone, or how many nodes and the worst replication lag. */
export function renderFleet(fleet) {
  if (!fleet || !Array.isArray(fleet.nodes)) {
    setHealth('fleet', 'n/a');
    return;
  }
  if (fleet.replication === 'off') {
    setHealth('fleet', 'alone (no replication)');
    return;
  }
  const lags = fleet.nodes.map((n) => n.replication_lag_ms).filter((l) => typeof l === 'number');
  const worst = lags.length ? Math.max(...lags) : undefined;
  const lag = worst === undefined ? '' : `, lag ≤ ${worst < 1000 ? `${Math.round(worst)} ms` : fmt.duration(worst / 1000)}`;
  setHealth('fleet', `${fleet.nodes.length} nodes${lag}`);
}

/** The serving app's deployment: a build with its progress, a canary and its share, or the last rollback. */
function renderDeploy(deployments, app) {
  const d = Array.isArray(deployments) ? deployments.find((x) => x.app === app) : undefined;
  if (!d) {
    setHealth('deploy', 'n/a');
    return;
  }
  if (d.building) setHealth('deploy', `building ${d.building} · ${d.build_percent ?? 0}%`, 'busy');
  else if (d.canary) setHealth('deploy', `canary ${d.canary} on ${d.canary_percent}% of devices`, 'busy');
  else if (d.rolled_back && Date.now() - d.rolled_back.at_ms < 24 * 3600 * 1000) setHealth('deploy', `rolled back ${d.rolled_back.version}: ${d.rolled_back.reason}`, 'bad');
  else setHealth('deploy', `${d.stable} on all devices`);
}

export function renderNode(node, rates) {
  if (!node) {
    for (const name of ['node', 'circuit', 'module', 'uptime', 'ingest', 'duplicates', 'rejected', 'deploy']) setHealth(name, 'n/a');
    health('reasons').replaceChildren();
    return;
  }
  setHealth('node', node.node_id ?? 'n/a');
  const circuit = node.circuit ?? 'n/a';
  setHealth('circuit', circuit.replace('_', '-'), node.circuit);
  setHealth('module', node.module ? `${node.module.name}@${node.module.version}` : 'n/a');
  setHealth('uptime', fmt.duration(node.uptime_s));
  renderDeploy(node.deployments, node.module?.name);
  if (!rates) {
    for (const name of ['ingest', 'duplicates', 'rejected']) setHealth(name, '…');
    return;
  }
  setHealth('ingest', fmt.rate(rates.accepted));
  setHealth('duplicates', fmt.rate(rates.duplicates));
  setHealth('rejected', fmt.rate(rates.rejectedTotal), rates.rejectedTotal > 0 ? 'bad' : undefined);
  const totals = node.counters?.rejected ?? {};
  const items = Object.keys(totals)
    .sort((a, b) => (rates.rejected[b] ?? 0) - (rates.rejected[a] ?? 0) || a.localeCompare(b))
    .map((code) => {
      const li = document.createElement('li');
      li.dataset.reason = code;
      const b = document.createElement('b');
      b.textContent = code;
      li.append(b, ` ${fmt.rate(rates.rejected[code] ?? 0)} · ${fmt.count(totals[code])} total`);
      return li;
    });
  health('reasons').replaceChildren(...items);
}
