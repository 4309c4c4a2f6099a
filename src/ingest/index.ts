/**
 * The write path: requests committed in groups through the guest, their events folded into the aggregates,
 * possibly later (a fold journal keeps what waits durable).
 */
export {
  IngestPipeline,
  MAX_UNFOLDED,
  type FoldJournal,
  type TransactionalStore,
  type IngestPipelineOptions,
  type PipelineObserver,
  type EventsResult,
  type DurableGroup,
  type GroupEvent,
} from './ingest-pipeline.js';
export type { GroupReport } from './group-commit.js';
