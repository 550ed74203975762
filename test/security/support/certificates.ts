// Throwaway certificates made with the openssl command line at test time: a CA, server certificates for
// 127.0.0.1/localhost signed by it, and a client certificate for mTLS. Tests skip (saying why) without
// openssl.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";

export function opensslMissing(): string | undefined {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "openssl is not installed (apt-get install openssl); certificates are generated with it";
  }
}

export interface Pki {
  dir: string;
  caFile: string;
  ca: Buffer;
  /** A server certificate and key for 127.0.0.1 and localhost; `name` becomes its CN. */
  server(name: string): { certFile: string; keyFile: string; cert: Buffer; key: Buffer; fingerprint: string };
  /** A client certificate signed by the CA (or by another, untrusted CA when `untrusted`). */
  client(name: string, untrusted?: boolean): { cert: Buffer; key: Buffer };
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

function selfSignedCa(dir: string, name: string): void {
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.pem`], dir);
}

function signed(dir: string, ca: string, name: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`], dir);
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.pem`], dir);
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "eg-pki-"));
  selfSignedCa(dir, "test-ca");
  let otherCa = false;
  return {
    dir,
    caFile: join(dir, "test-ca.pem"),
    ca: readFileSync(join(dir, "test-ca.pem")),
    server(name) {
      signed(dir, "test-ca", name, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
      const cert = readFileSync(join(dir, `${name}.pem`));
      return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`), cert, key: readFileSync(join(dir, `${name}.key`)), fingerprint: new X509Certificate(cert).fingerprint256 };
    },
    client(name, untrusted = false) {
      if (untrusted && !otherCa) {
        selfSignedCa(dir, "other-ca");
        otherCa = true;
      }
      signed(dir, untrusted ? "other-ca" : "test-ca", name, "extendedKeyUsage=clientAuth\n");
      return { cert: readFileSync(join(dir, `${name}.pem`)), key: readFileSync(join(dir, `${name}.key`)) };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
