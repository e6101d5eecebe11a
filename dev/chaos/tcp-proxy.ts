import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

// A TCP proxy a test can cut and restore, to take one process's connections to a server away
// (every open socket reset, new ones refused) while other processes keep theirs.
export interface TcpProxy {
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const listen = async (server: Server, port: number) => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as { port: number }).port;
  };
  const makeServer = () =>
    createServer((client) => {
      const upstream = createConnection(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  let server = makeServer();
  const port = await listen(server, 0);
  let open = true;
  const cut = async () => {
    if (!open) return;
    open = false;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    port,
    cut,
    async restore() {
      if (open) return;
      server = makeServer();
      await listen(server, port);
      open = true;
    },
    close: cut,
  };
}
