// A server certificate, its key and (for mTLS) a client CA read from files and re-read while they are in
// use, so a rotated certificate (cert-manager, Vault agent) reaches new connections without a restart.
//
// It is a grpc-js CertificateProvider, and `onChange` serves fastify's `setSecureContext`. Unlike grpc-js's
// own FileWatcherCertificateProvider, a read that fails or yields a pair that does not fit (a rotation
// caught half-written: new certificate, old key) keeps the last good pair instead of withdrawing it,
// which would make the server drop every new connection until the next good read.
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { experimental } from "@grpc/grpc-js";
import type { Logger } from "../log.ts";

export interface CertificateFilePaths {
  certFile: string;
  keyFile: string;
  /** Set = clients must present a certificate signed by this CA (mTLS). */
  clientCaFile?: string;
}

/** Names the settings the paths came from, so errors point at what to fix. */
export interface CertificateSettingNames {
  cert: string;
  key: string;
  clientCa: string;
}

export interface CertificatePem {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export class CertificateFileError extends Error {
  override readonly name = "CertificateFileError";
}

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

function readOne(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CertificateFileError(`${setting}: cannot read ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Reads the files and checks that they make a usable TLS context (key fits the certificate, PEM parses). */
export function readCertificateFiles(paths: CertificateFilePaths, names: CertificateSettingNames): CertificatePem {
  const pem: CertificatePem = { cert: readOne(paths.certFile, names.cert), key: readOne(paths.keyFile, names.key) };
  if (paths.clientCaFile !== undefined) pem.ca = readOne(paths.clientCaFile, names.clientCa);
  try {
    createSecureContext({ cert: pem.cert, key: pem.key, ...(pem.ca ? { ca: pem.ca } : {}) });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CertificateFileError(`${names.cert}/${names.key}${pem.ca ? `/${names.clientCa}` : ""}: not a usable certificate, key and CA (${reason})`);
  }
  return pem;
}

function samePem(a: CertificatePem, b: CertificatePem): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca));
}

export interface ReloadingCertificatesOptions {
  paths: CertificateFilePaths;
  names: CertificateSettingNames;
  /** How often the files are re-read while a server uses them. */
  reloadIntervalMs: number;
  logger: Logger;
}

export class ReloadingCertificates implements experimental.CertificateProvider {
  private pem: CertificatePem;
  private timer: NodeJS.Timeout | undefined;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly changeListeners = new Set<(pem: CertificatePem) => void>();
  private lastError: string | undefined;

  /** Throws CertificateFileError naming the setting when the files are missing or unusable. */
  constructor(private readonly options: ReloadingCertificatesOptions) {
    this.pem = readCertificateFiles(options.paths, options.names);
  }

  get mutualTls(): boolean {
    return this.options.paths.clientCaFile !== undefined;
  }

  current(): CertificatePem {
    return this.pem;
  }

  /** Re-reads the files now; returns true when a new, valid pair was taken. */
  reload(): boolean {
    let next: CertificatePem;
    try {
      next = readCertificateFiles(this.options.paths, this.options.names);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Once per distinct problem: a rotation in progress would otherwise log on every tick.
      if (message !== this.lastError) this.options.logger.warn({ err: message }, "TLS files changed but are not usable; still serving the previous certificate");
      this.lastError = message;
      return false;
    }
    this.lastError = undefined;
    if (samePem(next, this.pem)) return false;
    this.pem = next;
    this.options.logger.info({ certFile: this.options.paths.certFile }, "TLS certificate reloaded; new connections use it");
    for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
    if (next.ca) for (const l of this.caListeners) l({ caCertificate: next.ca });
    for (const l of this.changeListeners) l(next);
    return true;
  }

  /** For servers other than grpc-js (fastify): called with each new valid pair. Returns an unsubscribe. */
  onChange(listener: (pem: CertificatePem) => void): () => void {
    this.changeListeners.add(listener);
    this.updateTimer();
    return () => {
      this.changeListeners.delete(listener);
      this.updateTimer();
    };
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.updateTimer();
    const ca = this.pem.ca;
    if (ca) process.nextTick(() => listener({ caCertificate: ca }));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.updateTimer();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.updateTimer();
    const pem = this.pem;
    process.nextTick(() => listener({ certificate: pem.cert, privateKey: pem.key }));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.updateTimer();
  }

  /** The files are polled only while some server listens with them, so a closed server leaves no timer. */
  private updateTimer(): void {
    const used = this.caListeners.size + this.identityListeners.size + this.changeListeners.size > 0;
    if (used && !this.timer) {
      this.timer = setInterval(() => this.reload(), this.options.reloadIntervalMs);
      this.timer.unref();
    } else if (!used && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
