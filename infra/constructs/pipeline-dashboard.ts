import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ALARM_DEFAULTS } from './defaults';
import type { QueueWorker } from './queue-worker';

const period = ALARM_DEFAULTS.period;

/** A function not fed by a queue, with what it reports beyond Lambda's own metrics. */
export interface DashboardFunction {
  fn: lambda.Function;
  details: { title: string; metrics: cloudwatch.IMetric[] };
}

export interface PipelineDashboardProps {
  workers: Record<string, QueueWorker>;
  functions?: Record<string, DashboardFunction>;
  deadLetterQueue: sqs.IQueue;
  outcomeQueue: sqs.IQueue;
  alarms: cloudwatch.IAlarm[];
}

/**
 * One page for the pipeline: alarm states, then one row per queue-fed function (its queue and its
 * function), then one row per other function (its invocations, its duration, and its own metrics).
 */
export class PipelineDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queue: messages',
        left: [
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Outcomes queue (peering.established / peering.failed)',
        left: [
          props.outcomeQueue.metricNumberOfMessagesSent({ period }),
          props.outcomeQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        ],
        width: 12,
      }),
    );
    for (const [name, worker] of Object.entries(props.workers)) {
      const { fn, queue } = worker;
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${name}: queue`,
          left: [
            queue.metricNumberOfMessagesSent({ period }),
            queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
          ],
          right: [queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' })],
          width: 8,
        }),
        invocationsWidget(name, fn),
        durationWidget(name, fn),
      );
    }
    for (const [name, { fn, details }] of Object.entries(props.functions ?? {})) {
      this.dashboard.addWidgets(
        invocationsWidget(name, fn),
        durationWidget(name, fn),
        new cloudwatch.GraphWidget({ title: `${name}: ${details.title}`, left: details.metrics, width: 8 }),
      );
    }
  }
}

const invocationsWidget = (name: string, fn: lambda.Function): cloudwatch.GraphWidget =>
  new cloudwatch.GraphWidget({
    title: `${name}: invocations`,
    left: [fn.metricInvocations({ period }), fn.metricErrors({ period }), fn.metricThrottles({ period })],
    right: [fn.metric('ConcurrentExecutions', { period, statistic: 'Maximum' })],
    width: 8,
  });

const durationWidget = (name: string, fn: lambda.Function): cloudwatch.GraphWidget =>
  new cloudwatch.GraphWidget({
    title: `${name}: duration`,
    left: [
      fn.metricDuration({ period, statistic: 'p50' }),
      fn.metricDuration({ period, statistic: 'p99' }),
      fn.metricDuration({ period, statistic: 'Maximum' }),
    ],
    leftAnnotations: [{ value: fn.timeout?.toMilliseconds() ?? 0, label: 'timeout' }],
    width: 8,
  });
