/**
 * The write path: requests committed in groups through the guest, their events folded into the aggregates,
 * possibly later (a fold journal keeps what waits durable).
 */
export { IngestPipeline, MAX_UNFOLDED, type EventsResult } from './ingest-pipeline.js';
export type { FoldJournal, TransactionalStore, IngestPipelineOptions, PipelineObserver, DurableGroup, GroupEvent } from './pipeline-options.js';
export type { GroupReport } from './group-commit.js';
