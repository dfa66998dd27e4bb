/**
 * Raw HTTP/1.1 over a real socket, for what `inject()` cannot show: Node's HTTP parser rejects
 * oversized headers (431) and malformed requests before Fastify routes them.
 *
 * @example const res = await rawHttp(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
 */
import { connect } from 'node:net';
import type { ResponseLike } from './bad-input-problem.ts';

export interface RawResponse extends ResponseLike {
  readonly headers: Readonly<Record<string, string>>;
  /** Everything the server sent. */
  readonly raw: string;
}

/** Sends `request` byte for byte and reads until the server closes (or `timeoutMs`). */
export function rawHttp(port: number, request: string, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      finish();
    }, timeoutMs);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const head = split < 0 ? raw : raw.slice(0, split);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = split < 0 ? '' : raw.slice(split + 4);
      if (headers['content-length'] !== undefined) body = Buffer.from(body).subarray(0, Number(headers['content-length'])).toString('utf8');
      resolve({ statusCode: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body, raw });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', finish);
    socket.on('close', finish);
    // The server may close while we still write an oversized request: what it answered counts.
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? finish() : reject(err)));
    socket.write(request);
  });
}
