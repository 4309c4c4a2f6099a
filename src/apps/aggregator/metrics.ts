/**
 * The aggregator's metrics, beside its guest's own counters: the guest counts each reading it judges
 * with `metric_add("readings_<outcome>")` (guests/aggregator), and the node shows them together as
 * `edgeagg.readings{module, version, outcome[, code]}` (Prometheus `edgeagg_readings_total`;
 * docs/observability.md), with the readings of each committed write in `edgeagg.ingest.batch.size`.
 */
import type { Attributes } from '@opentelemetry/api';
import type { GuestCounterMapper } from '../../telemetry/index.js';

const PREFIX = 'readings_';
const REJECTED = 'readings_rejected_';

/** `readings_accepted` -> outcome accepted; `readings_rejected_<code>` -> outcome rejected, code. */
function readingsAttributes(counter: string): Attributes | undefined {
  if (!counter.startsWith(PREFIX)) return undefined;
  if (counter === 'readings_accepted') return { outcome: 'accepted' };
  if (counter === 'readings_duplicate') return { outcome: 'duplicate' };
  if (counter.startsWith(REJECTED)) return { outcome: 'rejected', code: counter.slice(REJECTED.length) };
  return { outcome: counter.slice(PREFIX.length) };
}

/** Pass to `Telemetry` (`guestCounters`) in the node that runs the aggregator. */
export const aggregatorCounterMapper: GuestCounterMapper = {
  instrument: {
    name: 'edgeagg.readings',
    description: 'Readings the aggregator judged, by outcome (accepted, duplicate, rejected) and, for rejected ones, by error code.',
    unit: '{reading}',
  },
  attributes: readingsAttributes,
  batchSize: true,
};
