import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ALARM_DEFAULTS } from './defaults';
import type { QueueWorker } from './queue-worker';

/** A function not fed by a queue (the Slack command, the drift scan). */
export interface AlarmedFunction {
  fn: lambda.IFunction;
  /** Alarm when Lambda throttles it: its reserved concurrency was all in use. */
  alarmOnThrottles?: boolean;
}

export interface PipelineAlarmsProps {
  /** Queue-fed functions: their errors, and the age of their queue's oldest message. */
  workers: Record<string, QueueWorker>;
  /** Every other function: its errors (and throttles when asked). */
  functions?: Record<string, AlarmedFunction>;
  deadLetterQueue: sqs.IQueue;
  /** Notified on ALARM and on OK. */
  alarmTopic?: sns.ITopic;
}

/**
 * What an operator must hear about: anything in the dead-letter queue (a permanent failure, or a
 * message that exhausted its retries), a function invocation that failed as a whole (a crash or a
 * timeout; record-level failures are partial batch responses, not errors), a queue whose oldest
 * message is getting old (stuck retries, or a consumer not keeping up), and a public-facing function
 * refusing requests because its reserved concurrency is used up (a flood, or too small a cap).
 */
export class PipelineAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: PipelineAlarmsProps) {
    super(scope, id);
    const period = ALARM_DEFAULTS.period;

    this.add(
      'DeadLetters',
      'Messages are waiting in the dead-letter queue: read their reason attribute, fix, then redrive',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      0,
    );
    for (const [name, worker] of Object.entries(props.workers)) {
      this.add(
        `${name}Errors`,
        `${name}: invocations failed as a whole (crash or timeout); their batches are retried`,
        worker.fn.metricErrors({ period, statistic: 'Sum' }),
        0,
      );
      this.add(
        `${name}OldestMessage`,
        `${name}: the oldest message of the work queue is older than ${ALARM_DEFAULTS.oldestMessageAge.toMinutes()} min`,
        worker.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' }),
        ALARM_DEFAULTS.oldestMessageAge.toSeconds(),
      );
    }
    for (const [name, { fn, alarmOnThrottles }] of Object.entries(props.functions ?? {})) {
      this.add(
        `${name}Errors`,
        `${name}: invocations failed (crash or timeout)`,
        fn.metricErrors({ period, statistic: 'Sum' }),
        0,
      );
      if (alarmOnThrottles) {
        this.add(
          `${name}Throttles`,
          `${name}: requests refused because its reserved concurrency was all in use ` +
            '(a flood of requests, or more users than it is sized for)',
          fn.metricThrottles({ period, statistic: 'Sum' }),
          0,
        );
      }
    }

    if (props.alarmTopic) {
      const action = new actions.SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  private add(id: string, description: string, metric: cloudwatch.IMetric, threshold: number): void {
    this.alarms.push(
      new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // No data means no traffic (SQS and Lambda publish nothing for idle resources).
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}
