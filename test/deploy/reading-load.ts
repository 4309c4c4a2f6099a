/**
 * Constant load for the deployment tests: gateway batches and single readings from device tokens, each
 * reading unique, every answer checked. What was acknowledged is kept, so a test can compare the node's
 * aggregates with an oracle node that received exactly those readings.
 */
import type { NodeProcess } from '../helpers/node-process.js';

export interface Reading {
  device_id: string;
  region: string;
  temperature_c: number;
  timestamp: number;
}

export class ReadingLoad {
  /** Every reading the node acknowledged (accepted or duplicate). */
  readonly acknowledged: Reading[] = [];
  /** Requests that did not get a 200 with every item accepted: should stay empty. */
  readonly failures: string[] = [];
  /** The versions that answered (the `x-edgeagg-version` header). */
  readonly servedBy = new Map<string, number>();
  private seq = 0;

  constructor(
    /** The node to send to (a test that restarts it points this at the new process). */
    public node: NodeProcess,
    private readonly gatewayToken: string,
    /** Device tokens by device id (their requests go to the canary when the device is in its share). */
    private readonly deviceTokens: Map<string, string>,
    private readonly base = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000,
  ) {}

  /** One reading, new each time: a device of `deviceCount`, in one of 8 regions, inside the last hour. */
  next(deviceCount = 200): Reading {
    const n = this.seq++;
    const device = n % deviceCount;
    return { device_id: `dev-${device}`, region: `region-${device % 8}`, temperature_c: ((n * 37) % 600) / 10 - 10, timestamp: this.base + Math.floor(n / deviceCount) * 1000 + (n % 997) };
  }

  /** Sends until `signal` aborts, alternating a batch of 25 from the gateway and a single reading per device token. */
  async run(signal: AbortSignal): Promise<void> {
    const devices = [...this.deviceTokens.keys()];
    let turn = 0;
    while (!signal.aborted) {
      if (devices.length > 0 && turn++ % 2 === 1) {
        const device = devices[turn % devices.length]!;
        const r = { ...this.next(), device_id: device };
        await this.post([r], this.deviceTokens.get(device)!, false);
      } else {
        await this.post(Array.from({ length: 25 }, () => this.next()), this.gatewayToken, true);
      }
    }
  }

  async post(readings: Reading[], token: string, batch: boolean): Promise<void> {
    let res: Response;
    try {
      res = await this.node.postReadings(batch ? readings : readings[0], token);
    } catch (error) {
      this.failures.push(`request failed: ${String(error)}`);
      return;
    }
    const text = await res.text();
    const version = res.headers.get('x-edgeagg-version') ?? '(none)';
    this.servedBy.set(version, (this.servedBy.get(version) ?? 0) + 1);
    if (res.status !== 200) {
      this.failures.push(`${res.status} ${text}`);
      return;
    }
    const body = JSON.parse(text) as { results: Array<{ status: string }> };
    body.results.forEach((r, i) => {
      if (r.status === 'accepted' || r.status === 'duplicate') this.acknowledged.push(readings[i]!);
      else this.failures.push(`item ${JSON.stringify(r)}`);
    });
  }
}

/** Every aggregate a reader sees, for byte-for-byte comparison: the region list, each region, its series. */
export async function aggregateViews(node: NodeProcess, token: string, from: number, to: number): Promise<Map<string, string>> {
  const views = new Map<string, string>();
  const list = await node.fetch('/v1/regions?limit=1000', { token });
  const text = await list.text();
  views.set('/v1/regions', `${list.status} ${text}`);
  const regions = (JSON.parse(text) as { regions: Array<{ region: string }> }).regions.map((r) => r.region);
  for (const region of regions) {
    for (const path of [`/v1/regions/${region}`, `/v1/regions/${region}?from=${from}&to=${to}`, `/v1/regions/${region}/series?bucket=1m&from=${from}&to=${to}`, `/v1/regions/${region}/series?bucket=1h&from=${from}&to=${to}`]) {
      const res = await node.fetch(path, { token });
      views.set(path, `${res.status} ${await res.text()}`);
    }
  }
  return views;
}

/** Posts readings in batches of 1000 (an oracle node). */
export async function postAll(node: NodeProcess, token: string, readings: readonly Reading[]): Promise<void> {
  for (let i = 0; i < readings.length; i += 1000) {
    const res = await node.postReadings(readings.slice(i, i + 1000), token);
    if (res.status !== 200) throw new Error(`oracle refused a batch: ${res.status} ${await res.text()}`);
  }
}
