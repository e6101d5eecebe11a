import { createParser, type EventSourceMessage } from 'eventsource-parser';

// A minimal EventSource for tests: connects with fetch, parses with eventsource-parser, and
// lets the test await messages by predicate.
export interface SseClient {
  readonly status: number;
  readonly messages: EventSourceMessage[];
  next(predicate: (message: EventSourceMessage) => boolean, timeoutMs?: number): Promise<EventSourceMessage>;
  readonly closed: Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const messages: EventSourceMessage[] = [];
  const waiters = new Set<() => void>();
  const parser = createParser({
    onEvent(message) {
      messages.push(message);
      for (const wake of waiters) wake();
    },
  });
  const closed = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted by close()
    }
    for (const wake of waiters) wake();
  })();
  let ended = false;
  void closed.then(() => {
    ended = true;
  });
  return {
    status: response.status,
    messages,
    closed,
    close: () => controller.abort(),
    next(predicate, timeoutMs = 5000) {
      let seen = 0;
      return new Promise((resolve, reject) => {
        const check = () => {
          for (; seen < messages.length; seen++) {
            if (predicate(messages[seen]!)) {
              cleanup();
              return resolve(messages[seen]!);
            }
          }
          if (ended) {
            cleanup();
            reject(new Error('stream ended before the expected message'));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching SSE message within ${timeoutMs} ms; got ${messages.map((m) => m.event).join(',')}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
