/**
 * The client-certificate fetch against a local https server that demands a certificate from a test
 * CA: the answer's status, headers and exact bytes; an oversized answer, a server that stalls, a
 * port nobody listens on; and what each becomes once the transport has seen it.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WechatPayApiError } from '../../../lib/wechatpay/apiError';
import { clientCertificateFetch, createTransport, type FetchLike } from '../../../lib/wechatpay/http';
import { issuedCertificate } from '../../../scripts/simulator/cert';

let server: Server;
let origin: string;
let fetchWithCert: FetchLike;
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/ok': (req, res) => {
    res.setHeader('Set-Cookie', ['a=1', 'b=2']);
    res.setHeader('X-Method', req.method ?? '');
    req.pipe(res);
  },
  '/huge': (_req, res) => {
    res.end(Buffer.alloc(1024 * 1024 + 1, 0x61));
  },
  '/stall': () => undefined,
};

beforeAll(async () => {
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ca = ec();
  const issuer = { privateKey: ca.privateKey, commonName: 'Fetch Test CA' };
  const caPem = issuedCertificate({
    publicKey: ca.publicKey,
    serialHex: '01',
    commonName: 'Fetch Test CA',
    issuer,
    ca: true,
  });
  const host = ec();
  const client = ec();
  server = createServer(
    {
      key: host.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      cert: issuedCertificate({
        publicKey: host.publicKey,
        serialHex: '02',
        commonName: 'localhost',
        issuer,
        ca: false,
        ipAddresses: ['127.0.0.1'],
      }),
      ca: caPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => routes[req.url ?? '']?.(req, res),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fetchWithCert = clientCertificateFetch(
    {
      cert: issuedCertificate({
        publicKey: client.publicKey,
        serialHex: '03',
        commonName: 'merchant',
        issuer,
        ca: false,
      }),
      key: String(client.privateKey.export({ type: 'pkcs8', format: 'pem' })),
    },
    { ca: caPem },
  );
});

afterAll(async () => {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
});

describe('clientCertificateFetch', () => {
  it('answers with the status, every header value and the exact body', async () => {
    const res = await fetchWithCert(`${origin}/ok`, { method: 'POST', body: '<xml>é</xml>' });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(res.headers.get('x-method')).toBe('POST');
    expect(Buffer.from(await res.arrayBuffer()).toString('utf8')).toBe('<xml>é</xml>');
    // no method given: GET
    expect((await fetchWithCert(`${origin}/ok`, {})).headers.get('x-method')).toBe('GET');
  });

  it('stops reading an answer past the size limit', async () => {
    await expect(fetchWithCert(`${origin}/huge`, { method: 'GET' })).rejects.toThrow('too large');
  });

  it('through the transport: a stalled server is a TIMEOUT, a closed port a NETWORK_ERROR, both retryable', async () => {
    const transport = createTransport({ fetch: fetchWithCert, maxAttempts: 1 });
    const stalled = await transport.send({ method: 'GET', url: `${origin}/stall`, headers: {} }, 200).catch((e) => e);
    expect(stalled).toBeInstanceOf(WechatPayApiError);
    expect(stalled).toMatchObject({ code: 'TIMEOUT', retryable: true });
    const closed = await transport
      .send({ method: 'GET', url: 'https://127.0.0.1:1/x', headers: {} }, 2000)
      .catch((e) => e);
    expect(closed).toMatchObject({ code: 'NETWORK_ERROR', retryable: true });
  });
});
