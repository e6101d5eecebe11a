// Every open SSE stream of this process, so the connection limit is enforced in one place and
// shutdown can end them all (an open stream otherwise keeps fastify.close() waiting forever:
// fastify/sse#57).
export interface StreamRegistry {
  // Returns a release function, or null when the process is at its limit.
  admit(close: () => void): (() => void) | null;
  readonly open: number;
  closeAll(): void;
}

export function createStreamRegistry(options: { connectionsMax: number; onChange?: (open: number) => void }): StreamRegistry {
  const streams = new Set<() => void>();
  return {
    get open() {
      return streams.size;
    },
    admit(close) {
      if (streams.size >= options.connectionsMax) return null;
      streams.add(close);
      options.onChange?.(streams.size);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        streams.delete(close);
        options.onChange?.(streams.size);
      };
    },
    closeAll() {
      for (const close of [...streams]) close();
    },
  };
}
