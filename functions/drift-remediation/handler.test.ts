import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { Fleet } from '#commons/workflows/drift/drift-fakes.test-support';
import { createDriftRemediationHandler, METRICS_NAMESPACE, parseScheduleInput } from './handler';
import { driftOptionsFromEnv } from './options-from-env';

let lines: string[];
let spy: jest.SpyInstance;
beforeEach(() => {
  lines = [];
  spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
});
afterEach(() => {
  spy.mockRestore();
});

async function run(event: unknown) {
  const fleet = new Fleet();
  await fleet.addCluster('a');
  await fleet.addCluster('b');
  await fleet.addPeering('a', 'b');
  fleet.cluster('a').mesh = undefined;
  fleet.cluster('b').failWith = new DOMException('timed out', 'TimeoutError');
  const handler = createDriftRemediationHandler({
    context: fleet.context(),
    logger: new Logger({ serviceName: 'drift-remediation', logLevel: 'INFO' }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'drift-remediation' }),
  });
  const summary = await handler(event, {} as Context);
  const json = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { fleet, summary, logs: json.filter((j) => !('_aws' in j)), emf: json.filter((j) => '_aws' in j) };
}

test('a scheduled run remediates and writes one summary line and its metrics', async () => {
  const { fleet, summary, logs, emf } = await run({ 'detail-type': 'Scheduled Event', detail: {} });
  expect(summary).toMatchObject({
    dryRun: false,
    clusters: 2,
    peerings: 1,
    unreachable: 1,
    findings: 2,
    findingsByKind: { 'mesh-config-missing': 1, 'cluster-unreachable': 1 },
    consulCalls: 8,
    published: 1,
    deletedSecrets: 0,
  });
  expect(summary.correlationId).toBe(fleet.events[0]?.correlationId);
  expect(logs).toHaveLength(1);
  expect(logs[0]).toMatchObject({
    level: 'INFO',
    message: 'drift run',
    findings: 2,
    publishedEvents: ['cluster.registered'],
  });

  const main = emf.find((e) => 'ClustersScanned' in e);
  expect(main).toMatchObject({
    ClustersScanned: 2,
    ClustersUnreachable: 1,
    DriftFindings: 2,
    RemediationEvents: 1,
  });
  expect(JSON.stringify(main)).toContain(`"Namespace":"${METRICS_NAMESPACE}"`);
  const byKind: Record<string, unknown> = Object.fromEntries(
    emf.filter((e) => 'DriftFindingsByKind' in e).map((e) => [String(e.kind), e.DriftFindingsByKind]),
  );
  expect(Object.keys(byKind)).toHaveLength(13);
  expect(byKind).toMatchObject({ 'mesh-config-missing': 1, 'cluster-unreachable': 1, 'peering-missing': 0 });
});

test('{"dryRun": true} reports without publishing', async () => {
  const { fleet, summary, emf } = await run({ dryRun: true });
  expect(summary).toMatchObject({ dryRun: true, findings: 2, published: 1 });
  expect(fleet.events).toEqual([]);
  expect(emf.find((e) => 'RemediationEvents' in e)).toMatchObject({ RemediationEvents: 0 });
});

test('a run that cannot finish writes one error line and a failure metric, then fails', async () => {
  const fleet = new Fleet();
  const context = fleet.context();
  context.secrets.list = () => Promise.reject(new Error('Secrets Manager ListSecrets failed: AccessDenied'));
  const handler = createDriftRemediationHandler({
    context,
    logger: new Logger({ serviceName: 'drift-remediation', logLevel: 'INFO' }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'drift-remediation' }),
  });
  const errors = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  try {
    await expect(handler({}, {} as Context)).rejects.toThrow(/AccessDenied/);
  } finally {
    errors.mockRestore();
  }
  const json = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(json.filter((j) => !('_aws' in j))).toMatchObject([{ level: 'ERROR', message: 'drift run failed' }]);
  expect(json.find((j) => '_aws' in j)).toMatchObject({ DriftRunFailed: 1 });
});

test('the schedule input is parsed at the edge', () => {
  expect(parseScheduleInput(undefined)).toEqual({ dryRun: false });
  expect(parseScheduleInput({ detail: { dryRun: true } })).toEqual({ dryRun: true });
  expect(() => parseScheduleInput({ dryRun: 'yes' })).toThrow(/invalid at "dryRun"/);
});

test('scan options come from the environment', () => {
  expect(driftOptionsFromEnv({})).toEqual({});
  expect(driftOptionsFromEnv({ DRIFT_SCAN_CONCURRENCY: '8', DRIFT_PENDING_TOO_LONG_MINUTES: '30' })).toEqual({
    concurrency: 8,
    pendingTooLongMs: 1_800_000,
  });
  expect(() => driftOptionsFromEnv({ DRIFT_SCAN_CONCURRENCY: '0' })).toThrow(/positive integer/);
});
