import { allHandlersFinished, condition, setHandler } from '@temporalio/workflow';
import { reportEventSignal, reportQuery, type ReportInput, type ReportResult } from '../contract/report';
import { Reporter } from './reporter';

/**
 * Reports one deploy, rollback or preview close where developers look: its GitHub Deployment and
 * statuses, the preview's pull request comment, and notifications. Started by the deploy (or the
 * environment) as an abandoned child, so the deploy closes when it is done, not when GitHub or a
 * chat sink is; it ends once it reported a final event and every delivery ended.
 */
export async function report(input: ReportInput): Promise<ReportResult> {
  const reporter = new Reporter(input);
  setHandler(reportEventSignal, (event) => reporter.add(event));
  setHandler(reportQuery, () => reporter.result);
  while (!reporter.finished) {
    await condition(() => reporter.pending);
    await reporter.next();
  }
  await reporter.delivered();
  await condition(allHandlersFinished);
  return reporter.result;
}
