import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP forwarder in front of a server that a test opens and shuts: shut, every connection is
 * dropped as it arrives and the open ones are cut, as a server that went away looks to a client.
 * The test decides when the outage starts and ends, so nothing waits on a clock.
 */
export interface TcpGate {
  /** `127.0.0.1:<port>`, for TEMPORAL_ADDRESS. */
  address: string;
  open(): void;
  shut(): void;
  stop(): Promise<void>;
}

export async function startTcpGate(target: string, { open = true } = {}): Promise<TcpGate> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let isOpen = open;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    if (!isOpen) return void client.destroy();
    const upstream = connect(port, host);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('error', () => upstream.destroy());
    upstream.once('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', () => listening()));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => void (isOpen = true),
    shut: () => {
      isOpen = false;
      for (const socket of sockets) socket.destroy();
    },
    stop: () =>
      new Promise<void>((closed) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => closed());
      }),
  };
}
