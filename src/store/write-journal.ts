/**
 * The write journal: acknowledged commit groups appended to a small preallocated file with direct,
 * synchronous writes of whole 512-byte sectors. A group of a few readings then costs the flash one sector,
 * where a SQLite commit rewrites every page it touched into the WAL (4 KiB or more per commit, whatever
 * the size of the change: issue 17). The database takes the journaled groups in one large commit every
 * few seconds (Connection.commitHeld, src/node/journaled-durability.ts); at start, the groups after the
 * database's mark are applied again (./journal-replay.ts).
 *
 * Two files, `<db>.journal-0` and `-1`, each preallocated to `fileBytes` and reused forever (no file grows,
 * so no write changes the file system's metadata). Records are appended to the active file, each starting
 * on a sector boundary, so a write never covers a sector that holds an acknowledged record and a write torn
 * by a power cut can only damage the record being written:
 *
 *   magic u32 | lsn u64 | body length u32 | crc32 u32 (of lsn, length and body) | reserved u32 | body
 *
 * When the database commits the groups (marking the last lsn it holds), the writer moves to the other
 * file, and the first one is free again once that commit is synced. Reading finds every valid record in
 * both files; those above the database's mark, consecutive from it, are the ones still to apply (older
 * records left in a reused file have lower numbers).
 *
 * Writes go one at a time, in order (records that arrive meanwhile share the next write), so a record is
 * on disk only after every record before it: after a crash, the records found form one unbroken run.
 * Where the file system refuses direct I/O (tmpfs), the files are written through the page cache with
 * O_DSYNC: as safe, but each write then costs a whole 4 KiB page.
 */
import { closeSync, constants, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, rmSync, statSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';

export const SECTOR = 512;
const MAGIC = 0x45414a31; // "EAJ1"
const HEADER = 24;
/** A group whose record would be larger is committed to the database directly (large groups are cheap there). */
export const MAX_RECORD_BYTES = 256 * 1024;
/** Records that wait for a write are written together, up to this many bytes at a time. */
const MAX_WRITE_BYTES = 1024 * 1024;

export interface JournalRecord {
  lsn: number;
  body: Uint8Array;
}

export interface WriteJournalOptions {
  /** Size of each of the two files. @default 2 MiB */
  fileBytes?: number;
  /** Try direct I/O (O_DIRECT); false: always through the page cache. @default true */
  direct?: boolean;
}

interface JournalFile {
  path: string;
  fd: number;
  /** Where the next write goes. */
  offset: number;
  /** Bytes of records handed to this file and not yet written (they go at `offset`). */
  queued: number;
}

interface Queued {
  bytes: Uint8Array;
  lsn: number;
  file: JournalFile;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function journalPaths(dbPath: string): [string, string] {
  return [`${dbPath.replace(/\.db$/, '')}.journal-0`, `${dbPath.replace(/\.db$/, '')}.journal-1`];
}

export class WriteJournal {
  private active = 0;
  private nextLsn = 1;
  private readonly queue: Queued[] = [];
  private writing: Promise<void> | undefined;
  /** The first write error: the journal takes no more records after it. */
  private failure: unknown;
  private closed = false;

  private constructor(
    private readonly dbPath: string,
    private readonly files: [JournalFile, JournalFile],
    readonly fileBytes: number,
    /** Whether the files are written with direct I/O (sector-sized writes reach the disk as they are). */
    readonly direct: boolean,
    /** A sector-aligned buffer that writes are staged in (direct I/O needs aligned memory). */
    private readonly staging: Uint8Array,
  ) {}

  /** Opens (creating and preallocating) the two files of the database at `dbPath`. */
  static open(dbPath: string, options: WriteJournalOptions = {}): WriteJournal {
    const fileBytes = Math.max(64 * 1024, Math.ceil((options.fileBytes ?? 2 * 1024 * 1024) / SECTOR) * SECTOR);
    const paths = journalPaths(dbPath);
    try {
      for (const path of paths) preallocate(path, fileBytes);
    } catch (error) {
      // Half-made files would hold nothing: a node with too little space for them runs without a journal.
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') for (const path of paths) rmSync(path, { force: true });
      throw error;
    }
    let direct = options.direct ?? true;
    let fds: number[] = [];
    let staging: Uint8Array | undefined;
    if (direct) {
      try {
        fds = paths.map((p) => openSync(p, constants.O_RDWR | constants.O_DSYNC | constants.O_DIRECT));
        staging = alignedBuffer(fds[0]!, MAX_WRITE_BYTES);
      } catch {
        staging = undefined;
      }
      if (!staging) {
        for (const fd of fds) closeSync(fd);
        direct = false;
      }
    }
    if (!direct) {
      fds = paths.map((p) => openSync(p, constants.O_RDWR | constants.O_DSYNC));
      staging = new Uint8Array(MAX_WRITE_BYTES);
    }
    const files = paths.map((path, i) => ({ path, fd: fds[i]!, offset: 0, queued: 0 })) as [JournalFile, JournalFile];
    return new WriteJournal(dbPath, files, fileBytes, direct, staging!);
  }

  /** The journal of the database at `dbPath` when its files exist (a previous run's), else undefined. */
  static existing(dbPath: string): WriteJournal | undefined {
    const existing = journalPaths(dbPath).filter((p) => existsSync(p));
    return existing.length > 0 ? WriteJournal.open(dbPath, { fileBytes: Math.max(...existing.map((p) => statSync(p).size)) }) : undefined;
  }

  /** Every valid record in both files, in lsn order (stale ones included: the caller keeps those above its mark). */
  readAll(): JournalRecord[] {
    return readJournalRecords(this.dbPath);
  }

  /**
   * Starts appending after `lastLsn` (every record up to it is in the database, synced), from the start of
   * the first file: both files are free.
   */
  begin(lastLsn: number): void {
    this.nextLsn = lastLsn + 1;
    this.active = 0;
    for (const file of this.files) {
      file.offset = 0;
      file.queued = 0;
    }
  }

  /**
   * After a failed write: takes records again, from the start of the first file. Call only once every record
   * appended so far is committed to the database and synced (both files are free then).
   */
  restart(): boolean {
    if (this.closed || this.writing) return false;
    this.failure = undefined;
    this.begin(this.lastLsn);
    return true;
  }

  /** The number of the last record appended (0: none since begin). */
  get lastLsn(): number {
    return this.nextLsn - 1;
  }

  /** Whether records can still be appended (no write has failed, not closed). */
  get usable(): boolean {
    return this.failure === undefined && !this.closed;
  }

  /** Bytes used in the active file, records waiting to be written included. */
  get used(): number {
    const file = this.files[this.active]!;
    return file.offset + file.queued;
  }

  /**
   * Appends a record holding `body` to the active file. Returns its lsn and a promise that resolves once it is
   * on disk, or undefined when it does not fit (the file is full, or the body is too large) or the journal
   * failed: the caller must make the group durable some other way.
   */
  append(body: Uint8Array): { lsn: number; written: Promise<void> } | undefined {
    if (!this.usable) return undefined;
    const size = recordSize(body.length);
    const file = this.files[this.active]!;
    if (size > MAX_RECORD_BYTES || file.offset + file.queued + size > this.fileBytes) return undefined;
    const lsn = this.nextLsn++;
    const bytes = encodeRecord(lsn, body, size);
    file.queued += size;
    const written = new Promise<void>((resolve, reject) => this.queue.push({ bytes, lsn, file, resolve, reject }));
    if (!this.writing) this.writing = this.writeQueued();
    return { lsn, written };
  }

  /**
   * Moves appends to the other file, from its start: call once the database has committed every record
   * appended so far, and only after the commit before this one was synced (the other file is then free).
   */
  rotate(): void {
    if (!this.canRotate) throw new Error('the other journal file still has records to write');
    this.active = 1 - this.active;
    const file = this.files[this.active]!;
    file.offset = 0;
    file.queued = 0;
  }

  /** Whether the other file has no record waiting to be written (see rotate). */
  get canRotate(): boolean {
    return this.files[1 - this.active]!.queued === 0;
  }

  /** Resolves once every record appended so far is on disk (or its write failed). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const file of this.files) closeSync(file.fd);
  }

  /** Writes the queue in order, each file's records as one write, until it is empty. */
  private async writeQueued(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const file = this.queue[0]!.file;
        let length = 0;
        let n = 0;
        while (n < this.queue.length && this.queue[n]!.file === file && length + this.queue[n]!.bytes.length <= this.staging.length) {
          this.staging.set(this.queue[n]!.bytes, length);
          length += this.queue[n]!.bytes.length;
          n++;
        }
        const batch = this.queue.splice(0, n);
        const position = file.offset;
        file.offset += length;
        file.queued -= length;
        try {
          if (this.failure !== undefined || this.closed) throw this.failure ?? new Error('the write journal is closed');
          await writeAll(file.fd, this.staging.subarray(0, length), position);
          for (const q of batch) q.resolve();
        } catch (error) {
          this.failure ??= error;
          for (const q of batch) q.reject(error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}

function recordSize(bodyLength: number): number {
  return Math.ceil((HEADER + bodyLength) / SECTOR) * SECTOR;
}

function encodeRecord(lsn: number, body: Uint8Array, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, Math.floor(lsn / 2 ** 32));
  view.setUint32(8, lsn >>> 0);
  view.setUint32(12, body.length);
  bytes.set(body, HEADER);
  view.setUint32(16, checksum(bytes.subarray(4, 16), body));
  return bytes;
}

function checksum(head: Uint8Array, body: Uint8Array): number {
  return crc32(body, crc32(head));
}

/** Every valid record of the journal of the database at `dbPath`, in lsn order, read without opening it for writing ([] without one). */
export function readJournalRecords(dbPath: string): JournalRecord[] {
  const records: JournalRecord[] = [];
  for (const path of journalPaths(dbPath)) if (existsSync(path)) records.push(...parseRecords(readFileSync(path)));
  return records.sort((a, b) => a.lsn - b.lsn);
}

/** Every valid record in `data`, looked for at each sector boundary. */
export function parseRecords(data: Uint8Array): JournalRecord[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const records: JournalRecord[] = [];
  let offset = 0;
  while (offset + HEADER <= data.length) {
    if (view.getUint32(offset) === MAGIC) {
      const lsn = view.getUint32(offset + 4) * 2 ** 32 + view.getUint32(offset + 8);
      const length = view.getUint32(offset + 12);
      const end = offset + HEADER + length;
      if (end <= data.length) {
        const body = data.subarray(offset + HEADER, end);
        if (checksum(data.subarray(offset + 4, offset + 16), body) === view.getUint32(offset + 16)) {
          records.push({ lsn, body: Uint8Array.from(body) });
          offset += recordSize(length);
          continue;
        }
      }
    }
    offset += SECTOR;
  }
  return records;
}

/** Creates `path` at `bytes` of zeros if it is smaller, synced with its directory (done once: the file is reused). */
function preallocate(path: string, bytes: number): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    const size = fstatSync(fd).size;
    if (size >= bytes) return;
    const zeros = new Uint8Array(Math.min(bytes, MAX_WRITE_BYTES));
    for (let at = size; at < bytes; at += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - at), at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * A buffer of `bytes` whose memory is aligned as direct I/O on `fd` needs, or undefined. JavaScript cannot see
 * addresses, so a direct read is tried at each offset of a larger buffer until one is accepted. The read spans
 * several memory pages: a buffer that is not sector-aligned may pass within one page, and then fail when a
 * page boundary cuts a sector.
 */
function alignedBuffer(fd: number, bytes: number): Uint8Array | undefined {
  const backing = new ArrayBuffer(bytes + 4096);
  const probe = 3 * 4096;
  for (let offset = 0; offset < 4096; offset += 16) {
    try {
      readSync(fd, new Uint8Array(backing, offset, probe), 0, probe, 0);
      return new Uint8Array(backing, offset, bytes);
    } catch {
      // Not aligned (EINVAL): try the next offset.
    }
  }
  return undefined;
}

function writeAll(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    write(fd, bytes, 0, bytes.length, position, (error, written) => {
      if (error) reject(error);
      else if (written !== bytes.length) reject(new Error(`short write to the write journal: ${written} of ${bytes.length} bytes`));
      else resolve();
    });
  });
}
