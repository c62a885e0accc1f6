import { createServer } from 'node:net';

/**
 * A TCP port free a moment ago on 127.0.0.1. Picked below Linux's ephemeral range (32768+), where
 * the OS hands out ports to every `listen(0)` and outgoing connection of the parallel test
 * processes: a port chosen there may be taken again before the process it is meant for binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free port between 20000 and 32000');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
