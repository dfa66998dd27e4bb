/**
 * Where an instance is in its life: serving, or draining after SIGTERM/SIGINT. The HTTP shell
 * reads it on every request (one property), so it is a plain object, not an event source. It
 * also knows the server's open connections, so that closing can drop the ones that never sent a
 * request (a pre-opened connection is not "idle" to Node, and would hold the exit up until the
 * shutdown timeout).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export class Lifecycle {
  /** Readiness fails and every response closes its connection from now on. */
  draining = false;
  private readonly sockets = new Set<Socket>();

  /** @example lifecycle.drain(); // /health/ready answers 503, responses carry Connection: close */
  drain(): void {
    this.draining = true;
  }

  /** Follows the connections of `server` (once per connection, never per request). */
  watch(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Destroys the connections that have not sent a byte: nothing is in flight on them. */
  closeUnused(): void {
    for (const socket of this.sockets) if (socket.bytesRead === 0) socket.destroy();
  }
}
