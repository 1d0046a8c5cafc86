/**
 * Progress lines for people watching the local pipeline (npm run demo, npm start, peerctl): one per
 * event the pipeline publishes, and one per retry or dead letter it logs.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types';
import type { PipelineEvent } from '#commons/events/index';
import { redactingReplacer } from '#commons/observability/redact';

export function describeEvent(event: PipelineEvent): string {
  switch (event.type) {
    case 'cluster.registered':
      return `cluster.registered      ${event.data.cluster.name} (onboard: gateway ACL token, ${event.data.gateway === undefined ? 'existing gateway' : `gateway ${event.data.gateway.wan.address}:${event.data.gateway.wan.port}`}, mesh config)`;
    case 'peering.requested':
      return `peering.requested       ${event.data.acceptor.name} accepts, ${event.data.dialer.name} dials${event.data.regenerateToken === true ? ' (new token)' : ''}${event.data.exportServices === undefined ? '' : `, exports ${event.data.exportServices.join(',') || 'none'}`}`;
    case 'peering.acceptor-ready':
      return `peering.acceptor-ready  ${event.data.acceptor.name} -> ${event.data.dialer.name}: token stored as ${event.data.tokenSecret} (version ${event.data.tokenVersion.slice(0, 8)}…), attempt ${event.data.attempt}`;
    case 'peering.established':
      return `peering.established     ${event.data.acceptor.name} ${event.data.acceptorState} / ${event.data.dialer.name} ${event.data.dialerState}`;
    case 'peering.failed':
      return `peering.failed          ${event.data.acceptor.name} -> ${event.data.dialer.name}: ${event.data.reason}: ${event.data.message}`;
  }
}

/**
 * The handlers' logger for the local pipeline: JSON logs only with --verbose (Powertools writes them to
 * stdout), and in any case progress lines: one per retry and dead letter, and one per new reason the
 * dialer gives for waiting (not one per re-check). Attributes go through the logger's redaction
 * first, like every log line. The pipeline gives each function a child logger, wrapped the same way.
 */
export function progressLogger(
  serviceName: string,
  verbose: boolean,
  out: { progress(line: string): void },
  maxDeliveries: number,
): Logger {
  const waitsShown = new Set<string>();
  const attributesOf = (extra: unknown): Record<string, unknown> =>
    typeof extra !== 'object' || extra === null || extra instanceof Error
      ? {}
      : (JSON.parse(JSON.stringify(extra, redactingReplacer)) as Record<string, unknown>);
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const messageOf = (input: LogItemMessage): string =>
    typeof input === 'string' ? input : JSON.stringify(input, redactingReplacer);
  const problemLine = (input: LogItemMessage, extra: unknown): string => {
    const message = messageOf(input);
    const { reason, error, receiveCount } = attributesOf(extra);
    const cause = `${text(reason) === '' ? '' : `${text(reason)}: `}${text(error)}`;
    if (message === 'will be retried')
      return `retry                   ${cause} (delivery ${text(receiveCount)} of ${maxDeliveries})`;
    if (message.startsWith('permanent failure')) return `dead-lettered           ${cause}`;
    return `warning                 ${message}${cause === '' ? '' : ` (${cause})`}`;
  };
  const wrap = (logger: Logger): Logger => {
    const [warn, error, info, createChild] = [
      logger.warn.bind(logger),
      logger.error.bind(logger),
      logger.info.bind(logger),
      logger.createChild.bind(logger),
    ];
    logger.warn = (input: LogItemMessage, ...extra: LogItemExtraInput): void => {
      out.progress(problemLine(input, extra[0]));
      warn(input, ...extra);
    };
    logger.error = (input: LogItemMessage, ...extra: LogItemExtraInput): void => {
      out.progress(problemLine(input, extra[0]));
      error(input, ...extra);
    };
    logger.info = (input: LogItemMessage, ...extra: LogItemExtraInput): void => {
      if (messageOf(input) === 'will check again') {
        const { reason, detail, delaySeconds } = attributesOf(extra[0]);
        const line = `waiting                 ${text(reason)}: ${text(detail)} (checked again every ${String(delaySeconds)} s)`;
        if (!waitsShown.has(line)) {
          waitsShown.add(line);
          out.progress(line);
        }
      }
      info(input, ...extra);
    };
    logger.createChild = (options) => wrap(createChild(options));
    return logger;
  };
  return wrap(
    new Logger({
      serviceName,
      logLevel: verbose ? 'INFO' : 'SILENT',
      jsonReplacerFn: redactingReplacer,
    }),
  );
}
