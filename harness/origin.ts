// A throwaway "GitHub" remote: a bare repo plus a working clone, seeded with the
// monorepo layout from docs/spec (services/, apps/web, k8s/ overlays, ...).
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startGitServer, type GitServer, type PreReceive } from './git-server';

export interface OriginOptions {
  /** Parent directory for the temp dir (default: os.tmpdir()). */
  root?: string;
  /** Registry host written into the prod overlay's newName fields. */
  registryHost?: string;
  /** Current production tag: `sha-abc1234` or a bare sha (first 7 hex used). */
  initialTag?: string;
  /** Also serve the origin over HTTPS (harness/git-server.ts), as GitHub does. */
  https?: {
    /** Required as the Basic password of x-access-token, like a GitHub installation token; absent: anonymous. */
    token?: string;
    /** The repository's path on the server, e.g. `owner/repo.git` (default `origin.git`). */
    path?: string;
    preReceive?: PreReceive;
  };
}

export interface LogEntry {
  sha: string;
  subject: string;
  body: string;
}

export interface Origin {
  bareDir: string;
  workDir: string;
  /** file:// URL of the bare repo, usable as a git remote; the helpers below push through it. */
  url: string;
  /** With the `https` option: the origin's https URL on `server`. */
  httpsUrl?: string;
  server?: GitServer;
  registryHost: string;
  initialTag: string;
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /** Commits on a branch (created from main's tip if new) and pushes it, as a PR author does. */
  commitOn(branch: string, files: Record<string, string | null>, message: string): Promise<string>;
  head(): Promise<string>;
  readAt(rev: string, path: string): Promise<string>;
  log(path?: string): Promise<LogEntry[]>;
  cleanup(): Promise<void>;
}

// Identity and config isolation so commits work without (and ignore) any global git config.
const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
};

export function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-c', 'commit.gpgsign=false', ...args],
      { cwd, env: GIT_ENV, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`git ${args.join(' ')} failed in ${cwd}: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

export function seedFiles(registryHost: string, tag: string): Record<string, string> {
  const deployment = (name: string, port?: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    app.kubernetes.io/name: ${name}
spec:
  replicas: 2
  progressDeadlineSeconds: 600
  selector:
    matchLabels:
      app.kubernetes.io/name: ${name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${name}
    spec:
      containers:
        - name: ${name.replace('yt-summarizer-', '')}
          image: ${name}  # tag set per overlay via kustomize images
${port ? `          ports:\n            - containerPort: ${port}\n` : ''}          envFrom:
            - configMapRef:
                name: yt-summarizer-config
`;
  return {
    'README.md': '# yt-summarizer\n\nSummarises YouTube videos. See docs/api.md.\n',
    'docs/api.md': '# API\n\n`POST /summaries` queues a video for transcription and summary.\n',
    'services/api/main.py':
      'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/healthz")\ndef healthz():\n    return {"ok": True}\n',
    'services/api/Dockerfile':
      'FROM python:3.12-slim\nWORKDIR /app\nCOPY services/api services/shared ./\nCMD ["uvicorn", "main:app", "--host", "0.0.0.0"]\n',
    'services/workers/transcribe.py': 'def transcribe(video_id: str) -> str:\n    raise NotImplementedError\n',
    'services/workers/Dockerfile':
      'FROM python:3.12-slim\nWORKDIR /app\nCOPY services/workers services/shared ./\nCMD ["python", "-m", "transcribe"]\n',
    'services/shared/db/models.py':
      'from dataclasses import dataclass\n\n\n@dataclass\nclass Video:\n    id: str\n    title: str\n',
    'apps/web/src/App.tsx': 'export default function App() {\n  return <h1>yt-summarizer</h1>;\n}\n',
    'apps/web/Dockerfile': 'FROM node:20-alpine\nWORKDIR /app\nCOPY apps/web ./\nRUN npm ci && npm run build\n',
    'k8s/base/deployment.yaml': `${deployment('yt-summarizer-api', 8000)}---\n${deployment('yt-summarizer-workers')}`,
    'k8s/base/kustomization.yaml':
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\nconfigMapGenerator:\n  - name: yt-summarizer-config\n    literals:\n      - LOG_LEVEL=info\n',
    'k8s/overlays/prod/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# Production overlay: image tags are written by gitops-deployer
namespace: yt-summarizer
resources:
  - ../../base
patches:
  - path: patches/configmap-patch.yaml
images:
  - name: yt-summarizer-api
    newName: ${registryHost}/yt-summarizer-api
    newTag: ${tag}  # current production
  - name: yt-summarizer-workers
    newName: ${registryHost}/yt-summarizer-workers
    newTag: ${tag}
`,
    'k8s/overlays/prod/patches/configmap-patch.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yt-summarizer-config\ndata:\n  LOG_LEVEL: warning\n',
    'k8s/overlays/preview/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# Preview overlay: gitops-deployer sets the tags on each pull request's branch
namespace: yt-summarizer-preview
resources:
  - ../../base
images:
  - name: yt-summarizer-api
    newName: ${registryHost}/yt-summarizer-api
    newTag: ${tag}
  - name: yt-summarizer-workers
    newName: ${registryHost}/yt-summarizer-workers
    newTag: ${tag}
`,
    'infra/terraform/main.tf':
      'resource "azurerm_container_registry" "acr" {\n  name = "acrytsummprd"\n  sku  = "Standard"\n}\n',
    '.github/workflows/ci.yml': `name: CI
on:
  push:
    branches: [main]
  pull_request:
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Build and push images
        run: |
          TAG=sha-\${GITHUB_SHA::7}
          for svc in api workers; do
            docker build -f services/$svc/Dockerfile -t ${registryHost}/yt-summarizer-$svc:$TAG .
            docker push ${registryHost}/yt-summarizer-$svc:$TAG
          done
`,
  };
}

async function writeTree(dir: string, files: Record<string, string | null>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const abs = join(dir, path);
    if (content === null) await rm(abs, { force: true });
    else {
      await mkdir(dirname(abs), { recursive: true });
      await writeFile(abs, content);
    }
  }
}

export async function createOrigin(opts: string | OriginOptions = {}): Promise<Origin> {
  const o: OriginOptions = typeof opts === 'string' ? { root: opts } : opts;
  const registryHost = o.registryHost ?? 'acrytsummprd.azurecr.io';
  const raw = o.initialTag ?? 'e43f28a';
  const initialTag = raw.startsWith('sha-') ? raw : `sha-${raw.slice(0, 7)}`;
  const dir = await mkdtemp(join(o.root ?? tmpdir(), 'origin-'));
  // Served: the bare repo under the server's root, at the path it is served at.
  const bareDir = o.https ? join(dir, 'served', ...(o.https.path ?? 'origin.git').split('/')) : join(dir, 'origin.git');
  const workDir = join(dir, 'work');
  const url = pathToFileURL(bareDir).href;

  await mkdir(dirname(bareDir), { recursive: true });
  await git(dir, ['init', '--bare', '-q', '-b', 'main', bareDir]);
  await git(dir, ['clone', '-q', url, workDir]);
  await git(workDir, ['checkout', '-q', '-B', 'main']);
  await writeTree(workDir, seedFiles(registryHost, initialTag));
  await git(workDir, ['add', '-A']);
  await git(workDir, ['commit', '-q', '-m', 'Initial import of yt-summarizer']);
  await git(workDir, ['push', '-q', 'origin', 'HEAD:refs/heads/main']);

  const server = o.https
    ? await startGitServer({ root: join(dir, 'served'), token: o.https.token, preReceive: o.https.preReceive })
    : undefined;
  const head = async () => (await git(bareDir, ['rev-parse', 'refs/heads/main'])).trim();

  // Others (the deployer under test) push to the bare repo too, so every commit
  // starts from origin's main; a lost push race is retried from the new tip.
  async function commit(files: Record<string, string | null>, message: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      await git(workDir, ['fetch', '-q', 'origin', 'main']);
      await git(workDir, ['reset', '-q', '--hard', 'origin/main']);
      await writeTree(workDir, files);
      await git(workDir, ['add', '-A']);
      await git(workDir, ['commit', '-q', '--allow-empty', '-m', message]);
      try {
        await git(workDir, ['push', '-q', 'origin', 'HEAD:refs/heads/main']);
        return (await git(workDir, ['rev-parse', 'HEAD'])).trim();
      } catch (err) {
        if (attempt >= 4) throw err;
      }
    }
  }

  async function commitOn(branch: string, files: Record<string, string | null>, message: string): Promise<string> {
    await git(workDir, ['fetch', '-q', 'origin']);
    const exists = (await git(bareDir, ['branch', '--list', branch])).trim() !== '';
    await git(workDir, ['checkout', '-q', '-B', branch, exists ? `origin/${branch}` : 'origin/main']);
    await writeTree(workDir, files);
    await git(workDir, ['add', '-A']);
    await git(workDir, ['commit', '-q', '--allow-empty', '-m', message]);
    await git(workDir, ['push', '-q', 'origin', `HEAD:refs/heads/${branch}`]);
    const sha = (await git(workDir, ['rev-parse', 'HEAD'])).trim();
    await git(workDir, ['checkout', '-q', '-B', 'main', 'origin/main']);
    return sha;
  }

  return {
    bareDir,
    workDir,
    url,
    httpsUrl: server?.urlFor(bareDir),
    server,
    registryHost,
    initialTag,
    commit,
    commitOn,
    head,
    readAt: (rev, path) => git(bareDir, ['show', `${rev}:${path}`]),
    async log(path) {
      const out = await git(bareDir, [
        'log',
        '--format=%H%x1f%s%x1f%b%x1e',
        'refs/heads/main',
        ...(path ? ['--', path] : []),
      ]);
      return out
        .split('\x1e')
        .map((r) => r.trim())
        .filter(Boolean)
        .map((r) => {
          const [sha, subject, body = ''] = r.split('\x1f');
          return { sha, subject, body: body.trim() };
        });
    },
    async cleanup() {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
