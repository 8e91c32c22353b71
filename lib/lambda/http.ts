/** API Gateway's side of the HTTP functions: the event as they read it, its exact bytes, the result shape. */
import type { HttpReply } from '../replies';
import type { ReceivedBody } from '../text';

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

/**
 * The request body as received: the bytes where API Gateway base64-encoded it, else the text it
 * decoded (lib/text.ts ReceivedBody: its UTF-8 encoding is the bytes, and it is read without a copy).
 */
export function rawBody(event: HttpEvent): ReceivedBody {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : event.body;
}

/** The request headers, an empty set when API Gateway sent none (REST APIs may send null). */
export function headersOf(event: HttpEvent): Readonly<Record<string, string | undefined>> {
  return event.headers ?? {};
}

/** API Gateway's result shape for a reply. */
export function toResult(reply: HttpReply): HttpResult {
  return { statusCode: reply.statusCode, headers: reply.headers, body: reply.body };
}
