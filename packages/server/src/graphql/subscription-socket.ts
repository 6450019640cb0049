/** Socket-level helpers of the WebSocket transport: the client's address, refused upgrades, close reasons. */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** The client's address: the socket's, or with `RAPPORT_TRUST_PROXY=1` the first `X-Forwarded-For` entry (as Fastify's `req.ip`). */
export function addressOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  if (process.env.RAPPORT_TRUST_PROXY === '1' && typeof forwarded === 'string' && forwarded.trim()) return forwarded.split(',')[0]!.trim();
  return req.socket.remoteAddress ?? 'unknown';
}

/** Answers an upgrade with an HTTP error (a GraphQL-shaped JSON body) and closes the socket. */
export function refuse(socket: Duplex, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  socket.once('finish', () => socket.destroy());
}

/** A close reason within the WebSocket limit of 123 bytes (cut on a character boundary, with `...`). */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  return `${Buffer.from(text).subarray(0, 119).toString('utf8').replace(/\uFFFD$/, '')}...`;
}
