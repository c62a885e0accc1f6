/**
 * What a deploy goes to. Each kind is one row of the spec's comparison table (see plan/policy.ts):
 * `production` lives forever and only moves forward; a `preview` is one pull request's and ends
 * when it closes. A new kind (a staging environment production promotes from) is a new row.
 */
export type Target = { kind: 'production'; name: string } | { kind: 'preview'; pr: number };

/** How a person reads the target: `production`, `the preview of #7`. */
export function targetLabel(target: Target): string {
  return target.kind === 'preview' ? `the preview of #${target.pr}` : target.name;
}

/** The deployctl command that asks for this target's deploy of a commit again. */
export function deployCommand(target: Target, commit: string): string {
  return target.kind === 'preview'
    ? `deployctl preview --pr ${target.pr} --sha ${commit}`
    : `deployctl start --sha ${commit}`;
}

/** The environment workflow's summary in the Web UI, the same whoever starts it. */
export function environmentSummary(repository: string, target: Target): string {
  const name = target.kind === 'preview' ? `preview of #${target.pr}` : `${target.name} environment`;
  return `${name} of ${repository}: one overlay change at a time`;
}
