/**
 * What is read, not pushed: the circuit breaker, the load shedder and the fold keep their own state,
 * and these instruments read it at each collection (a Prometheus scrape, an OTLP export). Nothing is
 * recorded on the request path. Replication's are in ./replication.ts.
 */
import type { Meter } from '@opentelemetry/api';
import { statfsSync } from 'node:fs';

const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;

/** The circuit breaker's state: 1 for the current state, 0 for the others. */
export function observeBreaker(meter: Meter, breaker: { readonly state: string }): void {
  meter
    .createObservableGauge('edgeagg.circuit_breaker.state', { description: "The store's circuit breaker: 1 for its current state (closed, open, half_open), 0 for the others." })
    .addCallback((r) => {
      for (const state of BREAKER_STATES) r.observe(breaker.state === state ? 1 : 0, { state });
    });
}

/** Requests shed (503 overloaded) and API requests in flight. */
export function observeShedder(meter: Meter, shedder: { readonly shed: number; readonly inFlight: number }): void {
  meter.createObservableCounter('edgeagg.requests.shed', { description: 'Requests refused with 503 overloaded because --max-in-flight were in flight.', unit: '{request}' }).addCallback((r) => r.observe(shedder.shed));
  meter.createObservableUpDownCounter('edgeagg.requests.in_flight', { description: 'API requests being handled.', unit: '{request}' }).addCallback((r) => r.observe(shedder.inFlight));
}

/** The fold's backlog (src/ingest/ingest-pipeline.ts). */
export function observeFold(meter: Meter, fold: { readonly waiting: number; readonly quarantined: number }): void {
  meter.createObservableGauge('edgeagg.fold.waiting', { description: 'Stored events whose fold into the aggregates waits (--fold-delay-ms); reads fold them first.', unit: '{event}' }).addCallback((r) => r.observe(fold.waiting));
  meter.createObservableGauge('edgeagg.fold.quarantined', { description: 'Stored events the module could not fold, kept in the fold journal until the next start.', unit: '{event}' }).addCallback((r) => r.observe(fold.quarantined));
}

/** The database file: its size and the part of it that is free pages (reclaimable). */
export function observeDatabase(meter: Meter, db: { sizeBytes(): number; freeBytes(): number }): void {
  meter.createObservableGauge('edgeagg.db.size', { description: 'Size of the database file (pages in use and free pages).', unit: 'By' }).addCallback((r) => r.observe(db.sizeBytes()));
  meter.createObservableGauge('edgeagg.db.free', { description: 'Free pages in the database file, reusable without growing it.', unit: 'By' }).addCallback((r) => r.observe(db.freeBytes()));
}

/** How commit groups are made durable: see src/node/group-durability.ts. */
export interface WriteJournalStatus {
  /** `direct` or `page_cache`: groups are journaled (with or without direct I/O); `paused`: each is committed and synced for now (no room, or the journal failed); `off`: no journal. */
  state: (typeof JOURNAL_STATES)[number];
  /** Acknowledged events held for the database's next commit. */
  held: number;
}

const JOURNAL_STATES = ['direct', 'page_cache', 'paused', 'off'] as const;

/** The write journal: 1 for its current state, and the events it holds for the database's next commit. */
export function observeWriteJournal(meter: Meter, status: () => WriteJournalStatus): void {
  meter
    .createObservableGauge('edgeagg.write_journal.state', { description: 'How commit groups are made durable: 1 for the current way (direct, page_cache: journaled; paused: committed one by one for now; off), 0 for the others.' })
    .addCallback((r) => {
      const { state } = status();
      for (const s of JOURNAL_STATES) r.observe(state === s ? 1 : 0, { state: s });
    });
  meter
    .createObservableGauge('edgeagg.write_journal.held', { description: 'Acknowledged events in the write journal that the database has not committed yet.', unit: '{event}' })
    .addCallback((r) => r.observe(status().held));
}

const BUDGET_STATES = ['ok', 'near', 'full'] as const;

/** The database budget (`max-db-size`): its size, and 1 for its current state (ok, near, full); nothing without one. */
export function observeDiskBudget(meter: Meter, budget: () => { state: string; maxBytes: number }): void {
  meter.createObservableGauge('edgeagg.db.budget', { description: 'The database budget (max-db-size); 0: none.', unit: 'By' }).addCallback((r) => r.observe(budget().maxBytes));
  meter
    .createObservableGauge('edgeagg.db.budget.state', { description: 'The database budget: 1 for its current state (ok, near: pruning at once, full: writes refused with disk_full), 0 for the others.' })
    .addCallback((r) => {
      const { state } = budget();
      if (state !== 'none') for (const s of BUDGET_STATES) r.observe(state === s ? 1 : 0, { state: s });
    });
}

/** The filesystem of the data directory: its size and what is free (to unprivileged users). */
export function observeDisk(meter: Meter, path: string): void {
  const stat = () => {
    try {
      const s = statfsSync(path);
      return { size: s.blocks * s.bsize, free: s.bavail * s.bsize };
    } catch {
      return undefined; // The directory went away: no sample rather than a wrong one.
    }
  };
  meter.createObservableGauge('edgeagg.disk.size', { description: "Size of the data directory's filesystem.", unit: 'By' }).addCallback((r) => {
    const s = stat();
    if (s) r.observe(s.size);
  });
  meter.createObservableGauge('edgeagg.disk.free', { description: "Free space on the data directory's filesystem.", unit: 'By' }).addCallback((r) => {
    const s = stat();
    if (s) r.observe(s.free);
  });
}
