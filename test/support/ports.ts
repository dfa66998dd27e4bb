/** Ports for the processes and servers the tests start on loopback. */
import { createServer } from 'node:net';

/** A TCP port nobody listens on right now (the OS picks it; it is free again once this resolves). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
