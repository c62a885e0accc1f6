import type { Octokit } from '@octokit/rest';
import { requestFailure } from '../activities/failures';
import { fail, pass, type Outcome } from './check';
import { fixFor, problemOf } from './problems';

export interface CiCheckInput {
  octokit: Octokit;
  owner: string;
  repo: string;
  apiHost: string;
  /** ci.workflow: a file name (`ci.yml`), an id, or a display name (`CI`), as the wait-for-ci step reads it. */
  workflow: string;
}

interface Workflow {
  id: number;
  name: string;
  path: string;
  state: string;
}

/** The workflow the worker's CI probe lists runs of (src/activities/ci.ts): by file or id, else by display name. */
async function findWorkflow({ octokit, owner, repo, workflow }: CiCheckInput): Promise<Workflow | Workflow[]> {
  if (/\.ya?ml$|^\d+$/.test(workflow))
    return (await octokit.rest.actions.getWorkflow({ owner, repo, workflow_id: workflow })).data;
  const all = await octokit.paginate(octokit.rest.actions.listRepoWorkflows, { owner, repo, per_page: 100 });
  return all.find((w) => w.name === workflow) ?? all;
}

/** The CI workflow named in the config exists, is enabled, and the token may read Actions. */
export async function checkCiWorkflow(input: CiCheckInput): Promise<Outcome> {
  const { owner, repo, apiHost, workflow } = input;
  const repository = `${owner}/${repo}`;
  let found: Workflow | Workflow[];
  try {
    found = await findWorkflow(input);
  } catch (err) {
    const failure = requestFailure('GitHub', apiHost, err, {
      subject: `the Actions workflows of ${repository}`,
      notFound: `CI workflow "${workflow}" not found in ${repository} (GitHub answers 404 also to a token that may not read Actions)`,
    });
    const fix = fixFor(
      failure,
      'github.apiUrl',
      {
        NotFound:
          'set ci.workflow to the file name under .github/workflows (e.g. ci.yml) of the workflow that builds the images',
        Forbidden: 'give the token actions: read on the repository',
      },
      'the token needs actions: read on the repository',
    );
    return fail(problemOf(failure), fix);
  }
  if (Array.isArray(found)) {
    const names = found.slice(0, 8).map((w) => `"${w.name}" (${w.path.split('/').pop()})`);
    return fail(
      `no workflow named "${workflow}" in ${repository}`,
      'set ci.workflow to the file name or the display name of the workflow that builds the images',
      [names.length ? `its workflows: ${names.join(', ')}` : 'it has no Actions workflows'],
    );
  }
  const described = `${found.path.split('/').pop()} ("${found.name}")`;
  if (found.state !== 'active')
    return fail(
      `CI workflow ${described} is ${found.state.replace(/_/g, ' ')}: it will not build images`,
      `enable it: gh workflow enable ${found.id} --repo ${repository} (or the Actions tab, "Enable workflow")`,
    );
  return pass(`${described} in ${repository}: active, and the token may read its runs`);
}
