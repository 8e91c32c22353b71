/**
 * TEST-ONLY: WeChat Pay changing its keys, time-compressed (docs/protocol.md D, I).
 *
 * - A certificate rotation: WeChat issues a new platform certificate about 10 days before the old one
 *   expires and, during that overlap, signs with either. Here the overlap lasts `overlapSeconds` of real
 *   time; both certificates are listed by `GET /v3/certificates` until it ends, then only the new one.
 * - The public-key switch: over a week WeChat signs a rising share of notifications with the WeChat Pay
 *   public key (0.1 %, 1 %, 5 %, 10 %, 20 %, 50 %, then 100 % from day 7). Here a day lasts
 *   `weekSeconds / 7`; a rollback returns every notification to the platform certificates.
 *
 * The signer is picked per notification, right before it is signed, by swapping `keys.platform`
 * (which every signing path of the simulator reads) and returning the notification's signer.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { selfSignedCertificate } from './cert';
import type { TestKeys } from './keys';
import { randomSerial } from './random';
import type { V3Signer } from './v3auth';

type PlatformIdentity = TestKeys['platform'];

/** The share of notifications the public key signs on day 1, 2, … 6 of the switch; 100 % after. */
export const PUBLIC_KEY_RAMP = [0.001, 0.01, 0.05, 0.1, 0.2, 0.5] as const;

/** A certificate as `GET /v3/certificates` lists it. */
export interface ListedCertificate {
  serial: string;
  certPem: string;
  effective: Date;
  expire: Date;
}

/** What the rotation state looks like, for `/_sim/keys`. */
export interface RotationStatus {
  current: string;
  retiring?: { serial: string; overlapEndsAt: string };
  publicKeyShare: number;
  switch?: { startedAt: string; daySeconds: number; rolledBack: boolean };
  /** `GET /v3/certificates` calls answered so far (a flood test counts downloads here). */
  downloads: number;
}

/** The simulator's key-change schedule. */
export class KeyRotation {
  private current: PlatformIdentity;
  private retiring: { identity: PlatformIdentity; until: number } | undefined;
  private pkSwitch: { startedAt: number; dayMs: number; rolledBack: boolean } | undefined;
  /** Count of `GET /v3/certificates` answers. */
  downloads = 0;

  constructor(
    private readonly keys: TestKeys,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.current = keys.platform;
  }

  /** Issues a new platform certificate; the old one keeps signing (at random) for `overlapSeconds`. */
  rotateCertificate(overlapSeconds = 60): RotationStatus {
    if (!(Number.isFinite(overlapSeconds) && overlapSeconds >= 0)) throw new RangeError('overlapSeconds must be ≥ 0');
    this.retiring = { identity: this.current, until: this.now() + overlapSeconds * 1000 };
    this.current = newPlatformIdentity(this.now());
    this.keys.platform = this.current;
    return this.status();
  }

  /** Starts the public-key ramp (a week lasting `weekSeconds`), or rolls it back. */
  switchPublicKey(opts: { weekSeconds?: number; rollback?: boolean } = {}): RotationStatus {
    if (opts.rollback === true) {
      if (this.pkSwitch !== undefined) this.pkSwitch.rolledBack = true;
      return this.status();
    }
    const weekSeconds = opts.weekSeconds ?? 70;
    if (!(Number.isFinite(weekSeconds) && weekSeconds > 0)) throw new RangeError('weekSeconds must be > 0');
    this.pkSwitch = { startedAt: this.now(), dayMs: (weekSeconds * 1000) / 7, rolledBack: false };
    return this.status();
  }

  /** The share of notifications the public key signs right now. */
  publicKeyShare(): number {
    const s = this.pkSwitch;
    if (s === undefined || s.rolledBack) return 0;
    const day = Math.floor((this.now() - s.startedAt) / s.dayMs);
    return PUBLIC_KEY_RAMP[day] ?? 1;
  }

  /**
   * Picks the signer of the next notification and points `keys.platform` at the certificate chosen;
   * undefined when no rotation or switch is under way (the configured default applies).
   */
  pick(): V3Signer | undefined {
    const overlapping = this.retiring !== undefined && this.now() < this.retiring.until;
    if (this.pkSwitch === undefined && !overlapping) {
      this.keys.platform = this.current;
      return undefined;
    }
    if (this.random() < this.publicKeyShare()) return 'publicKey';
    this.keys.platform = overlapping && this.random() < 0.5 && this.retiring ? this.retiring.identity : this.current;
    return 'platform';
  }

  /** The certificates WeChat lists now: the current one, plus the old one during the overlap. */
  certificates(): ListedCertificate[] {
    const held = [this.current];
    if (this.retiring !== undefined && this.now() < this.retiring.until) held.push(this.retiring.identity);
    return held.map((identity) => {
      const cert = new X509Certificate(identity.certPem);
      return {
        serial: identity.serial,
        certPem: identity.certPem,
        effective: new Date(cert.validFrom),
        expire: new Date(cert.validTo),
      };
    });
  }

  /** The schedule as JSON-friendly data. */
  status(): RotationStatus {
    const retiring = this.retiring;
    const s = this.pkSwitch;
    return {
      current: this.current.serial,
      ...(retiring !== undefined && this.now() < retiring.until
        ? { retiring: { serial: retiring.identity.serial, overlapEndsAt: new Date(retiring.until).toISOString() } }
        : {}),
      publicKeyShare: this.publicKeyShare(),
      ...(s === undefined
        ? {}
        : {
            switch: {
              startedAt: new Date(s.startedAt).toISOString(),
              daySeconds: s.dayMs / 1000,
              rolledBack: s.rolledBack,
            },
          }),
      downloads: this.downloads,
    };
  }
}

/** A fresh platform identity with a five-year certificate starting a minute before `nowMs`. */
export function newPlatformIdentity(nowMs: number): PlatformIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serial = randomSerial();
  const certPem = selfSignedCertificate({
    privateKey,
    publicKey,
    serialHex: serial,
    commonName: 'Tenpay.com Test Platform Certificate',
    notBefore: new Date(nowMs - 60_000),
  });
  return {
    privateKey,
    publicKey,
    privateKeyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    publicKeyPem: String(publicKey.export({ type: 'spki', format: 'pem' })),
    serial,
    certPem,
  };
}
