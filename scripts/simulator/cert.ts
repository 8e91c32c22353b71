/**
 * TEST-ONLY: hand-built self-signed X.509 certificates for the WeChat Pay simulator.
 *
 * Written from RFC 5280 / X.690 with node:crypto only, so that the platform certificates the tests
 * feed to lib/ do not depend on any library lib/ itself might use. Never use this for real keys.
 */
import { sign, type KeyObject } from 'node:crypto';

/** Options for {@link selfSignedCertificate}. */
export interface SelfSignedCertificateOptions {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Serial as hex (any case); WeChat platform serials are 40 upper-case hex characters. */
  serialHex: string;
  commonName: string;
  notBefore?: Date;
  notAfter?: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** Builds a self-signed X.509 v3 certificate (sha256WithRSAEncryption) and returns it as PEM. */
export function selfSignedCertificate(opts: SelfSignedCertificateOptions): string {
  const notBefore = opts.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 5 * 365 * DAY_MS);
  const name = distinguishedName(opts.commonName);
  const tbs = sequence(
    explicit(0, integerFromHex('02')), // version v3 is encoded as 2
    integerFromHex(opts.serialHex),
    sha256WithRsa(),
    name, // issuer: self-signed, so issuer == subject
    sequence(derTime(notBefore), derTime(notAfter)),
    name,
    opts.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, opts.privateKey);
  return toPem('CERTIFICATE', sequence(tbs, sha256WithRsa(), bitString(signature)));
}

/** Options for {@link issuedCertificate}. */
export interface IssuedCertificateOptions {
  /** The subject's public key (RSA or EC). */
  publicKey: KeyObject;
  serialHex: string;
  commonName: string;
  /** Who signs: an RSA or EC private key and its common name (the subject's own for a root). */
  issuer: { privateKey: KeyObject; commonName: string };
  /** A certificate authority (basicConstraints cA), or an end entity. */
  ca: boolean;
  /** subjectAltName entries of a server certificate: IPv4 addresses and DNS names. */
  ipAddresses?: readonly string[];
  dnsNames?: readonly string[];
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * Builds an X.509 v3 certificate with extensions, signed by `issuer`: the test CA of the simulator's
 * client-certificate port, the server certificate it presents and the merchant certificates it issues.
 */
export function issuedCertificate(opts: IssuedCertificateOptions): string {
  const notBefore = opts.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS);
  const algorithm = opts.issuer.privateKey.asymmetricKeyType === 'ec' ? ecdsaWithSha256() : sha256WithRsa();
  // basicConstraints is what lets OpenSSL accept the root as an issuer; a leaf says it is none
  const extensions = [
    extension(OID_BASIC_CONSTRAINTS, true, opts.ca ? sequence(tlv(0x01, Buffer.from([0xff]))) : sequence()),
  ];
  const names = [
    ...(opts.ipAddresses ?? []).map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
    ...(opts.dnsNames ?? []).map((dns) => tlv(0x82, Buffer.from(dns, 'ascii'))),
  ];
  if (names.length > 0) extensions.push(extension(OID_SUBJECT_ALT_NAME, false, sequence(...names)));
  const tbs = sequence(
    explicit(0, integerFromHex('02')),
    integerFromHex(opts.serialHex),
    algorithm,
    distinguishedName(opts.issuer.commonName),
    sequence(derTime(notBefore), derTime(notAfter)),
    distinguishedName(opts.commonName),
    opts.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, opts.issuer.privateKey);
  return toPem('CERTIFICATE', sequence(tbs, algorithm, bitString(signature)));
}

/** Wraps DER bytes in a PEM armour with 64-character lines. */
export function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function distinguishedName(commonName: string): Buffer {
  return sequence(set(sequence(objectIdentifier(OID_COMMON_NAME), utf8String(commonName))));
}

function sha256WithRsa(): Buffer {
  // RFC 4055 requires the explicit NULL parameters for the RSA PKCS#1 v1.5 algorithms.
  return sequence(objectIdentifier(OID_SHA256_WITH_RSA), derNull());
}

function ecdsaWithSha256(): Buffer {
  // RFC 5758: the ECDSA algorithms carry no parameters at all
  return sequence(objectIdentifier(OID_ECDSA_WITH_SHA256));
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return sequence(objectIdentifier(oid), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
}

// ---- minimal ASN.1 DER encoder ----

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

function explicit(tagNumber: number, inner: Buffer): Buffer {
  return tlv(0xa0 | tagNumber, inner);
}

/** Non-negative INTEGER from hex, in the minimal two's-complement form DER (and OpenSSL) demand. */
function integerFromHex(hex: string): Buffer {
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new Error(`not a hex integer: ${JSON.stringify(hex)}`);
  let bytes = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  bytes = bytes.subarray(start);
  // A set high bit would make the value negative, so positive values need a leading zero byte.
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const body = [first * 40 + second, ...rest].flatMap(base128);
  return tlv(0x06, Buffer.from(body));
}

function base128(value: number): number[] {
  const out = [value & 0x7f];
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) {
    out.unshift(0x80 | (rest & 0x7f));
  }
  return out;
}

function derNull(): Buffer {
  return Buffer.from([0x05, 0x00]);
}

function utf8String(value: string): Buffer {
  return tlv(0x0c, Buffer.from(value, 'utf8'));
}

function bitString(content: Buffer): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), content])); // 0 unused bits
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on. */
function derTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) throw new Error(`certificate time out of range: ${String(date)}`);
  const digits = date.toISOString().slice(0, 19).replace(/[-T:]/g, ''); // UTC, seconds precision
  if (year >= 1950 && year <= 2049) return tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'));
  return tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}
