// The change each kind of merge makes to the seeded yt-summarizer repository: small, believable
// edits of real files, different every time, so each merge is a new commit with a new diff.
import type { Origin } from '../harness/origin';
import type { ChangeKind } from './state';

export interface Change {
  files: Record<string, string>;
  /** A squash merge's message, as GitHub writes it: PR title (#number), then the PR body. */
  message: string;
}

const API = 'services/api/main.py';
const DEPLOYMENT = 'k8s/base/deployment.yaml';
const DOCS = 'docs/api.md';

/** services/api/main.py: bump API_VERSION, adding it and a /version endpoint the first time. */
function codeChange(source: string, pr: number): Change {
  const version = `1.${pr - 100}.0`;
  const next = /API_VERSION = "[^"]*"/.test(source)
    ? source.replace(/API_VERSION = "[^"]*"/, `API_VERSION = "${version}"`)
    : `${source.replace('app = FastAPI()\n', `API_VERSION = "${version}"\n\napp = FastAPI()\n`)}\n\n@app.get("/version")\ndef version():\n    return {"version": API_VERSION}\n`;
  return {
    files: { [API]: next },
    message: `feat(api): release ${version} (#${pr})\n\nServe the running version on GET /version so dashboards can show it.`,
  };
}

/** k8s/base/deployment.yaml: scale the API deployment (the first replicas: line) between 2 and 5. */
function k8sChange(source: string, pr: number): Change {
  const current = Number(/replicas: (\d+)/.exec(source)?.[1] ?? 2);
  const replicas = current >= 5 ? 2 : current + 1;
  return {
    files: { [DEPLOYMENT]: source.replace(/replicas: \d+/, `replicas: ${replicas}`) },
    message: `k8s(api): run ${replicas} replicas (#${pr})\n\nManifests only: production keeps its image tag.`,
  };
}

/** docs/api.md: one more documented endpoint note. */
function docsChange(source: string, pr: number): Change {
  return {
    files: {
      [DOCS]: `${source.trimEnd()}\n\n- ${new Date().toISOString().slice(0, 10)} (#${pr}): \`GET /summaries/{id}\` returns 404 until the summary is ready.\n`,
    },
    message: `docs(api): document summary polling (#${pr})`,
  };
}

/** The change of one merge (or, with `rev` a PR branch, of one push to it), made on top of `rev`. */
export async function makeChange(origin: Origin, kind: ChangeKind, pr: number, rev = 'main'): Promise<Change> {
  switch (kind) {
    case 'code':
      return codeChange(await origin.readAt(rev, API), pr);
    case 'k8s':
      return k8sChange(await origin.readAt(rev, DEPLOYMENT), pr);
    case 'docs':
      return docsChange(await origin.readAt(rev, DOCS), pr);
  }
}
