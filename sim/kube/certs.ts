// A throwaway CA and a server certificate it signs, valid for the loopback names clients dial (127.0.0.1, ::1,
// localhost), so client-node and kubectl verify TLS exactly as against a real cluster (no insecure-skip-tls-verify).
// EC P-256 keys keep generation fast on a busy 2-core machine.
import {generate} from 'selfsigned';

export interface ServingCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function createServingCerts(extraNames: string[] = []): Promise<ServingCerts> {
  const notBeforeDate = new Date(Date.now() - 60_000); // tolerate small clock differences
  const notAfterDate = new Date(Date.now() + 24 * 3600_000);
  const ca = await generate([{name: 'commonName', value: 'lameduck-sim-ca'}], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      {name: 'basicConstraints', cA: true, critical: true},
      {name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true},
    ],
  });
  const ipNames = ['127.0.0.1', '::1', ...extraNames.filter((n) => /^[\d.]+$|:/.test(n))];
  const dnsNames = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', ...extraNames.filter((n) => !/^[\d.]+$|:/.test(n))];
  const server = await generate([{name: 'commonName', value: 'kube-apiserver'}], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: {key: ca.private, cert: ca.cert},
    extensions: [
      {name: 'basicConstraints', cA: false},
      {name: 'keyUsage', digitalSignature: true, critical: true},
      {name: 'extKeyUsage', serverAuth: true},
      {
        name: 'subjectAltName',
        altNames: [...[...new Set(dnsNames)].map((value) => ({type: 2 as const, value})), ...[...new Set(ipNames)].map((ip) => ({type: 7 as const, ip}))],
      },
    ],
  });
  return {caPem: ca.cert, certPem: server.cert, keyPem: server.private};
}
