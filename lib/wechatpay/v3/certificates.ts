/**
 * Downloading the platform certificates (docs/protocol.md I): one signed `GET /v3/certificates`, each
 * `encrypt_certificate` opened with the APIv3 key (the GCM tag is what proves it came from WeChat, since
 * the very first download has no key to check a signature with), parsed, its serial and validity
 * checked, and the answer's signature verified with a key already trusted or, failing that, with one of
 * the certificates just authenticated by their tag. Nothing here stores or caches: see lib/keys/.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { malformed, unauthentic } from '../../errors';
import { decodeUtf8 } from '../../text';
import { httpError } from '../apiError';
import type { HttpResponse, Transport } from '../http';
import { decryptResource } from './aead';
import { buildAuthorization } from './authorization';
import { isRecord, parseUntrustedJson, str } from './json';
import {
  isWithinValidity,
  normaliseSerial,
  PUBLIC_KEY_ID,
  VALIDITY_GRACE_MS,
  type KeyEntry,
  type KeyRing,
} from './keyring';
import { headerGetter, verifyV3, type Verification } from './verify';

/** A platform certificate WeChat lists, authenticated and parsed. */
export interface PlatformCertificate {
  /** Upper-case hex, as WeChat prints it in `Wechatpay-Serial`. */
  serial: string;
  pem: string;
  /** Validity in epoch ms, read from the certificate itself. */
  notBefore: number;
  notAfter: number;
}

/** What the download needs; every part injected so tests run it against the simulator. */
export interface CertificateDownloadDeps {
  transport: Transport;
  mchid: string;
  merchant: { privateKey: KeyObject; serialNo: string };
  apiBaseUrl: string;
  apiV3Key: Buffer;
  /** Keys already trusted (configured plus stored); the answer's signer is looked up here first. */
  trusted: KeyRing;
  now: () => number;
  nonce: () => string;
  userAgent: string;
}

/** The certificates WeChat signs with now, and which key vouched for the answer listing them. */
export interface CertificateDownload {
  certificates: PlatformCertificate[];
  /** The answer's signer: `trusted` when a key held before the download verified it. */
  answer: Verification & { keySource: 'trusted' | 'downloaded' };
  /** Listed certificates left out because they have expired (beyond the grace). */
  expired: string[];
}

export const CERTIFICATES_PATH = '/v3/certificates';
const MAX_CERTIFICATES = 16;

/** Downloads, decrypts and checks the platform certificates; throws unless every check passes. */
export async function downloadCertificates(deps: CertificateDownloadDeps): Promise<CertificateDownload> {
  const publicKeyId = deps.trusted.serials().find((s) => PUBLIC_KEY_ID.test(s));
  const res = await deps.transport.run(async ({ timeoutMs }) => {
    const authorization = buildAuthorization({
      mchid: deps.mchid,
      serialNo: deps.merchant.serialNo,
      privateKey: deps.merchant.privateKey,
      method: 'GET',
      url: CERTIFICATES_PATH,
      body: '',
      timestamp: Math.floor(deps.now() / 1000),
      nonce: deps.nonce(),
    });
    const answer = await deps.transport.send(
      {
        method: 'GET',
        url: `${deps.apiBaseUrl}${CERTIFICATES_PATH}`,
        headers: {
          Authorization: authorization,
          Accept: 'application/json',
          'User-Agent': deps.userAgent,
          // naming the public key asks WeChat to sign its answer with it (docs/protocol.md D)
          ...(publicKeyId === undefined ? {} : { 'Wechatpay-Serial': publicKeyId }),
        },
      },
      timeoutMs,
    );
    if (answer.status < 200 || answer.status >= 300) throw httpError(answer.status, answer.body.toString('utf8'));
    return answer;
  });
  const nowMs = deps.now();
  const { certificates, expired } = readCertificates(res, deps.apiV3Key, nowMs);
  return { certificates, expired, answer: verifyAnswer(res, deps.trusted, certificates, nowMs) };
}

/** Opens and checks every listed certificate; any one that fails its tag or serial fails the download. */
export function readCertificates(
  res: Pick<HttpResponse, 'body'>,
  apiV3Key: Buffer,
  nowMs: number,
): { certificates: PlatformCertificate[]; expired: string[] } {
  const json = parseUntrustedJson(decodeUtf8(res.body, 'certificates'), 'certificates');
  if (!isRecord(json) || !Array.isArray(json.data)) throw malformed('certificates answer has no data array');
  if (json.data.length === 0 || json.data.length > MAX_CERTIFICATES)
    throw malformed('certificates answer lists no certificate, or too many');
  const certificates: PlatformCertificate[] = [];
  const expired: string[] = [];
  for (const item of json.data) {
    if (!isRecord(item) || !isRecord(item.encrypt_certificate)) throw malformed('certificate entry is not an object');
    const listedSerial = str(item, 'serial_no', 'certificate', 64);
    const enc = item.encrypt_certificate;
    const associated = str(enc, 'associated_data', 'encrypt_certificate', 32);
    // another resource type encrypted under the same key must not pass for a certificate
    if (associated !== 'certificate') throw unauthentic('certificate associated_data is not "certificate"');
    const pem = decryptResource(
      {
        algorithm: str(enc, 'algorithm', 'encrypt_certificate', 32),
        nonce: str(enc, 'nonce', 'encrypt_certificate', 32),
        ciphertext: str(enc, 'ciphertext', 'encrypt_certificate', 16_384),
        associated_data: associated,
      },
      apiV3Key,
    );
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      throw malformed('a listed certificate is not a PEM certificate', { serial: listedSerial });
    }
    const serial = normaliseSerial(cert.serialNumber);
    if (serial !== normaliseSerial(listedSerial))
      throw unauthentic('a listed certificate does not carry the serial it is listed under', { serial: listedSerial });
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    if (notAfter + VALIDITY_GRACE_MS < nowMs) {
      expired.push(serial);
      continue;
    }
    certificates.push({ serial, pem, notBefore, notAfter });
  }
  return { certificates, expired };
}

function verifyAnswer(
  res: HttpResponse,
  trusted: KeyRing,
  downloaded: PlatformCertificate[],
  nowMs: number,
): CertificateDownload['answer'] {
  const header = headerGetter(Object.fromEntries(res.headers.entries()));
  const serial = header('wechatpay-serial') ?? '';
  const known = trusted.entry(serial);
  if (known !== undefined && isWithinValidity(known, nowMs)) {
    return { ...verifyV3(header, res.body, trusted, Math.floor(nowMs / 1000)), keySource: 'trusted' };
  }
  // first download or a signer we do not hold yet: the tag-authenticated certificates may vouch
  const ring = certificateRing(downloaded);
  if (ring.entry(serial) === undefined)
    throw unauthentic('certificates answer signed by no key we can trust', { serial: serial.slice(0, 64) });
  return { ...verifyV3(header, res.body, ring, Math.floor(nowMs / 1000)), keySource: 'downloaded' };
}

/** A key ring over authenticated certificates (the lib/keys ring merges it with configured keys). */
export function certificateRing(certificates: readonly PlatformCertificate[]): KeyRing {
  const entries = new Map<string, KeyEntry>();
  for (const c of certificates) {
    entries.set(normaliseSerial(c.serial), {
      key: new X509Certificate(c.pem).publicKey,
      kind: 'platform-certificate',
      notBefore: c.notBefore,
      notAfter: c.notAfter,
    });
  }
  const entry = (serial: string) => entries.get(normaliseSerial(serial));
  return { entry, get: (serial) => entry(serial)?.key, serials: () => [...entries.keys()] };
}
