// A throwaway CA plus a localhost server certificate, so tests can run TLS
// services (the registry) that Node trusts via NODE_EXTRA_CA_CERTS.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const DAYS = '3650';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

// Valid = parses, is not expiring within a day, and chains to our CA.
function valid(paths) {
  if (![paths.ca, paths.caKey, paths.cert, paths.key].every((p) => existsSync(p))) return false;
  const end = spawnSync('openssl', ['x509', '-checkend', '86400', '-noout', '-in', paths.cert]);
  const chain = spawnSync('openssl', ['verify', '-CAfile', paths.ca, paths.cert]);
  return end.status === 0 && chain.status === 0;
}

export function ensureTestPki(dir = '.cache/test-pki') {
  const abs = resolve(dir);
  const paths = {
    dir: abs,
    ca: join(abs, 'ca.pem'),
    caKey: join(abs, 'ca-key.pem'),
    cert: join(abs, 'server.pem'),
    key: join(abs, 'server-key.pem'),
  };
  if (valid(paths)) return paths;

  process.stderr.write(`[test-pki] generating test CA and localhost certificate in ${abs}\n`);
  rmSync(abs, { recursive: true, force: true });
  mkdirSync(abs, { recursive: true });
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      DAYS,
      '-subj',
      '/CN=gitops-deployer test CA',
      '-keyout',
      'ca-key.pem',
      '-out',
      'ca.pem',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    abs,
  );
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-subj',
      '/CN=localhost',
      '-keyout',
      'server-key.pem',
      '-out',
      'server.csr',
    ],
    abs,
  );
  // An extfile (not -copy_extensions) works on OpenSSL 1.1 as well as 3.x.
  writeFileSync(
    join(abs, 'server.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '',
    ].join('\n'),
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-days',
      DAYS,
      '-sha256',
      '-extfile',
      'server.ext',
      '-out',
      'server.pem',
    ],
    abs,
  );
  for (const f of ['server.csr', 'server.ext', 'ca.srl']) rmSync(join(abs, f), { force: true });
  if (!valid(paths)) throw new Error(`generated test PKI in ${abs} does not verify`);
  return paths;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  console.log(JSON.stringify(ensureTestPki(process.argv[2]), null, 2));
}
