import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { performance } from 'node:perf_hooks';
import * as z from 'zod/mini';
import { ValidationError } from '#commons/errors';
import type { WorkflowContext } from '#commons/workflows/context';
import { DRIFT_KINDS, type DriftKind } from '#commons/workflows/drift/findings';
import { remediateDrift, scanDrift } from '#commons/workflows/drift/scan-drift';

export const METRICS_NAMESPACE = 'ConsulPeeringAutomation';
/** Findings listed in the summary line; the counts always cover them all. */
const LISTED_FINDINGS = 50;

/**
 * The schedule's input: EventBridge sends its own `Scheduled Event` envelope, or the rule's constant
 * input (`{"dryRun": true}`) instead. Both are read; anything else in them is ignored.
 */
const ScheduleInputSchema = z.object({
  dryRun: z.optional(z.boolean()),
  detail: z.optional(z.object({ dryRun: z.optional(z.boolean()) })),
});

export interface DriftScanOptions {
  concurrency?: number;
  pendingTooLongMs?: number;
}

export interface DriftRunSummary {
  dryRun: boolean;
  /** Shared by the events this run published; absent when it published none. */
  correlationId: string | undefined;
  clusters: number;
  peerings: number;
  unreachable: number;
  findings: number;
  findingsByKind: Partial<Record<DriftKind, number>>;
  consulCalls: number;
  published: number;
  deletedSecrets: number;
  durationMs: number;
}

/**
 * The scheduled drift run: scan, remediate (unless `dryRun`), then one summary log line and the
 * run's metrics (EMF, flushed by the middleware even when the run fails).
 */
export function createDriftRemediationHandler({
  context,
  logger,
  metrics,
  scan = {},
}: {
  context: WorkflowContext;
  logger: Logger;
  metrics: Metrics;
  scan?: DriftScanOptions;
}) {
  return middy<unknown, DriftRunSummary>()
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const started = performance.now();
      try {
        return await run(parseScheduleInput(event).dryRun, started);
      } catch (error) {
        // The run's one line, when it could not finish (the secret store failed, bad input).
        metrics.addMetric('DriftRunFailed', MetricUnit.Count, 1);
        logger.error('drift run failed', {
          error: error instanceof Error ? error.message : String(error),
          durationMs: Math.round(performance.now() - started),
        });
        throw error;
      }
    });

  async function run(dryRun: boolean, started: number): Promise<DriftRunSummary> {
    const report = await scanDrift(context, scan);
    const remediation = await remediateDrift(report, context, { dryRun });

    const byKind = Object.fromEntries(DRIFT_KINDS.map((kind) => [kind, 0])) as Record<DriftKind, number>;
    for (const finding of report.findings) byKind[finding.kind] += 1;
    const summary: DriftRunSummary = {
      dryRun,
      correlationId: remediation.published[0]?.correlationId,
      clusters: report.clusters,
      peerings: report.peerings,
      unreachable: byKind['cluster-unreachable'],
      findings: report.findings.length,
      findingsByKind: Object.fromEntries(Object.entries(byKind).filter(([, n]) => n > 0)),
      consulCalls: report.consulCalls,
      published: remediation.published.length,
      deletedSecrets: remediation.deletedSecrets.length,
      durationMs: Math.round(performance.now() - started),
    };
    logger.info('drift run', {
      ...summary,
      findingList: report.findings
        .slice(0, LISTED_FINDINGS)
        .map(({ kind, cluster, peer, detail }) => ({ kind, cluster, peer, detail })),
      publishedEvents: remediation.published.map((e) => e.type),
      deletedSecretNames: remediation.deletedSecrets,
    });

    metrics.addMetadata('dryRun', String(dryRun));
    metrics.addMetric('ClustersScanned', MetricUnit.Count, report.clusters);
    metrics.addMetric('ClustersUnreachable', MetricUnit.Count, summary.unreachable);
    metrics.addMetric('PeeringsScanned', MetricUnit.Count, report.peerings);
    metrics.addMetric('DriftFindings', MetricUnit.Count, summary.findings);
    metrics.addMetric('ConsulCalls', MetricUnit.Count, report.consulCalls);
    metrics.addMetric('RemediationEvents', MetricUnit.Count, dryRun ? 0 : summary.published);
    metrics.addMetric('DeletedSecrets', MetricUnit.Count, dryRun ? 0 : summary.deletedSecrets);
    metrics.addMetric('DriftRunDuration', MetricUnit.Milliseconds, summary.durationMs);
    // One value per kind, zeros included, so an alarm on any kind always has data.
    for (const kind of DRIFT_KINDS) {
      metrics
        .singleMetric()
        .addDimension('kind', kind)
        .addMetric('DriftFindingsByKind', MetricUnit.Count, byKind[kind]);
    }
    return summary;
  }
}

export function parseScheduleInput(event: unknown): { dryRun: boolean } {
  const parsed = z.safeParse(ScheduleInputSchema, event ?? {});
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join('.') ?? '';
    throw new ValidationError(
      `the drift run's input is invalid at "${field}": expected {"dryRun": boolean}`,
      field,
    );
  }
  return { dryRun: parsed.data.dryRun === true || parsed.data.detail?.dryRun === true };
}
