import { connect, type Socket } from 'node:net';

// Thousands of GET /events/:id/stream clients in one process, cheap enough that the load
// generator does not become what is measured. Each client is a raw keep-alive socket; it does
// not parse HTTP chunking or JSON, it only finds where each `delta` frame ends and records that
// instant and the frame's length. A few "reference" clients per scope also keep the frames'
// text, so the seat changes each frame carries are known.
//
// This works because the ticketing service writes every frame with one write (one HTTP
// chunk, so a frame's bytes are contiguous on the wire), and every client of one scope that
// joined before the bookings started receives the same frames in the same order. The lengths
// check that: a client whose frame n differs in length from the reference's frame n is
// counted as out of step and its later frames are not used.

export interface StreamClientStats {
  readonly status: number;
  readonly snapshotAt: number | undefined;
  readonly frameCount: number;
  readonly arrivals: Float64Array;
  readonly lengths: Int32Array;
  readonly bytes: number;
  readonly closedEarly: boolean;
  readonly error: string | undefined;
  readonly frameTexts: readonly string[] | undefined;
}

export interface StreamClient {
  readonly scopeKey: string;
  readonly snapshot: Promise<void>;
  stats(): StreamClientStats;
  close(): void;
}

const deltaMarker = Buffer.from('event: delta\n');
const snapshotMarker = Buffer.from('event: snapshot\n');
const eventPrefix = Buffer.from('event: ');
const frameEnd = Buffer.from('\n\n');
const headerEnd = Buffer.from('\r\n\r\n');
const framesInitial = 256;

type Seeking = { kind: 'seek' };
type InFrame = { kind: 'frame'; type: 'delta' | 'snapshot' | 'other'; length: number; pieces: Buffer[] | undefined };

export function openEventStream(options: {
  host: string;
  port: number;
  path: string;
  scopeKey: string;
  reference: boolean;
  onClosed?: () => void;
}): StreamClient {
  let status = 0;
  let headerBuffer: Buffer | undefined = Buffer.alloc(0);
  let state: Seeking | InFrame = { kind: 'seek' };
  let carry: Buffer | undefined;
  let arrivals = new Float64Array(framesInitial);
  let lengths = new Int32Array(framesInitial);
  let frameCount = 0;
  let bytes = 0;
  let snapshotAt: number | undefined;
  let closing = false;
  let closedEarly = false;
  let error: string | undefined;
  const frameTexts: string[] | undefined = options.reference ? [] : undefined;
  let resolveSnapshot!: () => void;
  let rejectSnapshot!: (error: Error) => void;
  const snapshot = new Promise<void>((resolve, reject) => {
    resolveSnapshot = resolve;
    rejectSnapshot = reject;
  });
  snapshot.catch(() => {});

  const recordFrame = (type: InFrame['type'], length: number, pieces: Buffer[] | undefined, at: number) => {
    if (type === 'snapshot') {
      snapshotAt ??= at;
      resolveSnapshot();
      return;
    }
    if (type !== 'delta') return;
    if (frameCount === arrivals.length) {
      const grownArrivals = new Float64Array(arrivals.length * 2);
      grownArrivals.set(arrivals);
      arrivals = grownArrivals;
      const grownLengths = new Int32Array(lengths.length * 2);
      grownLengths.set(lengths);
      lengths = grownLengths;
    }
    arrivals[frameCount] = at;
    lengths[frameCount] = length;
    frameCount++;
    if (frameTexts && pieces) frameTexts.push(Buffer.concat(pieces).toString('utf8'));
  };

  // Scans the body for frames. Only the few bytes that may hold a marker or terminator split
  // across two reads are carried over; every other byte is looked at once, by indexOf.
  const scan = (input: Buffer, at: number) => {
    let data = carry ? Buffer.concat([carry, input]) : input;
    carry = undefined;
    let position = 0;
    while (position < data.length) {
      if (state.kind === 'seek') {
        const start = data.indexOf(eventPrefix, position);
        if (start === -1) {
          // Keep a tail that could be the beginning of "event: ".
          const tailLength = Math.min(eventPrefix.length - 1, data.length - position);
          carry = Buffer.from(data.subarray(data.length - tailLength));
          return;
        }
        if (data.length - start < snapshotMarker.length) {
          carry = Buffer.from(data.subarray(start));
          return;
        }
        const type = data.compare(deltaMarker, 0, deltaMarker.length, start, start + deltaMarker.length) === 0
          ? 'delta'
          : data.compare(snapshotMarker, 0, snapshotMarker.length, start, start + snapshotMarker.length) === 0 ? 'snapshot' : 'other';
        state = { kind: 'frame', type, length: 0, pieces: frameTexts && type === 'delta' ? [] : undefined };
        data = data.subarray(start);
        position = 0;
        continue;
      }
      const end = data.indexOf(frameEnd, position);
      if (end === -1) {
        // A "\n" at the very end may be the first half of the terminator.
        const keep = data[data.length - 1] === 0x0a ? 1 : 0;
        const piece = data.subarray(position, data.length - keep);
        state.length += piece.length;
        state.pieces?.push(Buffer.from(piece));
        if (keep) carry = Buffer.from('\n');
        return;
      }
      const piece = data.subarray(position, end);
      state.length += piece.length;
      state.pieces?.push(Buffer.from(piece));
      recordFrame(state.type, state.length, state.pieces, at);
      state = { kind: 'seek' };
      position = end + frameEnd.length;
    }
  };

  const socket: Socket = connect({ host: options.host, port: options.port });
  socket.setNoDelay(true);
  socket.on('connect', () => {
    socket.write(`GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nAccept: text/event-stream\r\nConnection: keep-alive\r\n\r\n`);
  });
  socket.on('data', (chunk: Buffer) => {
    const at = performance.timeOrigin + performance.now();
    bytes += chunk.length;
    if (headerBuffer) {
      headerBuffer = Buffer.concat([headerBuffer, chunk]);
      const end = headerBuffer.indexOf(headerEnd);
      if (end === -1) return;
      status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headerBuffer.subarray(0, 16).toString('latin1'))?.[1] ?? 0);
      const rest = headerBuffer.subarray(end + headerEnd.length);
      headerBuffer = undefined;
      if (status !== 200) {
        error = `HTTP ${status}`;
        rejectSnapshot(new Error(`event stream answered ${status}`));
        socket.destroy();
        return;
      }
      if (rest.length > 0) scan(rest, at);
      return;
    }
    scan(chunk, at);
  });
  socket.on('error', (cause: Error) => {
    error ??= (cause as { code?: string }).code ?? cause.message;
    rejectSnapshot(cause);
  });
  socket.on('close', () => {
    if (!closing) closedEarly = true;
    rejectSnapshot(new Error('event stream closed before its snapshot'));
    options.onClosed?.();
  });

  return {
    scopeKey: options.scopeKey,
    snapshot,
    stats: () => ({
      status,
      snapshotAt,
      frameCount,
      arrivals: arrivals.subarray(0, frameCount),
      lengths: lengths.subarray(0, frameCount),
      bytes,
      closedEarly,
      error,
      frameTexts,
    }),
    close() {
      closing = true;
      socket.destroy();
    },
  };
}

// Seat changes of one delta frame's text ("event: delta\ndata: {...}"), as
// "<section>-<subsection>|<row>:<seat>" keys.
export function frameChanges(text: string): string[] {
  const at = text.indexOf('data: ');
  if (at === -1) return [];
  const payload = JSON.parse(text.slice(at + 'data: '.length)) as { subsections: Array<{ section: string; subsection: number; changes?: Array<[number, number, string]> }> };
  const keys: string[] = [];
  for (const sub of payload.subsections) {
    for (const [row, seat] of sub.changes ?? []) keys.push(`${sub.section}-${sub.subsection}|${row}:${seat}`);
  }
  return keys;
}
