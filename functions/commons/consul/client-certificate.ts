import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** What is wrong with a client certificate and its key, and which of the two is at fault. */
export interface ClientCertificateProblem {
  part: 'certificate' | 'key';
  /** Reads after the name of the part: "<clientCert> is not a PEM certificate". Never quotes the key. */
  problem: string;
}

/**
 * One check for the connection secret and for `peerctl cluster add`: a PEM certificate, a private key
 * that belongs to it, and not expired. An agent with verify_incoming would refuse any of these with a
 * bare TLS alert, so they are caught before anything is stored or sent.
 */
export function clientCertificateProblem(
  cert: string,
  key: string,
  now: number = Date.now(),
): ClientCertificateProblem | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    return { part: 'certificate', problem: 'is not a PEM certificate' };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    return { part: 'key', problem: 'is not a PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)' };
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    return { part: 'key', problem: 'is not the private key of the client certificate' };
  }
  if (Date.parse(certificate.validTo) < now) {
    return {
      part: 'certificate',
      problem: `expired on ${certificate.validTo}: issue a new client certificate`,
    };
  }
  return undefined;
}
