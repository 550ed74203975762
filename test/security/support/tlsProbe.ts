// Opens a fresh TLS connection and reports the certificate the server presented, or the handshake error.
import { connect } from "node:tls";

export interface TlsClientIdentity {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function servedCertificate(port: number, identity: TlsClientIdentity, alpn = "h2"): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", servername: "localhost", port, ca: identity.ca, ALPNProtocols: [alpn], ...(identity.cert ? { cert: identity.cert, key: identity.key } : {}) });
    socket.setTimeout(3000, () => socket.destroy(new Error("TLS handshake timed out")));
    socket.once("secureConnect", () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.once("error", reject);
  });
}

/** Polls until `check` holds, for reloads that happen on a timer. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 4000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
