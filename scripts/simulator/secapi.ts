/**
 * TEST-ONLY: the simulator's client-certificate port. WeChat Pay serves APIv2 `secapi` calls (refund
 * apply) only to a TLS client presenting the merchant API certificate WeChat issued; this plays both
 * sides with a throwaway test CA made at start: the CA issues the port's own server certificate (for
 * 127.0.0.1) and the merchant's client certificate (for the test keys' merchant key, as WeChat's
 * certificate tool would). The port demands a client certificate signed by that CA and refuses the
 * handshake otherwise. TLS 1.2 at most, so that a refusal happens inside the handshake. Never deployed.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { issuedCertificate } from './cert';
import type { TestKeys } from './keys';
import { randomSerial } from './random';

/** The running client-certificate port. */
export interface SecapiPort {
  /** https://127.0.0.1:<port>: the origin for `secapi` calls. */
  url: string;
  /** The test CA's certificate: trust it for the port's server certificate. */
  caPem: string;
  /** The merchant's client certificate (PEM) for the test keys' merchant private key. */
  merchantCertPem: string;
  /** Issues another client certificate from the test CA (another merchant's key, say). */
  issue(publicKey: KeyObject, commonName: string): string;
  /** Handshakes refused so far (no certificate, or one the test CA did not sign). */
  readonly refusedHandshakes: number;
  /** Requests served so far (each came with an accepted certificate). */
  readonly served: number;
  close(): Promise<void>;
}

const CA_NAME = 'WeChat Pay Simulator Test CA (test only)';

/** Starts the port on 127.0.0.1; `handle` serves the requests that passed the certificate check. */
export async function startSecapiPort(
  keys: TestKeys,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<SecapiPort> {
  // EC keys: generated in a millisecond, unlike RSA, so every simulator can afford its own CA
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuer = { privateKey: ca.privateKey, commonName: CA_NAME };
  const caPem = issuedCertificate({
    publicKey: ca.publicKey,
    serialHex: randomSerial(),
    commonName: CA_NAME,
    issuer,
    ca: true,
  });
  const serverKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serverCertPem = issuedCertificate({
    publicKey: serverKey.publicKey,
    serialHex: randomSerial(),
    commonName: '127.0.0.1',
    issuer,
    ca: false,
    ipAddresses: ['127.0.0.1'],
    dnsNames: ['localhost'],
  });
  const issue = (publicKey: KeyObject, commonName: string) =>
    issuedCertificate({ publicKey, serialHex: randomSerial(), commonName, issuer, ca: false });
  let refused = 0;
  let served = 0;
  const server: Server = createServer(
    {
      key: serverKey.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      cert: serverCertPem,
      ca: caPem,
      requestCert: true,
      rejectUnauthorized: true,
      maxVersion: 'TLSv1.2',
    },
    (req, res) => {
      served += 1;
      handle(req, res);
    },
  );
  server.on('tlsClientError', () => {
    refused += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem,
    merchantCertPem: issue(keys.merchant.publicKey, keys.mchid),
    issue,
    get refusedHandshakes() {
      return refused;
    },
    get served() {
      return served;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
