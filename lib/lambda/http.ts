/** API Gateway's side of the HTTP functions: the event as they read it, its exact bytes, the result shape. */
import type { HttpReply } from '../replies';

/** The minimal API Gateway (HTTP API v2 or REST v1) event the notify functions read. */
export interface HttpEvent {
  headers?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

/** API Gateway's result shape for a reply. */
export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The exact bytes of the request body, base64-decoded where API Gateway encoded it. */
export function rawBody(event: HttpEvent): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** The request headers, an empty set when API Gateway sent none (REST APIs may send null). */
export function headersOf(event: HttpEvent): Readonly<Record<string, string | undefined>> {
  return event.headers ?? {};
}

/** API Gateway's result shape for a reply. */
export function toResult(reply: HttpReply): HttpResult {
  return { statusCode: reply.statusCode, headers: reply.headers, body: reply.body };
}
