import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { freePort } from './ports';

export interface TestRegistry {
  /** https://localhost:PORT — what ContainerRegistryContentClient takes. */
  endpoint: string;
  /** localhost:PORT — the registry part of an image reference. */
  host: string;
  /** Pushes a tiny unique OCI image; resolves to its manifest digest (sha256:...). */
  pushImage(repository: string, tag: string): Promise<string>;
  deleteImage(repository: string, tag: string): Promise<void>;
  hasImage(repository: string, tag: string): Promise<boolean>;
  stop(): Promise<void>;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCEPT = [OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run the tests through \`npm test\` (scripts/test.mjs sets it)`);
  return v;
}

/** A one-file ustar archive, so the layer is a real (if tiny) image layer. */
function tarOneFile(name: string, content: Buffer): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s.slice(0, len), off, len, 'ascii');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${content.length.toString(8).padStart(11, '0')}\0`, 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8); // checksum is computed with this field as spaces
  put('0', 156, 1);
  put('ustar\0' + '00', 257, 8);
  const sum = h.reduce((a, b) => a + b, 0);
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([h, content, pad, Buffer.alloc(1024)]);
}

export async function startRegistry(): Promise<TestRegistry> {
  const bin = env('REGISTRY_BIN');
  const pki = env('TEST_PKI_DIR');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'test-registry-'));
  const config = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomUUID(), // avoids the "no http secret" warning
      tls: { certificate: join(pki, 'server.pem'), key: join(pki, 'server-key.pem') },
    },
  };
  writeFileSync(join(dir, 'config.yml'), stringify(config));

  const host = `localhost:${port}`;
  const endpoint = `https://${host}`;
  const child: ChildProcess = spawn(bin, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));

  const stop = async () => {
    if (!dead) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (dead) {
      await stop();
      throw new Error(`registry exited during startup:\n${output}`);
    }
    let last: unknown;
    try {
      const res = await fetch(`${endpoint}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200) break;
      last = `HTTP ${res.status}`;
    } catch (err) {
      // Jest runs tests in another realm, so check the error by shape, not instanceof.
      const cause = (err as { cause?: { code?: string } }).cause;
      last = cause ? `${String(err)}: ${String(cause)}` : err;
      if (/CERT|SELF_SIGNED|VERIFY/.test(cause?.code ?? '')) {
        await stop();
        throw new Error(
          `TLS to the test registry failed (${cause?.code}); NODE_EXTRA_CA_CERTS must name ${pki}/ca.pem`,
        );
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`registry at ${endpoint} not ready after 20s: ${String(last)}\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  async function call(method: string, path: string, init: RequestInit = {}, expect: number[] = [200]) {
    const url = path.startsWith('http') ? path : `${endpoint}${path}`;
    const res = await fetch(url, { method, ...init });
    if (!expect.includes(res.status)) {
      throw new Error(`${method} ${url} -> ${res.status}: ${await res.text()}`);
    }
    await res.arrayBuffer(); // drain so the keep-alive socket is reused, not leaked
    return res;
  }

  async function uploadBlob(repository: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const start = await call('POST', `/v2/${repository}/blobs/uploads/`, {}, [202]);
    const location = new URL(start.headers.get('location')!, endpoint);
    location.searchParams.set('digest', digest);
    await call(
      'PUT',
      location.href,
      {
        body: data,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      },
      [201],
    );
    return digest;
  }

  async function manifestDigest(repository: string, tag: string): Promise<string | undefined> {
    const res = await call('HEAD', `/v2/${repository}/manifests/${tag}`, { headers: { accept: ACCEPT } }, [200, 404]);
    return res.status === 200 ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
  }

  return {
    endpoint,
    host,
    stop,
    async pushImage(repository, tag) {
      const nonce = randomUUID();
      const tar = tarOneFile('nonce.txt', Buffer.from(`${repository}:${tag} ${nonce}\n`));
      const layer = gzipSync(tar);
      const cfg = Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Labels: { 'test.nonce': nonce } },
          rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
        }),
      );
      const cfgDigest = await uploadBlob(repository, cfg);
      const layerDigest = await uploadBlob(repository, layer);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfgDigest, size: cfg.length },
          layers: [
            { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length },
          ],
        }),
      );
      const res = await call(
        'PUT',
        `/v2/${repository}/manifests/${tag}`,
        {
          body: manifest,
          headers: { 'content-type': OCI_MANIFEST },
        },
        [201],
      );
      const digest = res.headers.get('docker-content-digest');
      if (digest !== sha256(manifest))
        throw new Error(`registry returned digest ${digest}, expected ${sha256(manifest)}`);
      return digest;
    },
    async hasImage(repository, tag) {
      return (await manifestDigest(repository, tag)) !== undefined;
    },
    async deleteImage(repository, tag) {
      // distribution v2 deletes by digest only; that also drops every tag pointing at it.
      const digest = await manifestDigest(repository, tag);
      if (!digest) throw new Error(`${repository}:${tag} is not in the test registry`);
      await call('DELETE', `/v2/${repository}/manifests/${digest}`, {}, [202]);
    },
  };
}
